/**
 * What the HTTP server lets in and what `/readyz` says: the app (`runServer`, or its HTTP server
 * over a real gateway) on loopback, real MCP backends, the real MCP client, and plain `fetch` or
 * `node:http` for the requests a browser under DNS rebinding would make.
 */

import { request } from "node:http"
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client"
import { eventually, type McpBackendHandle, startMcpBackend } from "@vmcp-status/testkit"
import { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { decodeConfig } from "../src/Config.ts"
import { makeBackendConnection } from "../src/gateway/BackendConnection.ts"
import { makeGateway } from "../src/gateway/Gateway.ts"
import { makeMcpEndpoint } from "../src/gateway/McpEndpoint.ts"
import { listenEarly } from "../src/server/EarlyListen.ts"
import { startHttpServer } from "../src/server/HttpServer.ts"
import { serveInProcess, servingUrl } from "./inProcess.ts"

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

/** `vmcp serve` in this process, with a JSON log; resolves with its URL once it serves. */
const startApp = async (config: Record<string, unknown>): Promise<{ url: string }> => ({
  url: (await serveInProcess({ config, until: servingUrl, cleanups })).found
})

/** A request with a `Host` header of our choosing (`fetch` always sends the URL's). */
const getWithHost = (url: string, host: string): Promise<{ status: number; body: string }> =>
  new Promise((resolve, reject) => {
    const req = request(url, { headers: { host } }, (res) => {
      let body = ""
      res.setEncoding("utf8")
      res.on("data", (chunk: string) => {
        body += chunk
      })
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on("error", reject)
    req.end()
  })

const initialize = (url: string, origin?: string) =>
  fetch(`${url}/mcp`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      ...(origin === undefined ? {} : { origin })
    },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: {
        protocolVersion: "2025-06-18",
        capabilities: {},
        clientInfo: { name: "page", version: "0.0.0" }
      }
    })
  })

/** The app's HTTP server over a real gateway and one real backend, the endpoint in reach. */
const serveGateway = async (options: { allowedOrigins?: ReadonlyArray<string> } = {}) => {
  const web = await startMcpBackend({ name: "web", tools: [{ name: "search", text: "found it" }] })
  cleanups.push(() => web.close())
  const config = Effect.runSync(
    decodeConfig({ backends: [{ name: "web", transport: "streamable-http", url: web.url }] }, "test")
  )
  const connections = config.backends.map((b) => makeBackendConnection(b))
  const gateway = makeGateway(config, connections)
  cleanups.push(() => gateway.close())
  const endpoint = makeMcpEndpoint({ name: "vmcp", version: "0.0.0", router: gateway })
  cleanups.push(() => endpoint.close())
  const http = await startHttpServer({
    host: "127.0.0.1",
    port: 0,
    endpoint,
    ready: () => true,
    status: () => undefined,
    ...options
  })
  cleanups.push(() => http.close())
  await connections[0]!.listTools({ timeoutMs: 10_000 })
  gateway.setRoutable("web", true)
  return { http, endpoint }
}

