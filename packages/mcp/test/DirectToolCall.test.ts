/**
 * `tools/call` over Streamable HTTP takes the direct path (one `node:http` POST on the SDK
 * client's session) and behaves as the SDK client's `callTool` does: the same results, the same
 * errors, the same cancellation. Against a real SDK server on loopback (`fixtures/httpServer.ts`)
 * that answers SSE, or JSON (`enableJsonResponse`), with or without sessions. Each test waits
 * for events (a handler starting, its signal aborting, the server seeing a hang-up), never a clock.
 */
import {
  type CallToolResult,
  type FetchLike,
  LATEST_PROTOCOL_VERSION,
  ProtocolError
} from "@modelcontextprotocol/client"
import { afterEach, describe, expect, it } from "vitest"
import {
  type BackendSession,
  type HttpTransportOptions,
  makeBackendSession,
  RESPONSE_TOO_LARGE,
  RESPONSE_TOO_LARGE_RPC_CODE,
  ResponseTooLargeError
} from "../src/index.ts"
import { type HttpFixture, type HttpFixtureOptions, startHttpFixture } from "./fixtures/httpServer.ts"

const clientInfo = { name: "mcp-test", version: "0.0.0" }
/** The `user-agent` of each `tools/call` the server saw: `node` from undici's `fetch` (the SDK path), none from the direct path. */
const agents = (server: HttpFixture) => server.callHeaders.map((h) => h["user-agent"])
const BOUND = { timeoutMs: 30_000 }

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

const fixture = async (options: HttpFixtureOptions = {}): Promise<HttpFixture> => {
  const server = await startHttpFixture(["echo"], options)
  cleanups.push(() => server.close())
  return server
}

/** A session whose `fetch` counts the requests the SDK client sends through it. */
const session = (
  server: HttpFixture,
  transport: Partial<HttpTransportOptions> = {}
): { readonly session: BackendSession; readonly fetched: () => number } => {
  let fetched = 0
  const counting: FetchLike = (url, init) => {
    fetched++
    return fetch(url, init)
  }
  const made = makeBackendSession({
    name: "remote",
    transport: { type: "streamable-http", url: server.url, fetch: counting, ...transport },
    clientInfo
  })
  cleanups.push(() => made.close())
  return { session: made, fetched: () => fetched }
}
/** Takes the direct path: its `fetch` is only for the SDK's own requests. */
const direct = (server: HttpFixture, transport: Partial<HttpTransportOptions> = {}) =>
  session(server, { maxResponseBytes: 16 * 1024 * 1024, ...transport })
/** Takes the SDK path: a `fetch` of its own without `maxResponseBytes` sees every request. */
const viaSdk = (server: HttpFixture) => session(server)

/** A promise and its resolve function, to wait for a handler's events. */
const deferred = <A = void>() => {
  let resolve!: (value: A) => void
  const promise = new Promise<A>((r) => {
    resolve = r
  })
  return { promise, resolve }
}

const rich = {
  content: [
    { type: "text" as const, text: "héllo\nwörld" },
    { type: "image" as const, data: "aGk=", mimeType: "image/png" }
  ],
  structuredContent: { answer: 42, nested: { list: [1, "two", null] } },
  _meta: { "example.com/trace": "abc" }
}

/** A tool that answers never: `started` once called, `cancelled` once its signal aborts. */
const hangsUntilCancelled = () => {
  const started = deferred()
  const cancelled = deferred()
  const call = (_name: string, _args: unknown, { signal }: { readonly signal: AbortSignal }) =>
    new Promise<never>((_, reject) => {
      started.resolve()
      signal.addEventListener("abort", () => {
        cancelled.resolve()
        reject(new Error("cancelled"))
      })
    })
  return { started, cancelled, tool: call }
}

