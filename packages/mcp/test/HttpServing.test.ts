import { createServer, type Server as NodeServer } from "node:http"
import type { AddressInfo } from "node:net"
import { Client, StreamableHTTPClientTransport, type Tool } from "@modelcontextprotocol/client"
import { McpServer, Server } from "@modelcontextprotocol/server"
import { afterEach, describe, expect, it } from "vitest"
import {
  type EvictionReason,
  type McpHttpServing,
  type McpHttpServingOptions,
  makeMcpHttpServing,
  manualSessionClock,
  SESSION_NOT_FOUND_RPC_CODE,
  type ServingContext
} from "../src/index.ts"

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined)
})

/** A promise and its resolver: a tool call the test holds until it lets go. */
const gate = () => {
  let open = () => {}
  const opened = new Promise<void>((resolve) => {
    open = resolve
  })
  return { opened, open }
}

/**
 * Serves a high-level `McpServer` with the tools in `tools` (read on every `tools/list`) on
 * 127.0.0.1, through the module's node handler. `held` makes the `hold` tool wait for its gate.
 */
const serve = async (options: Partial<McpHttpServingOptions> = {}) => {
  const tools = new Set(["echo"])
  const contexts: Array<ServingContext> = []
  const held = { gate: gate(), started: 0 }
  const serving: McpHttpServing = makeMcpHttpServing({
    createServer: (context) => {
      contexts.push(context)
      const server = new McpServer({ name: "serving-test", version: "1.0.0" })
      for (const name of tools)
        server.registerTool(name, { description: `the ${name} tool` }, () => ({
          content: [{ type: "text", text: `${name} from ${context.era}` }]
        }))
      server.registerTool("hold", { description: "answers once the test lets go" }, async () => {
        held.started++
        await held.gate.opened
        return { content: [{ type: "text", text: "released" }] }
      })
      return server
    },
    ...options
  })
  const http: NodeServer = createServer((req, res) => void serving.handle(req, res))
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve))
  const url = new URL(`http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`)
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        http.close(() => resolve())
        http.closeAllConnections()
      })
  )
  cleanups.push(() => serving.close())
  return { serving, url, tools, contexts, held }
}

const connect = async (
  url: URL,
  options: {
    readonly modern?: boolean
    readonly headers?: Record<string, string>
    readonly onTools?: (tools: ReadonlyArray<Tool>) => void
  } = {}
) => {
  const client = new Client(
    { name: "serving-test-client", version: "1.0.0" },
    {
      ...(options.modern === true ? { versionNegotiation: { mode: "auto" as const } } : {}),
      ...(options.onTools === undefined
        ? {}
        : {
            listChanged: {
              tools: {
                debounceMs: 0,
                onChanged: (error: Error | null, tools: Array<Tool> | null) => {
                  if (error === null && tools !== null) options.onTools?.(tools)
                }
              }
            }
          })
    }
  )
  const transport = new StreamableHTTPClientTransport(
    url,
    options.headers === undefined ? {} : { requestInit: { headers: options.headers } }
  )
  await client.connect(transport)
  cleanups.push(() => client.close())
  return { client, transport }
}

/** A raw 2025-era `ping` on a session: the HTTP status and the JSON-RPC error code, if any. */
const pingSession = async (url: URL, sessionId: string) => {
  const response = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-session-id": sessionId,
      "mcp-protocol-version": "2025-11-25"
    },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" })
  })
  const text = await response.text()
  const body = (
    response.headers.get("content-type")?.includes("application/json") ? JSON.parse(text) : {}
  ) as { error?: { code: number; message: string } }
  return { status: response.status, code: body.error?.code, message: body.error?.message }
}

const texts = (result: { content?: unknown }) =>
  (result.content as Array<{ text: string }>).map((c) => c.text)

