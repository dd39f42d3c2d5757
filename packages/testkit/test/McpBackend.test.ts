import { connect as netConnect } from "node:net"
import { assert, it as effectIt } from "@effect/vitest"
import {
  Client,
  ProtocolError,
  SdkHttpError,
  StreamableHTTPClientTransport,
  type Tool
} from "@modelcontextprotocol/client"
import { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import * as McpBackend from "../src/McpBackend.ts"
import { type McpBackendHandle, startMcpBackend } from "../src/McpBackend.ts"

const opened: Array<{ close: () => Promise<void> }> = []
afterEach(async () => {
  await Promise.allSettled(opened.splice(0).map((r) => r.close()))
})

const backend = async (options?: McpBackend.McpBackendOptions) => {
  const b = await startMcpBackend(options)
  opened.push(b)
  return b
}

const connect = async (
  b: McpBackendHandle,
  options: { token?: string; modern?: boolean; onTools?: (tools: ReadonlyArray<Tool>) => void } = {}
) => {
  const client = new Client(
    { name: "testkit-test", version: "1.0.0" },
    {
      ...(options.modern ? { versionNegotiation: { mode: "auto" as const } } : {}),
      ...(options.onTools
        ? {
            listChanged: {
              tools: {
                debounceMs: 0,
                onChanged: (error: Error | null, tools: Array<Tool> | null) => {
                  if (error === null && tools !== null) options.onTools?.(tools)
                }
              }
            }
          }
        : {})
    }
  )
  const transport = new StreamableHTTPClientTransport(
    new URL(b.url),
    options.token ? { requestInit: { headers: { authorization: `Bearer ${options.token}` } } } : {}
  )
  await client.connect(transport)
  opened.push(client)
  return client
}

const portAccepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = netConnect(port, "127.0.0.1")
    socket.once("connect", () => {
      socket.destroy()
      resolve(true)
    })
    socket.once("error", () => resolve(false))
  })