describe("a direct tools/call", () => {
  it.each(["sse", "json"] as const)(
    "returns what the SDK path returns (%s answers), without going through fetch",
    async (kind) => {
      const server = await fixture({
        json: kind === "json",
        call: (name, args) => ({ ...rich, _meta: { name, args } })
      })
      const fast = direct(server)
      const sdk = viaSdk(server)
      await fast.session.started()
      await sdk.session.started()
      const [fetchedFast, fetchedSdk] = [fast.fetched(), sdk.fetched()]
      const a = await fast.session.callTool("echo", { x: 1 }, BOUND)
      const b = await sdk.session.callTool("echo", { x: 1 }, BOUND)
      expect(a).toEqual({ ...rich, _meta: { name: "echo", args: { x: 1 } } })
      expect(a).toEqual(b)
      expect(fast.fetched()).toBe(fetchedFast)
      expect(sdk.fetched()).toBe(fetchedSdk + 1)
      // Both reached the server, on one session each.
      expect(server.requests.filter((r) => r === "POST tools/call")).toHaveLength(2)
      expect(server.sessionCount()).toBe(2)
    }
  )

  it("a result without content gets content [], as through the SDK", async () => {
    const server = await fixture({ call: () => ({ _meta: { only: "meta" } }) as unknown as CallToolResult })
    const a = await direct(server).session.callTool("echo", {}, BOUND)
    const b = await viaSdk(server).session.callTool("echo", {}, BOUND)
    expect(a).toEqual({ _meta: { only: "meta" }, content: [] })
    expect(a).toEqual(b)
    expect(agents(server)).toEqual([undefined, "node"])
  })

  it("a target without fetch takes the direct path too; one with fetch and no bound does not", async () => {
    const server = await fixture()
    const plain = makeBackendSession({
      name: "plain",
      transport: { type: "streamable-http", url: server.url },
      clientInfo
    })
    cleanups.push(() => plain.close())
    const sdk = viaSdk(server)
    await plain.callTool("echo", {}, BOUND)
    await sdk.session.callTool("echo", {}, BOUND)
    // undici's fetch says `user-agent: node`; the direct path's node:http request says nothing.
    expect(agents(server)).toEqual([undefined, "node"])
  })

  it("sends the session's id, its negotiated protocol version and the configured headers", async () => {
    const server = await fixture()
    const fast = direct(server, { headers: { Authorization: "Bearer t0ken", "X-Tenant": "a" } })
    await fast.session.callTool("echo", {}, BOUND)
    expect(server.sessionCount()).toBe(1)
    expect(server.callHeaders[0]).toMatchObject({
      authorization: "Bearer t0ken",
      "x-tenant": "a",
      "mcp-session-id": expect.stringMatching(/^[0-9a-f-]{36}$/),
      "mcp-protocol-version": LATEST_PROTOCOL_VERSION,
      "content-type": "application/json",
      accept: "application/json, text/event-stream"
    })
  })

  it("a stateless backend (no session id) answers direct calls", async () => {
    const server = await fixture({
      stateless: true,
      call: (name) => ({ content: [{ type: "text", text: `${name} stateless` }] })
    })
    const fast = direct(server)
    expect(await fast.session.callTool("echo", undefined, BOUND)).toEqual({
      content: [{ type: "text", text: "echo stateless" }]
    })
    expect(await fast.session.callTool("echo", undefined, BOUND)).toEqual({
      content: [{ type: "text", text: "echo stateless" }]
    })
    expect(server.sessionCount()).toBe(0)
    expect(server.callHeaders[0]?.["mcp-session-id"]).toBeUndefined()
    expect(agents(server)).toEqual([undefined, undefined])
  })

  it.each(["sse", "json"] as const)(
    "a JSON-RPC error answer (%s) is the SDK's ProtocolError with code, message and data; the session stays",
    async (kind) => {
      const server = await fixture({
        json: kind === "json",
        call: () => {
          throw new ProtocolError(-32602, "bad arguments", { field: "x" })
        }
      })
      const fast = direct(server)
      const sdk = viaSdk(server)
      const a = await fast.session.callTool("echo", {}, BOUND).catch((e: unknown) => e)
      const b = await sdk.session.callTool("echo", {}, BOUND).catch((e: unknown) => e)
      expect(a).toBeInstanceOf(ProtocolError)
      expect(a).toMatchObject({ code: -32602, data: { field: "x" } })
      expect((a as Error).message).toBe((b as Error).message)
      expect(a).toMatchObject({ code: (b as ProtocolError).code, data: (b as ProtocolError).data })
      expect(fast.session.lifecycle().phase).toBe("ready")
      expect(fast.session.generation()).toBe(1)
      expect(agents(server)).toEqual([undefined, "node"])
    }
  )

  it("a session the server ended (404) fails the call, names the status, and the next call reconnects", async () => {
    const server = await fixture()
    const fast = direct(server, { headers: { authorization: "Bearer s3cret-token" } })
    await fast.session.callTool("echo", {}, BOUND)
    await server.forgetSessions()
    const error = await fast.session.callTool("echo", {}, BOUND).catch((e: unknown) => e)
    expect(error).toMatchObject({ status: 404 })
    expect(String((error as Error).message)).toContain("HTTP 404")
    expect(String((error as Error).message)).not.toContain("s3cret")
    expect(fast.session.lifecycle().phase).toBe("idle")
    expect(await fast.session.callTool("echo", {}, BOUND)).toEqual({
      content: [{ type: "text", text: "echo ok" }]
    })
    expect(fast.session.generation()).toBe(2)
    expect(server.requests.filter((r) => r === "POST initialize")).toHaveLength(2)
  })

  it("another HTTP error status fails the call naming the status, never the headers or the body", async () => {
    const server = await fixture()
    const fast = direct(server, { headers: { authorization: "Bearer s3cret-token" } })
    await fast.session.started()
    server.setCallStatus(503)
    const error = await fast.session.callTool("echo", {}, BOUND).catch((e: unknown) => e)
    expect(error).toMatchObject({ status: 503, message: "Error POSTing to endpoint: HTTP 503" })
    expect(JSON.stringify(error)).not.toContain("s3cret")
    // Like any transport failure on the SDK path: the session is dropped, the next call reopens one.
    expect(fast.session.lifecycle().phase).toBe("idle")
    server.setCallStatus(undefined)
    expect(await fast.session.callTool("echo", {}, BOUND)).toEqual({
      content: [{ type: "text", text: "echo ok" }]
    })
    expect(fast.session.generation()).toBe(2)
  })

  it("times out as the SDK does (REQUEST_TIMEOUT), and the backend's handler is cancelled", async () => {
    const { started, cancelled, tool } = hangsUntilCancelled()
    const server = await fixture({ call: tool })
    const fast = direct(server)
    await fast.session.started()
    const error = await fast.session.callTool("echo", {}, { timeoutMs: 300 }).catch((e: unknown) => e)
    await started.promise
    expect(error).toMatchObject({ code: "REQUEST_TIMEOUT", message: "Request timed out" })
    await cancelled.promise
    expect(server.requests).toContain("POST notifications/cancelled")
    expect(agents(server)).toEqual([undefined])
    // A timeout says nothing against the session.
    expect(fast.session.lifecycle().phase).toBe("ready")
    expect(fast.session.generation()).toBe(1)
  })

  it("an abort ends the call at once and the backend's handler sees its signal aborted", async () => {
    const { started, cancelled, tool } = hangsUntilCancelled()
    const server = await fixture({ call: tool })
    const fast = direct(server)
    const controller = new AbortController()
    const call = fast.session
      .callTool("echo", {}, { timeoutMs: 60_000, signal: controller.signal })
      .catch((e: unknown) => e)
    await started.promise
    controller.abort()
    expect(await call).toMatchObject({ code: "REQUEST_TIMEOUT" })
    await cancelled.promise
    expect(fast.session.generation()).toBe(1)
    expect(agents(server)).toEqual([undefined])
  })

  it("a request from the server on the answer's stream is answered by the SDK client (ping)", async () => {
    const server = await fixture({
      call: async (_name, _args, { ping }) => ({
        content: [{ type: "text", text: JSON.stringify(await ping()) }]
      })
    })
    const fast = direct(server)
    expect(await fast.session.callTool("echo", {}, BOUND)).toEqual({
      content: [{ type: "text", text: "{}" }]
    })
    // The client's answer went back as a POST of its own.
    expect(server.requests.filter((r) => r === "POST -")).toHaveLength(1)
    expect(agents(server)).toEqual([undefined])
  })
})