const connectClient = async (url: string, origin?: string) => {
  const client = new Client({ name: "test-client", version: "0.0.0" })
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${url}/mcp`), {
      ...(origin === undefined ? {} : { requestInit: { headers: { origin } } })
    })
  )
  cleanups.push(() => client.close())
  return client
}

describe("Origin: a browser page from another site is refused (MCP Streamable HTTP, DNS rebinding)", () => {
  it("initialize from Origin http://evil.example gets 403 with a JSON-RPC error, and no session is made", async () => {
    const { http, endpoint } = await serveGateway()
    const response = await initialize(http.url, "http://evil.example")
    expect(response.status).toBe(403)
    expect(response.headers.get("mcp-session-id")).toBeNull()
    const body = (await response.json()) as {
      jsonrpc: string
      id: null
      error: { code: number; message: string }
    }
    expect(body).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32000 } })
    expect(body.error.message).toMatch(/Origin/)
    expect(endpoint.sessionCount()).toBe(0)
  })

  it("tools/call on an open session from a foreign Origin gets 403 and reaches no backend", async () => {
    const { http } = await serveGateway()
    const client = await connectClient(http.url)
    const sessionId = (client.transport as StreamableHTTPClientTransport).sessionId!
    const response = await fetch(`${http.url}/mcp`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        "mcp-session-id": sessionId,
        "mcp-protocol-version": "2025-06-18",
        origin: "http://evil.example"
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "web_search" } })
    })
    expect(response.status).toBe(403)
    expect(JSON.stringify(await response.json())).not.toContain("found it")
  })

  it("loopback origins are served; requests without an Origin too", async () => {
    const { http, endpoint } = await serveGateway()
    const port = new URL(http.url).port
    for (const origin of [`http://localhost:${port}`, "http://127.0.0.1", "http://[::1]:3000"]) {
      const response = await initialize(http.url, origin)
      expect(response.status, origin).toBe(200)
      await response.body?.cancel()
    }
    const client = await connectClient(http.url, `http://localhost:${port}`)
    expect((await client.callTool({ name: "web_search" })).content).toEqual([
      { type: "text", text: "found it" }
    ])
    await connectClient(http.url)
    expect(endpoint.sessionCount()).toBe(5)
  })

  it("an origin in listen.allowedOrigins is served, exactly that origin", async () => {
    const app = await startApp({ listen: { port: 0, allowedOrigins: ["https://console.example"] } })
    const client = await connectClient(app.url, "https://console.example")
    expect(await client.listTools()).toEqual({ tools: [] })
    const otherPort = await initialize(app.url, "https://console.example:8443")
    expect(otherPort.status).toBe(403)
    expect((await initialize(app.url, "http://evil.example")).status).toBe(403)
    const status = await fetch(`${app.url}/status`, { headers: { origin: "http://evil.example" } })
    expect(status.status).toBe(403)
    expect(await status.text()).toMatch(/Origin/)
  })
})

describe("Host: on a loopback listener every route answers loopback Host values only", () => {
  it("/status, /metrics, /healthz and /mcp with Host: evil.example get 403; Host: localhost is served", async () => {
    const app = await startApp({})
    for (const path of ["/status", "/metrics", "/healthz", "/readyz", "/mcp"]) {
      const response = await getWithHost(`${app.url}${path}`, "evil.example")
      expect(response.status, path).toBe(403)
    }
    const port = new URL(app.url).port
    expect((await getWithHost(`${app.url}/metrics`, `localhost:${port}`)).status).toBe(200)
    expect((await getWithHost(`${app.url}/healthz`, `127.0.0.1:${port}`)).status).toBe(200)
  })
})

describe("/readyz: traffic only to a replica that can route something", () => {
  it("is 503 with a reason while every backend is down (Failed), 200 with one of two down (Degraded), 200 after recovery", async () => {
    const alpha: McpBackendHandle = await startMcpBackend({ name: "alpha", tools: [{ name: "search" }] })
    const beta: McpBackendHandle = await startMcpBackend({ name: "beta", tools: [{ name: "lookup" }] })
    cleanups.push(
      () => alpha.close(),
      () => beta.close()
    )
    const app = await startApp({
      // Probe bounds, not speed limits; a 1 s circuit so that a backend that comes back is seen at
      // once (the default opens it for 60 s after 5 failures).
      health: {
        interval: "200ms",
        timeout: "20s",
        slowThreshold: "15s",
        unhealthyThreshold: 1,
        circuitBreaker: { openDuration: "1s", maxOpenDuration: "2s" }
      },
      backends: [
        { name: "alpha", transport: "streamable-http", url: alpha.url },
        { name: "beta", transport: "streamable-http", url: beta.url }
      ]
    })
    const phase = (want: string) =>
      eventually(`phase ${want}`, async () => {
        const response = await fetch(`${app.url}/status`)
        if (response.status !== 200) return undefined
        return ((await response.json()) as { phase: string }).phase === want ? want : undefined
      })
    await phase("Ready")
    expect((await fetch(`${app.url}/readyz`)).status).toBe(200)

    await alpha.setMode("down")
    await phase("Degraded")
    expect((await fetch(`${app.url}/readyz`)).status).toBe(200)

    await beta.setMode("down")
    await phase("Failed")
    const failed = await fetch(`${app.url}/readyz`)
    expect(failed.status).toBe(503)
    expect(failed.headers.get("content-type")).toMatch(/application\/json/)
    expect(await failed.json()).toEqual({
      ready: false,
      phase: "Failed",
      reason: "no backend is routable (0 of 2)"
    })

    await alpha.setMode("up")
    await phase("Degraded")
    const recovered = await fetch(`${app.url}/readyz`)
    expect(recovered.status).toBe(200)
    expect(await recovered.json()).toEqual({ ready: true, phase: "Degraded" })
  })

  it("a replica with no backends is ready", async () => {
    const app = await startApp({})
    await eventually("ready", async () =>
      (await fetch(`${app.url}/readyz`)).status === 200 ? true : undefined
    )
    expect(await (await fetch(`${app.url}/readyz`)).json()).toEqual({ ready: true, phase: "Ready" })
  })
})

