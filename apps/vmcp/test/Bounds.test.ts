import { Agent, request } from "node:http"
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client"
import { manualSessionClock, type SessionClock } from "@vmcp-status/mcp"
import { eventually, type FixtureTool, startMcpBackend } from "@vmcp-status/testkit"
import { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { decodeConfig } from "../src/Config.ts"
import { makeBackendConnection } from "../src/gateway/BackendConnection.ts"
import { makeGateway } from "../src/gateway/Gateway.ts"
import { makeMcpEndpoint } from "../src/gateway/McpEndpoint.ts"
import { type HttpServer, startHttpServer } from "../src/server/HttpServer.ts"
import { startMcpProxy } from "./McpProxy.ts"

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined)
})

/** A gateway (backends, endpoint, HTTP server) on 127.0.0.1 over real backends, as `vmcp serve` wires it. */
const startGateway = async (
  backends: ReadonlyArray<Record<string, unknown>>,
  limits: Record<string, unknown>,
  options: { readonly clock?: SessionClock; readonly maxSessions?: number } = {}
) => {
  const config = Effect.runSync(
    decodeConfig(
      { calls: { timeout: "60s" }, listen: { maxSessions: options.maxSessions ?? 1000 }, limits, backends },
      "test"
    )
  )
  const connections = config.backends.map((b) =>
    makeBackendConnection(b, { maxResponseBytes: config.limits.maxResponseBytes })
  )
  const gateway = makeGateway(config, connections)
  cleanups.push(() => gateway.close())
  const endpoint = makeMcpEndpoint({
    name: "vmcp",
    version: "0.0.0",
    router: gateway,
    maxSessions: config.listen.maxSessions,
    limits: config.limits,
    ...(options.clock === undefined ? {} : { clock: options.clock })
  })
  cleanups.push(() => endpoint.close())
  const http: HttpServer = await startHttpServer({
    host: "127.0.0.1",
    port: 0,
    endpoint,
    ready: () => true,
    status: () => undefined
  })
  cleanups.push(() => http.close())
  for (const c of connections) {
    await c.listTools({ timeoutMs: 20_000 })
    gateway.setRoutable(c.name, true)
  }
  return { http, endpoint, gateway }
}

const connectClient = async (http: HttpServer) => {
  const client = new Client({ name: "test-client", version: "0.0.0" })
  await client.connect(new StreamableHTTPClientTransport(new URL(`${http.url}/mcp`)))
  cleanups.push(() => client.close())
  return client
}

const backend = async (tools: ReadonlyArray<FixtureTool>) => {
  const started = await startMcpBackend({ name: "web", tools })
  cleanups.push(() => started.close())
  return started
}

const text = (result: { content?: unknown }) => JSON.stringify(result.content)

describe("limits.maxResponseBytes", () => {
  it.each(["json", "sse"] as const)(
    "cuts off a %s answer larger than the bound mid-stream: a clear tool error, the connection dropped, the gateway healthy",
    async (kind) => {
      const real = await backend([{ name: "big", text: "small enough" }])
      const proxy = await startMcpProxy(real.url)
      cleanups.push(() => proxy.close())
      const { http } = await startGateway([{ name: "huge", transport: "streamable-http", url: proxy.url }], {
        maxResponseBytes: 1024 * 1024
      })
      const client = await connectClient(http)
      proxy.setMode({ endless: kind })
      const result = await client.callTool({ name: "huge_big" })
      expect(result.isError).toBe(true)
      expect(text(result)).toContain(
        "calling big on backend huge failed: response_too_large (response too large)"
      )
      expect(text(result)).toContain("exceeded limits.maxResponseBytes (1 MiB) and was cut off")
      // The answer never ends: the gateway read about the bound, then hung up.
      await eventually("the gateway to hang up on the endless answer", () =>
        proxy.endless().hungUp === 1 ? true : undefined
      )
      expect((await fetch(`${http.url}/healthz`)).status).toBe(200)
      proxy.setMode("forward")
      expect((await client.callTool({ name: "huge_big" })).content).toEqual([
        { type: "text", text: "small enough" }
      ])
    }
  )
})