describe("a direct tools/call's answer past maxResponseBytes", () => {
  const MiB = 1024 * 1024

  it("a JSON answer over the bound fails with ResponseTooLargeError; the session is dropped as after the SDK path's", async () => {
    const server = await fixture({
      json: true,
      call: () => ({ content: [{ type: "text", text: "x".repeat(2 * MiB) }] })
    })
    const fast = direct(server, { maxResponseBytes: MiB })
    const error = await fast.session.callTool("echo", {}, BOUND).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ResponseTooLargeError)
    expect(error).toMatchObject({ code: RESPONSE_TOO_LARGE, limitBytes: MiB })
    expect((error as Error).message).toContain("exceeded limits.maxResponseBytes (1 MiB) and was cut off")
    expect(fast.session.lifecycle().phase).toBe("idle")
  })

  it("an SSE event over the bound fails with the JSON-RPC error the SDK path gives; the session stays", async () => {
    const server = await fixture({ call: () => ({ content: [{ type: "text", text: "x".repeat(2 * MiB) }] }) })
    const fast = direct(server, { maxResponseBytes: MiB })
    const error = await fast.session.callTool("echo", {}, BOUND).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ProtocolError)
    expect(error).toMatchObject({
      code: RESPONSE_TOO_LARGE_RPC_CODE,
      data: { code: RESPONSE_TOO_LARGE, limitBytes: MiB }
    })
    expect(fast.session.generation()).toBe(1)
  })

  it.each(["json", "sse"] as const)(
    "an endless %s answer is cut at the bound: the client hangs up, then calls work again",
    async (kind) => {
      const server = await fixture({ json: kind === "json" })
      const fast = direct(server, { maxResponseBytes: MiB })
      await fast.session.started()
      server.setEndless(kind)
      const error = await fast.session.callTool("echo", {}, BOUND).catch((e: unknown) => e)
      expect(error).toMatchObject(
        kind === "json" ? { code: RESPONSE_TOO_LARGE } : { data: { code: RESPONSE_TOO_LARGE } }
      )
      // The answer never ends: only the client hanging up ends it.
      await server.endless[0]!.closed
      expect(server.endless).toHaveLength(1)
      server.setEndless(undefined)
      expect(await fast.session.callTool("echo", {}, BOUND)).toEqual({
        content: [{ type: "text", text: "echo ok" }]
      })
    }
  )
})
