import { createServer, type Server as NodeServer } from "node:http"
import type { AddressInfo } from "node:net"
import { Client, StreamableHTTPClientTransport, type Tool } from "@modelcontextprotocol/client"
import { McpServer, ProtocolError, Server } from "@modelcontextprotocol/server"
import { afterEach, describe, expect, it } from "vitest"
import {
  type DirectCallContext,
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
  // Tool calls the SDK servers ran (the direct path's never reach them).
  const sdkCalls: Array<string> = []
  const serving: McpHttpServing = makeMcpHttpServing({
    createServer: (context) => {
      contexts.push(context)
      const server = new McpServer({ name: "serving-test", version: "1.0.0" })
      for (const name of tools)
        server.registerTool(name, { description: `the ${name} tool` }, () => {
          sdkCalls.push(name)
          return { content: [{ type: "text", text: `${name} from ${context.era}` }] }
        })
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
  return { serving, url, tools, contexts, held, sdkCalls }
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

/** The headers of a raw 2025-era POST on a session, as the SDK client sends them. */
const sessionHeaders = (sessionId: string): Record<string, string> => ({
  "content-type": "application/json",
  accept: "application/json, text/event-stream",
  "mcp-session-id": sessionId,
  "mcp-protocol-version": "2025-11-25"
})

/** A raw 2025-era `ping` on a session: the HTTP status and the JSON-RPC error code, if any. */
const pingSession = async (url: URL, sessionId: string) => {
  const response = await fetch(url, {
    method: "POST",
    headers: sessionHeaders(sessionId),
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

describe("direct path (options.direct)", () => {
  /** A direct `tools/call` answering as the SDK servers of `serve` do; `hold` waits for its gate. */
  const directServe = async (options: Partial<McpHttpServingOptions> = {}) => {
    const calls: Array<{ params: unknown; context: DirectCallContext }> = []
    const held = gate()
    const served = await serve({
      direct: {
        "tools/call": async (params, context) => {
          calls.push({ params, context })
          if (params.name === "hold") {
            await Promise.race([
              held.opened,
              new Promise((resolve) => context.signal.addEventListener("abort", resolve))
            ])
            return { content: [{ type: "text", text: "released" }] }
          }
          if (params.name === "refuse")
            throw new ProtocolError(-32000, "vmcp: 8 calls in flight", { limit: "limits.maxConcurrentCalls" })
          if (params.name === "crash") throw new Error("db password is hunter2")
          return { content: [{ type: "text", text: `${String(params.name)} from 2025` }] }
        }
      },
      ...options
    })
    return { ...served, calls, held }
  }

  /** A raw POST on a session: status, content type and the JSON-RPC message (SSE or JSON). */
  const post = async (url: URL, sessionId: string, body: unknown, headers: Record<string, string> = {}) => {
    const response = await fetch(url, {
      method: "POST",
      headers: { ...sessionHeaders(sessionId), ...headers },
      body: JSON.stringify(body)
    })
    const text = await response.text()
    const type = response.headers.get("content-type") ?? ""
    const json = type.includes("text/event-stream")
      ? text
          .split("\n")
          .filter((line) => line.startsWith("data: ") && line.length > 6)
          .map((line) => JSON.parse(line.slice(6)) as unknown)[0]
      : type.includes("application/json")
        ? (JSON.parse(text) as unknown)
        : undefined
    return { status: response.status, type, json }
  }
  const toolCall = (id: number, name: string, args?: unknown) => ({
    jsonrpc: "2.0",
    id,
    method: "tools/call",
    params: { name, ...(args === undefined ? {} : { arguments: args }) }
  })

  it("a clean tools/call is answered by the direct handler, with what the SDK path answers", async () => {
    const direct = await directServe()
    const sdk = await serve()
    const viaDirect = await connect(direct.url)
    const viaSdk = await connect(sdk.url)
    const args = { message: "hi" }
    const fromDirect = await viaDirect.client.callTool({ name: "echo", arguments: args })
    const fromSdk = await viaSdk.client.callTool({ name: "echo", arguments: args })
    expect(fromDirect).toEqual(fromSdk)
    expect(texts(fromDirect)).toEqual(["echo from 2025"])
    expect(direct.sdkCalls).toEqual([])
    expect(sdk.sdkCalls).toEqual(["echo"])
    const sessionId = viaDirect.transport.sessionId!
    expect(direct.calls).toEqual([
      {
        params: { name: "echo", arguments: args },
        context: {
          signal: expect.any(AbortSignal),
          serving: { era: "2025", sessionId, client: "addr:127.0.0.1", authInfo: undefined },
          authInfo: undefined,
          requestId: expect.any(Number)
        }
      }
    ])
    // One JSON write, with the session's id, as the SDK's SSE answer carries it.
    const raw = await post(direct.url, sessionId, toolCall(41, "echo"))
    expect(raw).toEqual({
      status: 200,
      type: "application/json",
      json: { jsonrpc: "2.0", id: 41, result: { content: [{ type: "text", text: "echo from 2025" }] } }
    })
    expect(direct.calls).toHaveLength(2)
  })

  it("a handler's ProtocolError reaches the client with its code, message and data, as the SDK answers it", async () => {
    // The same error thrown by an SDK server's tools/call handler, for the SDK's own answer.
    const sdk = await serve({
      createServer: () => {
        const server = new Server({ name: "refusing", version: "1.0.0" }, { capabilities: { tools: {} } })
        server.setRequestHandler("tools/call", () => {
          throw new ProtocolError(-32000, "vmcp: 8 calls in flight", { limit: "limits.maxConcurrentCalls" })
        })
        return server
      }
    })
    const direct = await directServe()
    const viaSdk = await connect(sdk.url)
    const viaDirect = await connect(direct.url)
    const sdkAnswer = await post(sdk.url, viaSdk.transport.sessionId!, toolCall(5, "refuse"))
    const directAnswer = await post(direct.url, viaDirect.transport.sessionId!, toolCall(5, "refuse"))
    expect(sdkAnswer.type).toBe("text/event-stream")
    expect(directAnswer.type).toBe("application/json")
    expect(directAnswer.json).toEqual(sdkAnswer.json)
    expect(directAnswer.json).toMatchObject({
      id: 5,
      error: { code: -32000, data: { limit: "limits.maxConcurrentCalls" } }
    })
    const refused = await viaDirect.client.callTool({ name: "refuse" }).catch((error: unknown) => error)
    expect(refused).toBeInstanceOf(ProtocolError)
    expect(refused).toMatchObject({ code: -32000, data: { limit: "limits.maxConcurrentCalls" } })
    expect((refused as Error).message).toContain("vmcp: 8 calls in flight")
    // Any other error: -32603, never its text.
    const crashed = await post(direct.url, viaDirect.transport.sessionId!, toolCall(6, "crash"))
    expect(crashed.json).toEqual({
      jsonrpc: "2.0",
      id: 6,
      error: { code: -32603, message: "internal error" }
    })
  })

  it("anything not clean goes the SDK path: unknown session, batch, other methods, bad params, Accept", async () => {
    const { url, calls, sdkCalls } = await directServe()
    const { transport } = await connect(url)
    const sessionId = transport.sessionId!
    expect(await post(url, "00000000-0000-0000-0000-000000000000", toolCall(1, "echo"))).toMatchObject({
      status: 404,
      json: { error: { code: SESSION_NOT_FOUND_RPC_CODE } }
    })
    const batch = await post(url, sessionId, [toolCall(2, "echo")])
    expect(batch).toMatchObject({ status: 200, type: "text/event-stream", json: { id: 2 } })
    expect(sdkCalls).toEqual(["echo"])
    const list = await post(url, sessionId, { jsonrpc: "2.0", id: 3, method: "tools/list" })
    expect(list).toMatchObject({
      type: "text/event-stream",
      json: { id: 3, result: { tools: expect.any(Array) } }
    })
    const badArguments = await post(url, sessionId, toolCall(4, "echo", "not an object"))
    expect(badArguments).toMatchObject({
      type: "text/event-stream",
      json: { id: 4, error: expect.any(Object) }
    })
    const sseOnly = await post(url, sessionId, toolCall(5, "echo"), { accept: "application/json" })
    expect(sseOnly).toMatchObject({ status: 406, json: { error: { code: -32000 } } })
    const badVersion = await post(url, sessionId, toolCall(6, "echo"), {
      "mcp-protocol-version": "1999-01-01"
    })
    expect(badVersion).toMatchObject({
      status: 400,
      json: { error: { message: expect.stringContaining("1999-01-01") } }
    })
    const notJson = await fetch(url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        "mcp-session-id": sessionId
      },
      body: "{not json"
    })
    expect(notJson.status).toBe(400)
    expect(await notJson.json()).toMatchObject({ error: { code: -32700 } })
    expect(calls).toEqual([])
  })

  it("the client aborting a call aborts the handler's signal; a raw notifications/cancelled gets 202", async () => {
    const { url, calls } = await directServe()
    const { client, transport } = await connect(url)
    const abort = new AbortController()
    const call = client.callTool({ name: "hold" }, { signal: abort.signal })
    await expect.poll(() => calls.length).toBe(1)
    abort.abort()
    await expect(call).rejects.toThrow()
    await expect.poll(() => calls[0]!.context.signal.aborted).toBe(true)
    // Cancelled by notification alone: the pending POST ends 202 (no JSON-RPC answer).
    const pending = post(url, transport.sessionId!, toolCall(77, "hold"))
    await expect.poll(() => calls.length).toBe(2)
    const cancel = await post(url, transport.sessionId!, {
      jsonrpc: "2.0",
      method: "notifications/cancelled",
      params: { requestId: 77, reason: "user" }
    })
    expect(cancel.status).toBe(202)
    expect(calls[1]!.context.signal.aborted).toBe(true)
    expect((calls[1]!.context.signal.reason as Error).message).toBe("the client cancelled the request")
    expect(await pending).toMatchObject({ status: 202, json: undefined })
  })

  it("the connection closing aborts the handler's signal; a DELETE answers a call in flight 404 -32001", async () => {
    const { url, calls } = await directServe()
    const { transport } = await connect(url)
    const sessionId = transport.sessionId!
    const gone = new AbortController()
    const dropped = fetch(url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        "mcp-session-id": sessionId
      },
      body: JSON.stringify(toolCall(1, "hold")),
      signal: gone.signal
    }).catch(() => "aborted")
    await expect.poll(() => calls.length).toBe(1)
    gone.abort()
    expect(await dropped).toBe("aborted")
    await expect.poll(() => calls[0]!.context.signal.aborted).toBe(true)
    expect((calls[0]!.context.signal.reason as Error).message).toBe("the client closed the connection")
    const pending = post(url, sessionId, toolCall(2, "hold"))
    await expect.poll(() => calls.length).toBe(2)
    await transport.terminateSession()
    expect(await pending).toMatchObject({
      status: 404,
      json: { error: { code: SESSION_NOT_FOUND_RPC_CODE } }
    })
    expect((calls[1]!.context.signal.reason as Error).message).toBe("the session ended")
  })

  it("a session with a direct call in flight is not idle-expired; its answer starts a fresh idle time", async () => {
    const time = manualSessionClock(1_000_000)
    const evicted: Array<string> = []
    const { url, calls, held, serving } = await directServe({
      sessionIdleMs: 10 * 60_000,
      clock: time.clock,
      onSessionEvicted: (id) => evicted.push(id)
    })
    const idle = await connect(url)
    const busy = await connect(url)
    const call = busy.client.callTool({ name: "hold" })
    await expect.poll(() => calls.length).toBe(1)
    time.advance(11 * 60_000)
    expect(evicted).toEqual([idle.transport.sessionId])
    held.open()
    expect(texts(await call)).toEqual(["released"])
    time.advance(9 * 60_000)
    expect(serving.sessionCount()).toBe(1)
    time.advance(2 * 60_000)
    expect(evicted).toEqual([idle.transport.sessionId, busy.transport.sessionId])
  })

  it("close() aborts direct calls in flight; a later request gets 503", async () => {
    const { url, calls, serving } = await directServe()
    const { client, transport } = await connect(url)
    const call = client.callTool({ name: "hold" }).catch((error: unknown) => error)
    await expect.poll(() => calls.length).toBe(1)
    await serving.close()
    expect(calls[0]!.context.signal.aborted).toBe(true)
    expect(await call).toBeInstanceOf(Error)
    expect(await post(url, transport.sessionId!, toolCall(9, "echo"))).toMatchObject({ status: 503 })
    expect(calls).toHaveLength(1)
  })
})