describe("2025 era: sessions", () => {
  it("initialize opens a session (Mcp-Session-Id), calls use it, DELETE ends it, then 404 -32001", async () => {
    const { serving, url, contexts } = await serve()
    const { client, transport } = await connect(url)
    const sessionId = transport.sessionId
    expect(sessionId).toMatch(/^[0-9a-f-]{36}$/)
    expect(client.getProtocolEra()).toBe("legacy")
    expect(serving.sessionCount()).toBe(1)
    expect(contexts).toEqual([{ era: "2025", sessionId, client: "addr:127.0.0.1", authInfo: undefined }])
    expect(texts(await client.callTool({ name: "echo" }))).toEqual(["echo from 2025"])
    expect(await pingSession(url, sessionId!)).toMatchObject({ status: 200 })
    await transport.terminateSession()
    expect(serving.sessionCount()).toBe(0)
    expect(await pingSession(url, sessionId!)).toEqual({
      status: 404,
      code: SESSION_NOT_FOUND_RPC_CODE,
      message: "Session not found: initialize again"
    })
  })

  it("a request without Mcp-Session-Id other than initialize gets 400 and opens nothing", async () => {
    const { serving, url } = await serve()
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" })
    })
    expect(response.status).toBe(400)
    expect(await response.json()).toMatchObject({ error: { message: expect.stringContaining("initialize") } })
    expect(serving.sessionCount()).toBe(0)
  })

  it("list_changed reaches an open session's client, which lists the tools again", async () => {
    const { serving, url } = await serve()
    const seen: Array<Array<string>> = []
    await connect(url, { onTools: (list) => seen.push(list.map((t) => t.name)) })
    expect(seen).toEqual([])
    // Sent at once if the session's GET stream is open, else as soon as it opens.
    await serving.listChanged("tools")
    await expect.poll(() => seen).toEqual([["echo", "hold"]])
  })

  it("past maxSessionsPerClient a client loses its own least recently used session, never another client's", async () => {
    const evicted: Array<[string, EvictionReason]> = []
    const { serving, url } = await serve({
      maxSessionsPerClient: 2,
      clientIdentity: (req) => String(req.headers["x-client"]),
      onSessionEvicted: (id, reason) => evicted.push([id, reason])
    })
    const other = await connect(url, { headers: { "x-client": "bob" } })
    const first = await connect(url, { headers: { "x-client": "alice" } })
    await connect(url, { headers: { "x-client": "alice" } })
    await connect(url, { headers: { "x-client": "alice" } })
    expect(serving.sessionCount()).toBe(3)
    expect(evicted).toEqual([[first.transport.sessionId, "client-limit"]])
    expect(await pingSession(url, first.transport.sessionId!)).toMatchObject({ status: 404 })
    expect(texts(await other.client.callTool({ name: "echo" }))).toEqual(["echo from 2025"])
  })

  it("an idle session is closed after sessionIdleMs on the injected clock; a used one and one with a call in flight stay", async () => {
    const time = manualSessionClock(1_000_000)
    const evicted: Array<[string, EvictionReason]> = []
    const { serving, url, held } = await serve({
      sessionIdleMs: 10 * 60_000,
      clock: time.clock,
      onSessionEvicted: (id, reason) => evicted.push([id, reason])
    })
    const idle = await connect(url)
    const used = await connect(url)
    const busy = await connect(url)
    time.advance(60_000)
    const call = busy.client.callTool({ name: "hold" })
    await expect.poll(() => held.started).toBe(1)
    time.advance(8 * 60_000)
    await used.client.ping()
    // idle: 12 min without a request; busy: 11 min, but its call is in flight; used: 3 min.
    time.advance(3 * 60_000)
    expect(evicted).toEqual([[idle.transport.sessionId, "idle"]])
    expect(serving.sessionCount()).toBe(2)
    await expect(idle.client.ping()).rejects.toThrow(/Session not found/)
    held.gate.open()
    expect(texts(await call)).toEqual(["released"])
    // The answer counts as use: the busy session's idle time starts at its answer (minute 12).
    time.advance(9 * 60_000)
    expect(evicted.map(([id]) => id)).toEqual([idle.transport.sessionId, used.transport.sessionId])
    time.advance(2 * 60_000)
    expect(evicted.map(([id]) => id)).toEqual([
      idle.transport.sessionId,
      used.transport.sessionId,
      busy.transport.sessionId
    ])
    expect(serving.sessionCount()).toBe(0)
  })

  it("a session whose server did not declare prompts is not sent prompts/list_changed", async () => {
    // A low-level server with tools only: its client would have no handler for the prompts notice.
    const { serving, url } = await serve({
      createServer: () => {
        const server = new Server(
          { name: "tools-only", version: "1.0.0" },
          { capabilities: { tools: { listChanged: true } } }
        )
        server.setRequestHandler("tools/list", () => ({ tools: [] }))
        return server
      }
    })
    const { client } = await connect(url)
    const received: Array<string> = []
    client.fallbackNotificationHandler = async (notification) => {
      received.push(notification.method)
    }
    await serving.listChanged("prompts")
    await serving.listChanged("tools")
    // One stream, in order: had the prompts notice been sent, it would have come first.
    await expect.poll(() => received).toEqual(["notifications/tools/list_changed"])
  })
})