describe("limits.maxConcurrentCalls and maxConcurrentCallsPerSession", () => {
  it("refuses a call past either bound at once with a JSON-RPC error naming the bound; the held calls finish", async () => {
    const real = await backend([{ name: "work", text: "done" }])
    const proxy = await startMcpProxy(real.url)
    cleanups.push(() => proxy.close())
    const { http } = await startGateway([{ name: "slow", transport: "streamable-http", url: proxy.url }], {
      maxConcurrentCalls: 3,
      maxConcurrentCallsPerSession: 2
    })
    const [a, b, c] = [await connectClient(http), await connectClient(http), await connectClient(http)]
    proxy.setMode("hold")
    const held = [a.callTool({ name: "slow_work" }), a.callTool({ name: "slow_work" })]
    await eventually("two calls held at the backend", () => (proxy.held() === 2 ? true : undefined), 20_000)
    await expect(a.callTool({ name: "slow_work" })).rejects.toThrow(
      /this session already has 2 tool calls in flight \(limits\.maxConcurrentCallsPerSession = 2\)/
    )
    held.push(b.callTool({ name: "slow_work" }))
    await eventually("three calls held at the backend", () => (proxy.held() === 3 ? true : undefined), 20_000)
    await expect(c.callTool({ name: "slow_work" })).rejects.toThrow(
      /the server has 3 tool calls in flight \(limits\.maxConcurrentCalls = 3\)/
    )
    expect(proxy.held()).toBe(3)
    proxy.setMode("forward")
    proxy.release()
    for (const result of await Promise.all(held))
      expect(result.content).toEqual([{ type: "text", text: "done" }])
    expect((await c.callTool({ name: "slow_work" })).content).toEqual([{ type: "text", text: "done" }])
  })
})

describe("limits.maxRequestBytesInFlight", () => {
  it("answers 503 to a request whose body would take the bytes in flight past the bound; small requests pass", async () => {
    const real = await backend([{ name: "work", text: "done" }])
    const proxy = await startMcpProxy(real.url)
    cleanups.push(() => proxy.close())
    const { http } = await startGateway([{ name: "slow", transport: "streamable-http", url: proxy.url }], {
      maxRequestBytesInFlight: 1024 * 1024
    })
    const [a, b] = [await connectClient(http), await connectClient(http)]
    const blob = "z".repeat(600_000)
    proxy.setMode("hold")
    const held = a.callTool({ name: "slow_work", arguments: { blob } })
    await eventually(
      "the big call held at the backend",
      () => (proxy.held() === 1 ? true : undefined),
      20_000
    )
    await expect(b.callTool({ name: "slow_work", arguments: { blob } })).rejects.toThrow(
      /bytes of requests in flight \(limits\.maxRequestBytesInFlight = 1048576\)/
    )
    await b.ping()
    proxy.setMode("forward")
    proxy.release()
    expect((await held).content).toEqual([{ type: "text", text: "done" }])
    expect((await b.callTool({ name: "slow_work", arguments: { blob } })).content).toEqual([
      { type: "text", text: "done" }
    ])
  })
})

describe("limits.maxConcurrentCallsPerSession for 2026-07-28 clients (no session)", () => {
  it("counts a per-request client's calls by its identity", async () => {
    const real = await backend([{ name: "work", text: "done" }])
    const proxy = await startMcpProxy(real.url)
    cleanups.push(() => proxy.close())
    const { http } = await startGateway([{ name: "slow", transport: "streamable-http", url: proxy.url }], {
      maxConcurrentCallsPerSession: 1
    })
    const modern = new Client(
      { name: "modern-client", version: "0.0.0" },
      { versionNegotiation: { mode: "auto" } }
    )
    await modern.connect(new StreamableHTTPClientTransport(new URL(`${http.url}/mcp`)))
    cleanups.push(() => modern.close())
    expect(modern.getProtocolEra()).toBe("modern")
    proxy.setMode("hold")
    const held = modern.callTool({ name: "slow_work" })
    await eventually("the call held at the backend", () => (proxy.held() === 1 ? true : undefined), 20_000)
    await expect(modern.callTool({ name: "slow_work" })).rejects.toThrow(
      /limits\.maxConcurrentCallsPerSession = 1/
    )
    proxy.setMode("forward")
    proxy.release()
    expect((await held).content).toEqual([{ type: "text", text: "done" }])
  })
})

/** `initialize` over plain HTTP from a given loopback address (another client identity). */
const initializeFrom = (http: HttpServer, agent: Agent): Promise<string> =>
  new Promise((resolve, reject) => {
    const body = JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "flood", version: "0" } }
    })
    const req = request(
      `${http.url}/mcp`,
      {
        method: "POST",
        agent,
        headers: { "content-type": "application/json", accept: "application/json, text/event-stream" }
      },
      (res) => {
        res.resume()
        res.on("end", () =>
          res.statusCode === 200
            ? resolve(String(res.headers["mcp-session-id"]))
            : reject(new Error(`initialize: HTTP ${res.statusCode}`))
        )
      }
    )
    req.on("error", reject)
    req.end(body)
  })

const pingOn = async (http: HttpServer, sessionId: string, agent: Agent): Promise<number> =>
  new Promise((resolve, reject) => {
    const req = request(
      `${http.url}/mcp`,
      {
        method: "POST",
        agent,
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          "mcp-session-id": sessionId,
          "mcp-protocol-version": "2025-06-18"
        }
      },
      (res) => {
        res.resume()
        res.on("end", () => resolve(res.statusCode ?? 0))
      }
    )
    req.on("error", reject)
    req.end(JSON.stringify({ jsonrpc: "2.0", id: 2, method: "ping" }))
  })

