import type { IncomingMessage, ServerResponse } from "node:http"
import { Agent, createServer, request as httpsRequest, type Server } from "node:https"
import type { AddressInfo } from "node:net"
import { assert, it as effectIt } from "@effect/vitest"
import { Effect } from "effect"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { type CertificateSet, makeCertificates } from "../src/Certificates.ts"
import { eventually } from "../src/Eventually.ts"
import * as FaultProxy from "../src/FaultProxy.ts"
import { type FaultProxyHandle, startFaultProxy } from "../src/FaultProxy.ts"
import { httpsCall } from "./https.ts"

// A plain HTTPS upstream: /echo answers with the method, path and body; /stream is a watch-like
// stream that writes one line now and one more each time `next()` is called.
let certs: CertificateSet
let upstream: Server
let upstreamUrl: string
const streams: Array<{ res: ServerResponse; closed: boolean }> = []

const upstreamHandler = (req: IncomingMessage, res: ServerResponse) => {
  if (req.url?.startsWith("/stream")) {
    res.writeHead(200, { "content-type": "application/json" })
    res.write(`${JSON.stringify({ type: "ADDED" })}\n`)
    const entry = { res, closed: false }
    res.on("close", () => {
      entry.closed = true
    })
    streams.push(entry)
    return
  }
  let body = ""
  req.on("data", (chunk: Buffer) => {
    body += chunk.toString()
  })
  req.on("end", () => {
    res.writeHead(200, { "content-type": "application/json" })
    res.end(JSON.stringify({ method: req.method, url: req.url, body, host: req.headers.host }))
  })
}

beforeAll(async () => {
  certs = await makeCertificates()
  upstream = createServer({ cert: certs.serving.cert, key: certs.serving.key }, upstreamHandler)
  await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve))
  upstreamUrl = `https://127.0.0.1:${(upstream.address() as AddressInfo).port}`
})
afterAll(async () => {
  upstream.closeAllConnections()
  await new Promise((resolve) => upstream.close(resolve))
})

const proxies: Array<FaultProxyHandle> = []
afterEach(async () => {
  await Promise.all(proxies.splice(0).map((p) => p.close()))
})

const proxy = async () => {
  const p = await startFaultProxy({ upstream: upstreamUrl, upstreamCa: certs.ca.cert })
  proxies.push(p)
  return p
}

const call = (p: FaultProxyHandle, path: string, options: Omit<Parameters<typeof httpsCall>[1], "ca"> = {}) =>
  httpsCall(`${p.url}${path}`, { ca: p.ca, ...options })