describe("2026-07 era: per request", () => {
  it("a 2026-07-28 client is served without a session, and list_changed reaches its subscriptions/listen stream", async () => {
    const { serving, url, contexts } = await serve()
    const seen: Array<Array<string>> = []
    const { client } = await connect(url, {
      modern: true,
      onTools: (list) => seen.push(list.map((t) => t.name))
    })
    expect(client.getProtocolEra()).toBe("modern")
    expect(texts(await client.callTool({ name: "echo" }))).toEqual(["echo from 2026-07"])
    expect(serving.sessionCount()).toBe(0)
    expect(contexts.every((c) => c.era === "2026-07" && c.client === "addr:127.0.0.1")).toBe(true)
    await expect.poll(() => client.autoOpenedSubscription !== undefined).toBe(true)
    expect(seen).toEqual([])
    await serving.listChanged("tools")
    await expect.poll(() => seen).toEqual([["echo", "hold"]])
  })
})

describe("error answers", () => {
  const initialize = {
    jsonrpc: "2.0",
    id: 1,
    method: "initialize",
    params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw", version: "1" } }
  }
  const post = (body: string) =>
    new Request("http://127.0.0.1/mcp", {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
      body
    })

  it("a server factory that throws: 500 with JSON-RPC -32603 internal error, never the error's text", async () => {
    const serving = makeMcpHttpServing({
      createServer: () => {
        throw new Error("db password is hunter2")
      }
    })
    cleanups.push(() => serving.close())
    const response = await serving.fetch(post(JSON.stringify(initialize)))
    expect(response.status).toBe(500)
    const text = await response.text()
    expect(JSON.parse(text)).toEqual({
      jsonrpc: "2.0",
      id: null,
      error: { code: -32603, message: "internal error" }
    })
    expect(text).not.toContain("hunter2")
    expect(serving.sessionCount()).toBe(0)
  })

  it("a body over 4 MiB through the fetch face: 413, no session", async () => {
    const { serving, contexts } = await serve()
    const huge = JSON.stringify({
      ...initialize,
      params: { ...initialize.params, pad: "x".repeat(4 * 1024 * 1024) }
    })
    const response = await serving.fetch(post(huge), { client: "alice" })
    expect(response.status).toBe(413)
    expect(serving.sessionCount()).toBe(0)
    // Under the bound the same face opens a session for the named client.
    expect((await serving.fetch(post(JSON.stringify(initialize)), { client: "alice" })).status).toBe(200)
    expect(serving.sessionCount()).toBe(1)
    expect(contexts).toEqual([expect.objectContaining({ era: "2025", client: "alice" })])
  })
})

describe("closing", () => {
  it("closes every session; a later request gets 503", async () => {
    const { serving, url } = await serve()
    const { transport } = await connect(url)
    await serving.close()
    expect(serving.sessionCount()).toBe(0)
    expect(await pingSession(url, transport.sessionId!)).toMatchObject({ status: 503 })
    await serving.close()
  })
})
