import { Writable } from "node:stream"
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client"
import { type BackendHealth, deriveStatus } from "@vmcp-status/core"
import { type McpBackendHandle, startMcpBackend, stdioBackendCommand } from "@vmcp-status/testkit"
import { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { decodeConfig } from "../src/Config.ts"
import { runCli } from "../src/cli/Commands.ts"
import { makeBackendConnection } from "../src/gateway/BackendConnection.ts"
import { makeGateway } from "../src/gateway/Gateway.ts"
import { type McpEndpoint, makeMcpEndpoint } from "../src/gateway/McpEndpoint.ts"
import { type HttpServer, startHttpServer } from "../src/server/HttpServer.ts"

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

/** A notification counter whose `next()` resolves on the next notification: no polling. */
const notifications = () => {
  let waiting: Array<() => void> = []
  return {
    notify: () => {
      const ready = waiting
      waiting = []
      for (const resolve of ready) resolve()
    },
    next: () => new Promise<void>((resolve) => waiting.push(resolve))
  }
}

const setup = async () => {
  const web = await startMcpBackend({
    name: "web",
    tools: [{ name: "search", text: "found it" }, { name: "echo" }]
  })
  cleanups.push(() => web.close())
  const stdio = stdioBackendCommand({ name: "local", tools: [{ name: "echo", text: "local echo" }] })
  const config = Effect.runSync(
    decodeConfig(
      {
        calls: { timeout: "5s" },
        backends: [
          { name: "web", transport: "streamable-http", url: web.url },
          { name: "local", transport: "stdio", command: stdio.command, args: stdio.args }
        ]
      },
      "test"
    )
  )
  const connections = config.backends.map((b) => makeBackendConnection(b))
  // The endpoint is made over the gateway, so the gateway reaches it through this variable.
  let endpoint: McpEndpoint | undefined
  const gateway = makeGateway(config, connections, { announce: (kind) => endpoint?.listChanged(kind) })
  cleanups.push(() => gateway.close())
  endpoint = makeMcpEndpoint({ name: "vmcp", version: "0.0.0", router: gateway })
  const served = endpoint
  cleanups.push(() => served.close())
  const http: HttpServer = await startHttpServer({
    host: "127.0.0.1",
    port: 0,
    endpoint,
    ready: () => true,
    status: () => undefined
  })
  cleanups.push(() => http.close())
  for (const c of connections) {
    await c.listTools({ timeoutMs: 5000 })
    gateway.setRoutable(c.name, true)
  }
  const changes = notifications()
  const client = new Client(
    { name: "test-client", version: "0.0.0" },
    { listChanged: { tools: { autoRefresh: false, debounceMs: 0, onChanged: changes.notify } } }
  )
  await client.connect(new StreamableHTTPClientTransport(new URL(`${http.url}/mcp`)))
  cleanups.push(() => client.close())
  return { web: web as McpBackendHandle, gateway, client, http, changes }
}

describe("the aggregated endpoint", () => {
  it("lists the tools of HTTP and stdio backends, prefixed, and routes calls to the right one", async () => {
    const { client } = await setup()
    const { tools } = await client.listTools(undefined, { cacheMode: "bypass" })
    expect(tools.map((t) => t.name)).toEqual(["local_echo", "web_echo", "web_search"])
    const local = await client.callTool({ name: "local_echo" })
    expect(local.content).toEqual([{ type: "text", text: "local echo" }])
    const search = await client.callTool({ name: "web_search" })
    expect(search.content).toEqual([{ type: "text", text: "found it" }])
  })

  it("hides an unroutable backend's tools and announces tools/list_changed", async () => {
    const { client, gateway, changes } = await setup()
    const changed = changes.next()
    gateway.setRoutable("web", false)
    await changed
    const { tools } = await client.listTools(undefined, { cacheMode: "bypass" })
    expect(tools.map((t) => t.name)).toEqual(["local_echo"])
    await expect(client.callTool({ name: "web_search" })).rejects.toThrow(
      /not found or its backend is unavailable/
    )
  })

  it("a call that outlasts the backend's callTimeout ends as a tool error, and the backend stays usable", async () => {
    const slow = await startMcpBackend({ name: "slow", tools: [{ name: "work", text: "done" }] })
    cleanups.push(() => slow.close())
    const config = Effect.runSync(
      decodeConfig(
        { backends: [{ name: "slow", transport: "streamable-http", url: slow.url, callTimeout: "300ms" }] },
        "test"
      )
    )
    const gateway = makeGateway(
      config,
      config.backends.map((b) => makeBackendConnection(b))
    )
    cleanups.push(() => gateway.close())
    await gateway.connection("slow")!.listTools({ timeoutMs: 5000 })
    gateway.setRoutable("slow", true)
    await slow.setMode({ kind: "slow", delayMs: 1500 })
    const late = await gateway.call("slow_work", undefined, new AbortController().signal)
    expect(late.isError).toBe(true)
    expect(JSON.stringify(late.content)).toMatch(
      /calling work on backend slow failed: .*(timed out|timeout)/i
    )
    await slow.setMode("up")
    expect((await gateway.call("slow_work", undefined, new AbortController().signal)).content).toEqual([
      { type: "text", text: "done" }
    ])
  })

  it("a call to a backend that went away ends as a tool error naming the backend, not a hang", async () => {
    const { client, web } = await setup()
    await web.setMode("down")
    const result = await client.callTool({ name: "web_search" })
    expect(result.isError).toBe(true)
    expect(JSON.stringify(result.content)).toContain("on backend web failed")
    expect(JSON.stringify(result.content)).not.toContain("127.0.0.1")
  })

  it("serves 2026-07-28 clients too: per-request tools/list and tools/call, list_changed on subscriptions/listen", async () => {
    const { http, gateway } = await setup()
    const changes = notifications()
    const modern = new Client(
      { name: "modern-client", version: "0.0.0" },
      {
        versionNegotiation: { mode: "auto" },
        listChanged: { tools: { autoRefresh: false, debounceMs: 0, onChanged: changes.notify } }
      }
    )
    await modern.connect(new StreamableHTTPClientTransport(new URL(`${http.url}/mcp`)))
    cleanups.push(() => modern.close())
    expect(modern.getProtocolEra()).toBe("modern")
    const { tools } = await modern.listTools(undefined, { cacheMode: "bypass" })
    expect(tools.map((t) => t.name)).toEqual(["local_echo", "web_echo", "web_search"])
    expect((await modern.callTool({ name: "web_search" })).content).toEqual([
      { type: "text", text: "found it" }
    ])
    const changed = changes.next()
    gateway.setRoutable("local", false)
    await changed
  })

  it("sends configured headers with $VAR references from the environment, and a wrong token fails the probe", async () => {
    const secured = await startMcpBackend({ name: "secured", mode: { kind: "auth", token: "s3cret" } })
    cleanups.push(() => secured.close())
    const backend = (token: string) =>
      makeBackendConnection(
        {
          name: "secured",
          transport: "streamable-http",
          url: secured.url,
          args: [],
          env: {},
          // biome-ignore lint/suspicious/noTemplateCurlyInString: the config syntax under test
          headers: { Authorization: "Bearer ${SECURED_TOKEN}" }
        },
        { env: { SECURED_TOKEN: token } }
      )
    const good = backend("s3cret")
    cleanups.push(() => good.close())
    expect((await good.listTools({ timeoutMs: 5000 })).map((t) => t.name)).toEqual(["echo"])
    expect(good.displayUrl).toBe(secured.url)
    const bad = backend("wrong")
    cleanups.push(() => bad.close())
    await expect(bad.ping({ timeoutMs: 5000 })).rejects.toThrow()
  })

  it("vmcp status prints a running server's status: exit 0 when Ready, 1 when not, 3 when unreachable", async () => {
    const endpoint = makeMcpEndpoint({
      name: "vmcp",
      version: "0.0.0",
      router: { tools: () => [], call: async () => ({ content: [] }) }
    })
    const backend = (name: string, health: BackendHealth) => ({
      name,
      transport: "stdio" as const,
      health,
      message: health === "healthy" ? "" : "timeout (no answer within 1000 ms)",
      toolCount: 2,
      consecutiveFailures: health === "healthy" ? 0 : 3,
      circuit: "closed" as const,
      lastTransitionTime: "2026-11-27T23:00:00Z"
    })
    let current = deriveStatus({
      backends: [backend("clock", "healthy"), backend("echo", "unhealthy")],
      initialRoundComplete: true,
      now: "2026-11-27T23:00:00Z"
    })
    const http = await startHttpServer({
      host: "127.0.0.1",
      port: 0,
      endpoint,
      ready: () => true,
      status: () => current
    })
    cleanups.push(
      () => http.close(),
      () => endpoint.close()
    )
    let out = ""
    const io = {
      stdout: new Writable({
        write: (c, _e, done) => {
          out += String(c)
          done()
        }
      }),
      stderr: new Writable({ write: (_c, _e, done) => done() }),
      env: {}
    }
    expect(await runCli(["status", "--url", http.url], io)).toBe(1)
    expect(out).toBe(
      [
        "Degraded  1/2 backends healthy, 2 tools",
        "  clock  healthy          2 tools",
        "  echo   unhealthy        2 tools    timeout (no answer within 1000 ms)",
        "conditions: Ready=False (SomeBackendsUnhealthy), Degraded=True (SomeBackendsUnhealthy), Reconciling=False (Reconciled), Stalled=False (NotStalled), BackendsDiscovered=False (DiscoveryPending)",
        ""
      ].join("\n")
    )
    current = deriveStatus({
      backends: [backend("clock", "healthy")],
      initialRoundComplete: true,
      now: "2026-11-27T23:00:00Z"
    })
    expect(await runCli(["status", "--url", http.url, "--json"], io)).toBe(0)
    expect(await runCli(["status", "--url", "http://127.0.0.1:9"], io)).toBe(3)
  })

  it("keeps at most maxSessions 2025-era sessions, closing the least recently used", async () => {
    const endpoint = makeMcpEndpoint({
      name: "vmcp",
      version: "0.0.0",
      maxSessions: 2,
      router: { tools: () => [], call: async () => ({ content: [] }) }
    })
    const http = await startHttpServer({
      host: "127.0.0.1",
      port: 0,
      endpoint,
      ready: () => true,
      status: () => undefined
    })
    cleanups.push(
      () => http.close(),
      () => endpoint.close()
    )
    const connect = async () => {
      const client = new Client({ name: "c", version: "0.0.0" })
      await client.connect(new StreamableHTTPClientTransport(new URL(`${http.url}/mcp`)))
      cleanups.push(() => client.close())
      return client
    }
    const first = await connect()
    const second = await connect()
    await first.ping()
    await connect()
    expect(endpoint.sessionCount()).toBe(2)
    // `first` was used more recently than `second`, so `second` was closed.
    await first.ping()
    await expect(second.ping()).rejects.toThrow()
  })

  it("serves /healthz, /readyz and 404 elsewhere", async () => {
    const { http } = await setup()
    expect((await fetch(`${http.url}/healthz`)).status).toBe(200)
    expect((await fetch(`${http.url}/readyz`)).status).toBe(200)
    expect((await fetch(`${http.url}/status`)).status).toBe(503)
    expect((await fetch(`${http.url}/nope`)).status).toBe(404)
  })
})