describe("listenEarly: the listeners answer before the server has loaded", () => {
  const target = { host: "127.0.0.1", port: 0 }
  const bound = (server: import("node:http").Server) =>
    `http://127.0.0.1:${(server.address() as import("node:net").AddressInfo).port}`

  it("/healthz 200, /readyz 503 starting, /mcp 503 with a JSON-RPC error and retry-after; a foreign Origin 403", async () => {
    const early = await listenEarly(target, target)
    if (early === undefined) throw new Error("could not bind loopback port 0")
    cleanups.push(early.close)
    for (const server of [early.main, early.admin]) {
      const url = bound(server)
      const healthz = await fetch(`${url}/healthz`)
      expect([healthz.status, await healthz.text()]).toEqual([200, "ok\n"])
      const readyz = await fetch(`${url}/readyz`)
      expect(readyz.status).toBe(503)
      expect(await readyz.json()).toEqual({ ready: false, reason: "starting" })
      const mcp = await initialize(url)
      expect(mcp.status).toBe(503)
      expect(mcp.headers.get("retry-after")).toBe("1")
      expect(await mcp.json()).toMatchObject({ jsonrpc: "2.0", error: { code: -32000 } })
      expect((await initialize(url, "http://evil.example")).status).toBe(403)
    }
  })

  it("startHttpServer takes a listener over on the same port: its routes answer from then on", async () => {
    const early = await listenEarly(target, target)
    if (early === undefined) throw new Error("could not bind loopback port 0")
    cleanups.push(early.close)
    const before = bound(early.admin)
    expect((await fetch(`${before}/readyz`)).status).toBe(503)
    const http = await startHttpServer({
      ...target,
      server: early.admin,
      role: "admin",
      ready: () => true,
      status: () => undefined
    })
    cleanups.push(http.close)
    expect(http.url).toBe(before)
    const readyz = await fetch(`${before}/readyz`)
    expect(readyz.status).toBe(200)
    expect(await readyz.json()).toEqual({ ready: true })
    expect((await fetch(`${before}/status`)).status).toBe(503)
    // Closing the early listeners leaves the adopted one to its new owner, and closes the other.
    await early.close()
    expect((await fetch(`${before}/healthz`)).status).toBe(200)
    expect(early.main.listening).toBe(false)
    await http.close()
    expect(early.admin.listening).toBe(false)
  })

  it("a taken port: nothing stays bound, and the caller learns it by `undefined`", async () => {
    const taken = await listenEarly(target, target)
    if (taken === undefined) throw new Error("could not bind loopback port 0")
    cleanups.push(taken.close)
    const adminPort = (taken.admin.address() as import("node:net").AddressInfo).port
    const probe = await listenEarly(target, target)
    if (probe === undefined) throw new Error("could not bind loopback port 0")
    const mainPort = (probe.main.address() as import("node:net").AddressInfo).port
    await probe.close()
    // The main port binds, the admin one is taken: the main one must be released again.
    const early = await listenEarly(
      { host: "127.0.0.1", port: mainPort },
      { host: "127.0.0.1", port: adminPort }
    )
    expect(early).toBeUndefined()
    const again = await listenEarly({ host: "127.0.0.1", port: mainPort }, target)
    expect(again).toBeDefined()
    await again?.close()
  })
})