describe("limits.maxSessionsPerClient", () => {
  it("1 000 initialize from one client close only that client's oldest sessions, never another client's", async () => {
    const real = await backend([{ name: "echo", text: "still here" }])
    const { http, endpoint } = await startGateway(
      [{ name: "web", transport: "streamable-http", url: real.url }],
      {
        maxSessionsPerClient: 32
      }
    )
    const victim = await connectClient(http)
    // Another identity: the same loopback interface, another source address.
    const flooder = new Agent({ keepAlive: true, localAddress: "127.0.0.2", maxSockets: 8 })
    cleanups.push(async () => flooder.destroy())
    const first = await initializeFrom(http, flooder)
    for (let i = 0; i < 999; i += 8)
      await Promise.all(Array.from({ length: Math.min(8, 999 - i) }, () => initializeFrom(http, flooder)))
    expect(endpoint.sessionCount()).toBe(33)
    expect(await pingOn(http, first, flooder)).toBe(404)
    expect((await victim.callTool({ name: "web_echo" })).content).toEqual([
      { type: "text", text: "still here" }
    ])
  })

  it("at the server's maxSessions, the client holding the most sessions loses its oldest", async () => {
    const real = await backend([{ name: "echo", text: "still here" }])
    const { http, endpoint } = await startGateway(
      [{ name: "web", transport: "streamable-http", url: real.url }],
      { maxSessionsPerClient: 10 },
      { maxSessions: 4 }
    )
    const victim = await connectClient(http)
    const other = new Agent({ keepAlive: true, localAddress: "127.0.0.3" })
    cleanups.push(async () => other.destroy())
    const sessions = [
      await initializeFrom(http, other),
      await initializeFrom(http, other),
      await initializeFrom(http, other),
      await initializeFrom(http, other)
    ]
    expect(endpoint.sessionCount()).toBe(4)
    expect(await pingOn(http, sessions[0]!, other)).toBe(404)
    expect(await pingOn(http, sessions[3]!, other)).toBe(200)
    expect((await victim.callTool({ name: "web_echo" })).content).toEqual([
      { type: "text", text: "still here" }
    ])
  })
})

describe("limits.sessionIdleTimeout", () => {
  it("closes a session without a request for the timeout; a used one, or one with a call in flight, stays", async () => {
    const real = await backend([{ name: "work", text: "done" }])
    const proxy = await startMcpProxy(real.url)
    cleanups.push(() => proxy.close())
    const time = manualSessionClock(1_000_000)
    const { http, endpoint } = await startGateway(
      [{ name: "web", transport: "streamable-http", url: proxy.url }],
      { sessionIdleTimeout: "10m" },
      { clock: time.clock }
    )
    const idle = await connectClient(http)
    const used = await connectClient(http)
    const busy = await connectClient(http)
    time.advance(60_000)
    proxy.setMode("hold")
    const call = busy.callTool({ name: "web_work" })
    await eventually("the call held at the backend", () => (proxy.held() === 1 ? true : undefined), 20_000)
    time.advance(8 * 60_000)
    await used.ping()
    // idle: 12 min without a request; busy: 11 min, but its call is in flight; used: 3 min.
    time.advance(3 * 60_000)
    expect(endpoint.sessionCount()).toBe(2)
    await expect(idle.ping()).rejects.toThrow(/Session not found/)
    await used.ping()
    proxy.setMode("forward")
    proxy.release()
    expect((await call).content).toEqual([{ type: "text", text: "done" }])
    time.advance(10 * 60_000)
    expect(endpoint.sessionCount()).toBe(0)
  })
})

describe("tool error results from a backend", () => {
  it("reach the client redacted (the backend's secrets, tokens) and bounded like every backend message", async () => {
    const echoed = `upstream refused: {"authorization":"Bearer s3cret-token","x-api-key":"k3y-value"} ${"detail ".repeat(400)}`
    const real = await backend([{ name: "fail", text: echoed, isError: true }])
    const { http } = await startGateway(
      [
        {
          name: "web",
          transport: "streamable-http",
          url: real.url,
          headers: { authorization: "Bearer s3cret-token", "x-api-key": "k3y-value" }
        }
      ],
      {}
    )
    const client = await connectClient(http)
    const result = await client.callTool({ name: "web_fail" })
    expect(result.isError).toBe(true)
    const shown = text(result)
    expect(shown).toContain("upstream refused")
    expect(shown).not.toMatch(/s3cret-token|k3y-value/)
    expect(shown).toMatch(/more characters cut/)
    expect(shown.length).toBeLessThan(1000)
  })
})