describe("fault proxy", () => {
  it("forwards to the upstream over TLS on both sides and counts requests and body bytes by method and path", async () => {
    const p = await proxy()
    expect(p.url).toBe(`https://127.0.0.1:${p.port}`)
    const res = await call(p, "/echo/a?watch=1", { method: "POST", body: "hello" })
    expect(res.status).toBe(200)
    expect(JSON.parse(res.body)).toMatchObject({ method: "POST", url: "/echo/a?watch=1", body: "hello" })
    await call(p, "/echo/a")
    await call(p, "/echo/b")
    await call(p, "/other", { method: "PATCH", body: "{}" })
    expect(p.counts()).toEqual(
      expect.arrayContaining([
        { method: "POST", path: "/echo/a", count: 1, bytes: 5 },
        { method: "GET", path: "/echo/a", count: 1, bytes: 0 },
        { method: "GET", path: "/echo/b", count: 1, bytes: 0 },
        { method: "PATCH", path: "/other", count: 1, bytes: 2 }
      ])
    )
    expect(p.count()).toBe(4)
    expect(p.count({ method: "get" })).toBe(2)
    expect(p.count({ path: "/echo/*" })).toBe(3)
    expect(p.count({ method: "PATCH", path: /^\/oth/ })).toBe(1)
    expect(p.count({ method: "DELETE" })).toBe(0)
    p.resetCounts()
    expect(p.count()).toBe(0)
  })

  it.each([
    { status: 500, reason: "InternalError" },
    { status: 503, reason: "ServiceUnavailable", retryAfterSeconds: 5 },
    { status: 429, reason: "TooManyRequests" },
    { status: 409, reason: "Conflict" },
    { status: 403, reason: "Forbidden" },
    { status: 404, reason: "NotFound" }
  ])("answers $status with a Kubernetes Status body instead of forwarding, for N requests", async (c) => {
    const p = await proxy()
    const rule = p.addRule({
      method: "PATCH",
      path: "/apis/**",
      fault: {
        kind: "status",
        status: c.status,
        ...(c.retryAfterSeconds ? { retryAfterSeconds: c.retryAfterSeconds } : {})
      },
      times: 2
    })
    const patch = () => call(p, "/apis/g/v1/namespaces/n/things/x/status", { method: "PATCH", body: "{}" })
    expect((await call(p, "/apis/g/v1/x")).status).toBe(200)
    for (let i = 0; i < 2; i++) {
      const res = await patch()
      expect(res.status).toBe(c.status)
      expect(JSON.parse(res.body)).toMatchObject({
        kind: "Status",
        status: "Failure",
        code: c.status,
        reason: c.reason
      })
      const retryAfter = c.retryAfterSeconds ?? (c.status === 429 ? 1 : undefined)
      expect(res.headers["retry-after"]).toBe(retryAfter === undefined ? undefined : String(retryAfter))
    }
    expect(rule.hits()).toBe(2)
    expect((await patch()).status).toBe(200)
    expect(p.count({ method: "PATCH" })).toBe(3)
  })

  it("adds latency before forwarding", async () => {
    const p = await proxy()
    p.addRule({ path: "/echo", fault: { kind: "latency", ms: 250 } })
    const started = performance.now()
    expect((await call(p, "/echo")).status).toBe(200)
    expect(performance.now() - started).toBeGreaterThanOrEqual(245)
  })

  it("hangs until the rule is removed: a client timeout fires, a patient client gets the answer", async () => {
    const p = await proxy()
    const rule = p.addRule({ path: "/echo", fault: { kind: "hang" } })
    await expect(call(p, "/echo", { timeoutMs: 100 })).rejects.toThrow("client timeout")
    const patient = call(p, "/echo")
    await expect.poll(() => p.count({ path: "/echo" })).toBe(2)
    rule.remove()
    expect((await patient).status).toBe(200)
    expect((await call(p, "/echo", { timeoutMs: 5000 })).status).toBe(200)
  })

  it("keeps requests hung by a used-up rule until the rules are cleared", async () => {
    const p = await proxy()
    p.addRule({ fault: { kind: "hang" }, times: 1 })
    const held = call(p, "/echo/held")
    await expect.poll(() => p.count()).toBe(1)
    expect((await call(p, "/echo/free")).status).toBe(200)
    p.clearRules()
    expect((await held).status).toBe(200)
  })

  it("resets the connection", async () => {
    const p = await proxy()
    p.addRule({ method: "GET", path: "/echo", fault: { kind: "reset" }, times: 1 })
    await expect(call(p, "/echo")).rejects.toMatchObject({ code: "ECONNRESET" })
    expect((await call(p, "/echo")).status).toBe(200)
  })

  it("applies a rule for a time window only", async () => {
    const p = await proxy()
    // Two rules, so neither check depends on how fast a request is: the first window is far
    // longer than any stall, the second closes at once and is waited for.
    const open = p.addRule({ path: "/echo/open", fault: { kind: "status", status: 503 }, forMs: 60_000 })
    p.addRule({ path: "/echo/gone", fault: { kind: "status", status: 503 }, forMs: 1 })
    expect((await call(p, "/echo/open")).status).toBe(503)
    await eventually("the 1 ms rule to retire", async () =>
      (await call(p, "/echo/gone")).status === 200 ? true : undefined
    )
    expect((await call(p, "/echo/open")).status).toBe(503)
    expect(open.hits()).toBe(2)
  })

  it("fails TLS with a certificate the client does not trust, counts the failed handshake, and recovers", async () => {
    const p = await proxy()
    expect((await call(p, "/echo")).status).toBe(200)
    expect(p.tlsFailures()).toBe(0)
    await p.setTls("untrusted")
    await expect(call(p, "/echo")).rejects.toMatchObject({
      code: expect.stringMatching(/CERT|SIGNATURE|ISSUER/)
    })
    // The proxy learns of the refusal when the client's close reaches it, after the client's error.
    await eventually("the refused handshake to be counted", () => (p.tlsFailures() === 1 ? true : undefined))
    expect(p.count()).toBe(1)
    await p.setTls("trusted")
    expect((await call(p, "/echo")).status).toBe(200)
    expect(p.tlsFailures()).toBe(1)
    p.resetCounts()
    expect(p.tlsFailures()).toBe(0)
  })

  it("does not serve again a keep-alive connection that was busy when TLS turned untrusted", async () => {
    const p = await proxy()
    const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: p.ca })
    const get = (path: string) =>
      new Promise<number>((resolve, reject) => {
        const req = httpsRequest(`${p.url}${path}`, { agent }, (res) => {
          res.resume()
          res.on("end", () => resolve(res.statusCode ?? 0))
        })
        req.on("error", reject)
        req.end()
      })
    try {
      const held = p.addRule({ path: "/echo/busy", fault: { kind: "hang" } })
      const busy = get("/echo/busy")
      await eventually("the request to be held", () =>
        p.count({ path: "/echo/busy" }) === 1 ? true : undefined
      )
      await p.setTls("untrusted")
      held.remove()
      // Received before the switch, so answered; the connection it used must serve nothing more.
      expect(await busy).toBe(200)
      // The agent reuses that connection (closed unanswered) or, had it gone, opens one that fails TLS.
      await expect(get("/echo/after")).rejects.toMatchObject({
        code: expect.stringMatching(/ECONNRESET|CERT|SIGNATURE|ISSUER/)
      })
      expect(p.count({ path: "/echo/after" })).toBe(0)
    } finally {
      agent.destroy()
    }
  })

  it("streams watch bodies as they come and ends the upstream stream when the client leaves", async () => {
    const p = await proxy()
    const lines: Array<string> = []
    const req = httpsRequest(`${p.url}/stream?watch=true`, { ca: p.ca, agent: false }, (res) => {
      res.setEncoding("utf8")
      res.on("data", (chunk: string) => lines.push(...chunk.split("\n").filter((l) => l.length > 0)))
    })
    req.on("error", () => undefined)
    req.end()
    await expect.poll(() => lines).toEqual(['{"type":"ADDED"}'])
    const stream = streams.at(-1)!
    stream.res.write(`${JSON.stringify({ type: "MODIFIED" })}\n`)
    await expect.poll(() => lines).toEqual(['{"type":"ADDED"}', '{"type":"MODIFIED"}'])
    req.destroy()
    await expect.poll(() => stream.closed).toBe(true)
  })

  it("answers 502 with a Status body when the upstream is unreachable", async () => {
    const p = await startFaultProxy({ upstream: "https://127.0.0.1:1", upstreamCa: certs.ca.cert })
    proxies.push(p)
    const res = await call(p, "/echo")
    expect(res.status).toBe(502)
    expect(JSON.parse(res.body)).toMatchObject({ kind: "Status", code: 502 })
  })

  effectIt.live("lives as long as its scope (Effect API)", () =>
    Effect.gen(function* () {
      const url = yield* Effect.scoped(
        Effect.gen(function* () {
          const p = yield* FaultProxy.make({ upstream: upstreamUrl, upstreamCa: certs.ca.cert })
          const res = yield* Effect.promise(() => call(p, "/echo"))
          assert.strictEqual(res.status, 200)
          return { url: p.url, ca: p.ca }
        })
      )
      const error = yield* Effect.promise(() =>
        httpsCall(`${url.url}/echo`, { ca: url.ca }).catch((e: unknown) => e)
      )
      assert.match(String((error as { code?: string }).code), /ECONNREFUSED/)
    })
  )
})