describe("MCP backend fixture (Streamable HTTP)", () => {
  it("serves its tools on 127.0.0.1 to a real MCP client", async () => {
    const b = await backend({
      tools: [
        { name: "search", text: "found" },
        { name: "broken", isError: true }
      ]
    })
    expect(b.url).toBe(`http://127.0.0.1:${b.port}/mcp`)
    const client = await connect(b)
    const { tools } = await client.listTools()
    expect(tools.map((t) => t.name)).toEqual(["search", "broken"])
    expect(await client.callTool({ name: "search", arguments: {} })).toMatchObject({
      content: [{ type: "text", text: "found" }]
    })
    expect(await client.callTool({ name: "broken", arguments: {} })).toMatchObject({ isError: true })
    await client.ping()
    expect(b.requestCounts()).toMatchObject({ initialize: 1, "tools/list": 1, "tools/call": 2, ping: 1 })
    expect(b.sessionCount()).toBe(1)
  })

  it("goes down (port closed, sessions gone) and comes back on the same port", async () => {
    const b = await backend()
    const before = await connect(b)
    await b.setMode("down")
    expect(await portAccepts(b.port)).toBe(false)
    expect(b.sessionCount()).toBe(0)
    await expect(connect(b)).rejects.toThrow(/fetch failed/)
    await b.setMode("up")
    expect(await portAccepts(b.port)).toBe(true)
    // The old session died with the "process": the server no longer knows it.
    await expect(before.ping()).rejects.toThrow(/404|Session not found/)
    const after = await connect(b)
    expect((await after.listTools()).tools.map((t) => t.name)).toEqual(["echo"])
  })

  it("can start down and come up later", async () => {
    const b = await backend({ mode: { kind: "down" } })
    expect(await portAccepts(b.port)).toBe(false)
    await b.setMode("up")
    await (await connect(b)).ping()
  })

  it("is slow: each request waits the delay, a client with a shorter timeout gives up", async () => {
    const b = await backend()
    const client = await connect(b)
    await b.setMode({ kind: "slow", delayMs: 300 })
    const started = performance.now()
    await client.ping()
    expect(performance.now() - started).toBeGreaterThanOrEqual(290)
    await expect(client.ping({ timeout: 50 })).rejects.toThrow(/timed out/i)
    await b.setMode("up")
    await client.ping()
  })

  it("fails with JSON-RPC errors, for every method or only the ones named", async () => {
    const b = await backend()
    const client = await connect(b)
    await b.setMode({ kind: "failing", code: -32000, message: "backend broken" })
    const error = await client.listTools().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ProtocolError)
    expect(error).toMatchObject({ code: -32000, message: expect.stringContaining("backend broken") })
    await expect(connect(b)).rejects.toThrow(/backend broken/)
    await b.setMode({ kind: "failing", methods: ["tools/list"] })
    await client.ping()
    await expect(client.listTools()).rejects.toMatchObject({ code: -32603 })
  })

  it("requires a bearer token: 401 without it, served with it", async () => {
    const b = await backend()
    await b.setMode({ kind: "auth", token: "s3cret" })
    const error = await connect(b).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(SdkHttpError)
    expect(error).toMatchObject({ status: 401 })
    await expect(connect(b, { token: "wrong" })).rejects.toMatchObject({ status: 401 })
    const raw = await fetch(b.url, {
      method: "POST",
      body: "{}",
      headers: { "content-type": "application/json" }
    })
    expect(raw.headers.get("www-authenticate")).toMatch(/^Bearer/)
    const client = await connect(b, { token: "s3cret" })
    await client.ping()
  })

  it("is rate-limited: 429 with Retry-After", async () => {
    const b = await backend()
    const client = await connect(b)
    await b.setMode({ kind: "rate-limited", retryAfterSeconds: 7 })
    await expect(client.ping()).rejects.toMatchObject({ status: 429 })
    const raw = await fetch(b.url, {
      method: "POST",
      body: "{}",
      headers: { "content-type": "application/json" }
    })
    expect(raw.status).toBe(429)
    expect(raw.headers.get("retry-after")).toBe("7")
    await b.setMode("up")
    await client.ping()
  })

  it("announces added and removed tools with notifications/tools/list_changed to 2025-era sessions", async () => {
    const b = await backend()
    const seen: Array<Array<string>> = []
    await connect(b, { onTools: (tools) => seen.push(tools.map((t) => t.name)) })
    await b.addTool({ name: "deploy" })
    await expect.poll(() => seen.at(-1)).toEqual(["echo", "deploy"])
    await b.removeTool("echo")
    await expect.poll(() => seen.at(-1)).toEqual(["deploy"])
  })

  it("announces tool changes to 2026-07-28 clients on their subscriptions/listen stream", async () => {
    const b = await backend()
    const seen: Array<Array<string>> = []
    const client = await connect(b, { modern: true, onTools: (tools) => seen.push(tools.map((t) => t.name)) })
    expect(b.requestCounts()["server/discover"]).toBe(1)
    expect(b.sessionCount()).toBe(0)
    await expect.poll(() => client.autoOpenedSubscription !== undefined).toBe(true)
    await b.addTool({ name: "deploy" })
    await expect.poll(() => seen.at(-1)).toEqual(["echo", "deploy"])
  })

  it("serves prompts and resources when given, and announces their changes to 2025-era sessions", async () => {
    const b = await backend({
      prompts: [{ name: "greet", arguments: ["who"], text: "hello {who}" }],
      resources: [{ uri: "docs://readme", name: "readme", text: "read me" }]
    })
    const seen = { prompts: [] as Array<Array<string>>, resources: [] as Array<Array<string>> }
    const client = new Client(
      { name: "testkit-test", version: "1.0.0" },
      {
        listChanged: {
          prompts: {
            debounceMs: 0,
            onChanged: (error, prompts) => {
              if (error === null && prompts !== null) seen.prompts.push(prompts.map((p) => p.name))
            }
          },
          resources: {
            debounceMs: 0,
            onChanged: (error, resources) => {
              if (error === null && resources !== null) seen.resources.push(resources.map((r) => r.uri))
            }
          }
        }
      }
    )
    await client.connect(new StreamableHTTPClientTransport(new URL(b.url)))
    opened.push(client)
    expect(client.getServerCapabilities()).toMatchObject({
      prompts: { listChanged: true },
      resources: { listChanged: true }
    })
    const greet = await client.getPrompt({ name: "greet", arguments: { who: "Ada" } })
    expect(greet.messages[0]?.content).toEqual({ type: "text", text: "hello Ada" })
    const read = await client.readResource({ uri: "docs://readme" }, { cacheMode: "bypass" })
    expect(read.contents).toEqual([{ uri: "docs://readme", text: "read me" }])
    await expect(client.readResource({ uri: "docs://nope" }, { cacheMode: "bypass" })).rejects.toThrow(
      ProtocolError
    )
    await b.addPrompt({ name: "bye" })
    await expect.poll(() => seen.prompts.at(-1)).toEqual(["greet", "bye"])
    await b.removeResource("docs://readme")
    await expect.poll(() => seen.resources.at(-1)).toEqual([])
    // Without them, only tools are advertised.
    const plain = await connect(await backend())
    expect(plain.getServerCapabilities()?.prompts).toBeUndefined()
    expect(plain.getServerCapabilities()?.resources).toBeUndefined()
  })

  it("closes its port and refuses mode changes once closed", async () => {
    const b = await startMcpBackend()
    await b.close()
    await b.close()
    expect(await portAccepts(b.port)).toBe(false)
    await expect(b.setMode("up")).rejects.toMatchObject({ _tag: "McpBackendError" })
  })
})

describe("MCP backend fixture (Effect API)", () => {
  effectIt.live("lives as long as its scope", () =>
    Effect.gen(function* () {
      const port = yield* Effect.scoped(
        Effect.gen(function* () {
          const b = yield* McpBackend.make({ tools: [{ name: "a" }] })
          yield* b.setMode({ kind: "rate-limited" })
          assert.deepStrictEqual(yield* b.mode, { kind: "rate-limited" })
          yield* b.setMode("up")
          const client = yield* Effect.promise(() => connect(b.handle))
          const { tools } = yield* Effect.promise(() => client.listTools())
          assert.deepStrictEqual(
            tools.map((t) => t.name),
            ["a"]
          )
          return b.port
        })
      )
      assert.isFalse(yield* Effect.promise(() => portAccepts(port)))
    })
  )
})
