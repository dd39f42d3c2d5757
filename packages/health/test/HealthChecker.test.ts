import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { assert, describe, it } from "@effect/vitest"
import { McpBackend, stdioBackendCommand } from "@vmcp-status/testkit"
import { Effect, Exit, Stream } from "effect"
import { TestClock } from "effect/testing"
import { type BackendConfig, HealthChecker } from "../src/index.ts"
import { backendOf, isAlive, round, stdioChildren, untilSnapshot } from "./fixtures.ts"

const base = { interval: "30 seconds", jitter: 0 } as const

/** A plain HTTP endpoint on loopback whose status code the test sets. */
const httpEndpoint = Effect.acquireRelease(
  Effect.promise(
    () =>
      new Promise<{ url: string; setStatus: (s: number) => void; close: () => Promise<void> }>((resolve) => {
        let status = 200
        const server = createServer((_req, res) => {
          res.writeHead(status, { "content-type": "text/plain" }).end("ok")
        })
        server.listen(0, "127.0.0.1", () => {
          const { port } = server.address() as AddressInfo
          resolve({
            url: `http://127.0.0.1:${port}/healthz?token=hunter2`,
            setStatus: (s) => {
              status = s
            },
            close: () =>
              new Promise<void>((done) => {
                server.close(() => done())
                server.closeAllConnections()
              })
          })
        })
      })
  ),
  (endpoint) => Effect.promise(() => endpoint.close())
)

/** Waits (bounded, on the wall clock) until `pid` has exited. */
const exited = (pid: number) =>
  Effect.promise(async () => {
    for (let i = 0; i < 500 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 10))
    return !isAlive(pid)
  })

describe("MCP backends over Streamable HTTP", () => {
  it.effect("discovers tools on the first probe, then on notifications/tools/list_changed at once", () =>
    Effect.gen(function* () {
      const fixture = yield* McpBackend.make({ tools: [{ name: "search" }] })
      const checker = yield* HealthChecker.make({
        ...base,
        backends: [{ name: "docs", transport: "streamable-http", url: fixture.url }]
      })
      const first = yield* untilSnapshot(checker, (s) => s.initialRoundComplete)
      assert.deepInclude(backendOf(first, "docs"), { health: "healthy", toolCount: 1, circuit: "closed" })
      assert.strictEqual(first.lastDiscoveryTime, "1970-01-01T00:00:00Z")
      // 10 s later, between two probes, the backend announces a new tool.
      yield* TestClock.adjust("10 seconds")
      yield* fixture.addTool({ name: "deploy" })
      const after = yield* untilSnapshot(checker, (s) => backendOf(s, "docs")?.toolCount === 2)
      assert.strictEqual(after.lastDiscoveryTime, "1970-01-01T00:00:10Z")
      assert.strictEqual(backendOf(after, "docs")?.lastCheckTime, "1970-01-01T00:00:00Z")
      const counts = yield* fixture.requestCounts
      assert.strictEqual(counts.ping, 1)
      assert.strictEqual(counts["tools/list"], 2)
    })
  )

  it.effect("pings the kept session every interval and lists tools only every discovery interval", () =>
    Effect.gen(function* () {
      const fixture = yield* McpBackend.make()
      const checker = yield* HealthChecker.make({
        ...base,
        discoveryInterval: "60 seconds",
        backends: [{ name: "docs", transport: "streamable-http", url: fixture.url }]
      })
      yield* untilSnapshot(checker, (s) => s.initialRoundComplete)
      for (let i = 0; i < 4; i++) yield* round(checker, "30 seconds", ["docs"])
      const counts = yield* fixture.requestCounts
      // one session for all five probes; tools/list at 0, 60 and 120 s
      assert.deepInclude(counts, { initialize: 1, ping: 5, "tools/list": 3 })
      // the same tools every time: the last discovery that found something new stays at 0 s
      assert.strictEqual((yield* checker.current).lastDiscoveryTime, "1970-01-01T00:00:00Z")
    })
  )

  it.effect("re-establishes a session the backend lost (restart between probes) within the same probe", () =>
    Effect.gen(function* () {
      const fixture = yield* McpBackend.make()
      const checker = yield* HealthChecker.make({
        ...base,
        backends: [{ name: "docs", transport: "streamable-http", url: fixture.url }]
      })
      yield* untilSnapshot(checker, (s) => s.initialRoundComplete)
      // The backend restarts between two probes: it no longer knows our session (HTTP 404).
      yield* fixture.setMode("down")
      yield* fixture.setMode("up")
      const s = yield* round(checker, "30 seconds", ["docs"])
      assert.deepInclude(backendOf(s, "docs"), { health: "healthy", consecutiveFailures: 0, message: "" })
      assert.deepInclude(yield* fixture.requestCounts, { initialize: 2, "tools/list": 2 })
      assert.strictEqual(fixture.handle.sessionCount(), 1)
    })
  )

  it.effect("times a probe out with the Effect clock: a hung backend fails with `timeout` after 10 s", () =>
    Effect.gen(function* () {
      const fixture = yield* McpBackend.make()
      const checker = yield* HealthChecker.make({
        ...base,
        backends: [{ name: "docs", transport: "streamable-http", url: fixture.url }]
      })
      yield* untilSnapshot(checker, (s) => s.initialRoundComplete)
      yield* fixture.setMode({ kind: "slow", delayMs: 600_000 })
      yield* TestClock.adjust("30 seconds")
      yield* TestClock.adjust("9 seconds")
      assert.strictEqual(backendOf(yield* checker.current, "docs")?.consecutiveFailures, 0)
      yield* TestClock.adjust("1 second")
      const timedOut = yield* untilSnapshot(checker, (s) => backendOf(s, "docs")?.consecutiveFailures === 1)
      assert.deepInclude(backendOf(timedOut, "docs"), {
        health: "healthy",
        message: "probe failed 1 of 3 times before unhealthy: timeout (no answer within 10000 ms)",
        lastCheckTime: "1970-01-01T00:00:40Z",
        latencyMs: 10_000
      })
      // A timeout says nothing against the session: the next probe uses it and succeeds.
      yield* fixture.setMode("up")
      const back = yield* round(checker, "20 seconds", ["docs"])
      assert.deepInclude(backendOf(back, "docs"), { health: "healthy", consecutiveFailures: 0, message: "" })
      assert.deepInclude(yield* fixture.requestCounts, { initialize: 1, ping: 3 })
    })
  )

  it.effect("429 is not down: degraded while rate-limited, and the circuit stays closed", () =>
    Effect.gen(function* () {
      const fixture = yield* McpBackend.make()
      const checker = yield* HealthChecker.make({
        ...base,
        backends: [{ name: "docs", transport: "streamable-http", url: fixture.url }]
      })
      yield* untilSnapshot(checker, (s) => s.initialRoundComplete)
      yield* fixture.setMode({ kind: "rate-limited", retryAfterSeconds: 5 })
      for (let i = 0; i < 6; i++) {
        const s = yield* round(checker, "30 seconds", ["docs"])
        assert.deepInclude(backendOf(s, "docs"), {
          health: "degraded",
          consecutiveFailures: 0,
          circuit: "closed"
        })
        assert.match(backendOf(s, "docs")!.message, /^rate_limited \(HTTP 429\)/)
      }
      yield* fixture.setMode("up")
      const s = yield* round(checker, "30 seconds", ["docs"])
      assert.strictEqual(backendOf(s, "docs")?.health, "healthy")
    })
  )

  it.effect("JSON-RPC errors are protocol errors and keep the session", () =>
    Effect.gen(function* () {
      const fixture = yield* McpBackend.make()
      const checker = yield* HealthChecker.make({
        ...base,
        unhealthyAfter: 1,
        backends: [{ name: "docs", transport: "streamable-http", url: fixture.url }]
      })
      yield* untilSnapshot(checker, (s) => s.initialRoundComplete)
      yield* fixture.setMode({ kind: "failing", methods: ["ping"], code: -32000 })
      const s = yield* round(checker, "30 seconds", ["docs"])
      assert.deepInclude(backendOf(s, "docs"), {
        health: "unhealthy",
        message: "protocol_error (JSON-RPC error -32000)"
      })
      assert.strictEqual((yield* fixture.requestCounts).initialize, 1)
    })
  )

  it.effect("reports the URL redacted and never the configured headers", () =>
    Effect.gen(function* () {
      const fixture = yield* McpBackend.make()
      const checker = yield* HealthChecker.make({
        ...base,
        backends: [
          {
            name: "docs",
            transport: "streamable-http",
            url: `${fixture.url}?api_key=topsecret&region=eu`,
            headers: { authorization: "Bearer topsecret" }
          }
        ]
      })
      const s = yield* untilSnapshot(checker, (x) => x.initialRoundComplete)
      assert.strictEqual(backendOf(s, "docs")?.url, `${fixture.url}?api_key=REDACTED&region=eu`)
      assert.notInclude(JSON.stringify(s), "topsecret")
    })
  )
})

describe("MCP backends over stdio", () => {
  it.effect(
    "keeps the child process, re-establishes the session when it exits, and stop ends every child",
    () =>
      Effect.gen(function* () {
        const checker = yield* HealthChecker.make({
          ...base,
          backends: [
            {
              name: "files",
              transport: "stdio",
              ...stdioBackendCommand({ name: "files-fixture", tools: ["read", "write"] })
            },
            {
              name: "flaky",
              transport: "stdio",
              ...stdioBackendCommand({ name: "flaky-fixture", tools: ["x"], exitAfterMs: 1_000 })
            }
          ]
        })
        const first = yield* untilSnapshot(checker, (s) => s.initialRoundComplete)
        assert.deepInclude(backendOf(first, "files"), { health: "healthy", toolCount: 2, transport: "stdio" })
        assert.deepInclude(backendOf(first, "flaky"), { health: "healthy", toolCount: 1 })
        assert.isUndefined(backendOf(first, "files")?.url)
        const files = stdioChildren("files-fixture")
        assert.lengthOf(files, 1)
        // flaky's process exits on its own; the next probe starts a new one and it stays healthy.
        for (const pid of stdioChildren("flaky-fixture")) assert.isTrue(yield* exited(pid))
        const second = yield* round(checker, "30 seconds", ["files", "flaky"])
        assert.deepInclude(backendOf(second, "flaky"), {
          health: "healthy",
          consecutiveFailures: 0,
          toolCount: 1
        })
        assert.deepStrictEqual(stdioChildren("files-fixture"), files, "files keeps its process")
        yield* checker.stop
        assert.isFalse(isAlive(files[0]!), "stop ends the child")
        assert.deepStrictEqual([...stdioChildren("files-fixture"), ...stdioChildren("flaky-fixture")], [])
      })
  )

  it.effect("a process that cannot start is process_exited, and unhealthy after 3 probes", () =>
    Effect.gen(function* () {
      const checker = yield* HealthChecker.make({
        ...base,
        backends: [{ name: "broken", transport: "stdio", ...stdioBackendCommand({ crash: true }) }]
      })
      yield* untilSnapshot(checker, (s) => s.initialRoundComplete)
      yield* round(checker, "30 seconds", ["broken"])
      const s = yield* round(checker, "30 seconds", ["broken"])
      assert.deepInclude(backendOf(s, "broken"), { health: "unhealthy", consecutiveFailures: 3 })
      assert.match(backendOf(s, "broken")!.message, /^process_exited/)
    })
  )
})

describe("plain HTTP and custom probes", () => {
  it.effect("an HTTP endpoint is healthy on 2xx, unauthenticated on 401, failing on 503", () =>
    Effect.gen(function* () {
      const endpoint = yield* httpEndpoint
      const checker = yield* HealthChecker.make({
        ...base,
        backends: [{ name: "legacy", transport: "http", url: endpoint.url }]
      })
      const ok = yield* untilSnapshot(checker, (s) => s.initialRoundComplete)
      assert.deepInclude(backendOf(ok, "legacy"), { health: "healthy", transport: "http", toolCount: 0 })
      assert.strictEqual(backendOf(ok, "legacy")?.url, endpoint.url.replace("hunter2", "REDACTED"))
      endpoint.setStatus(401)
      const denied = yield* round(checker, "30 seconds", ["legacy"])
      assert.strictEqual(backendOf(denied, "legacy")?.health, "unauthenticated")
      endpoint.setStatus(503)
      const failing = yield* round(checker, "30 seconds", ["legacy"])
      assert.deepInclude(backendOf(failing, "legacy"), { health: "unauthenticated", consecutiveFailures: 2 })
      assert.match(backendOf(failing, "legacy")!.message, /http_error \(HTTP 503\)$/)
    })
  )

  it.effect("a custom check (Promise or Effect) decides health and may report tools", () =>
    Effect.gen(function* () {
      let answer: "ok" | "forbidden" | "throttled" = "ok"
      const checker = yield* HealthChecker.make({
        ...base,
        backends: [
          {
            name: "promise",
            transport: "streamable-http",
            url: "https://u:p@internal.example/mcp",
            check: async () => {
              if (answer === "forbidden") throw Object.assign(new Error("no"), { status: 403 })
              if (answer === "throttled") throw Object.assign(new Error("slow down"), { status: 429 })
              return { toolCount: 4 }
            }
          },
          { name: "effect", transport: "stdio", check: () => Effect.succeed(undefined) }
        ]
      })
      const first = yield* untilSnapshot(checker, (s) => s.initialRoundComplete)
      assert.deepInclude(backendOf(first, "promise"), {
        health: "healthy",
        toolCount: 4,
        url: "https://REDACTED@internal.example/mcp"
      })
      assert.deepInclude(backendOf(first, "effect"), { health: "healthy", toolCount: 0 })
      answer = "forbidden"
      const denied = yield* round(checker, "30 seconds", ["promise"])
      assert.strictEqual(backendOf(denied, "promise")?.health, "unauthenticated")
      answer = "throttled"
      const throttled = yield* round(checker, "30 seconds", ["promise"])
      assert.strictEqual(backendOf(throttled, "promise")?.health, "degraded")
    })
  )
})

describe("configuration at run time", () => {
  it.effect("adds, changes and removes backends; a removed backend never reports again", () =>
    Effect.gen(function* () {
      const a = yield* McpBackend.make()
      const b = yield* McpBackend.make()
      const backendA: BackendConfig = { name: "a", transport: "streamable-http", url: a.url }
      const backendB: BackendConfig = { name: "b", transport: "streamable-http", url: b.url }
      const checker = yield* HealthChecker.make({ ...base, backends: [backendA] })
      yield* untilSnapshot(checker, (s) => s.initialRoundComplete)
      // Added: probed at once.
      yield* checker.setBackends([backendA, backendB])
      const added = yield* untilSnapshot(checker, (s) => backendOf(s, "b")?.health === "healthy")
      assert.isTrue(added.initialRoundComplete)
      // Unchanged configuration: nothing restarts.
      yield* checker.setBackends([backendA, backendB])
      assert.strictEqual((yield* a.requestCounts).initialize, 1)
      // Removed while its probe is in flight: the late answer is dropped.
      yield* b.setMode({ kind: "slow", delayMs: 200 })
      yield* a.setMode({ kind: "slow", delayMs: 400 })
      const seen: Array<ReadonlyArray<string>> = []
      yield* checker.changes.pipe(
        Stream.runForEach((s) => Effect.sync(() => seen.push(s.backends.map((x) => x.name)))),
        Effect.forkScoped
      )
      yield* TestClock.adjust("30 seconds")
      // b's ping has reached b (it answers 200 ms later): now b is removed.
      yield* Effect.promise(async () => {
        for (let i = 0; i < 500 && b.handle.requestCounts().ping !== 2; i++)
          await new Promise((r) => setTimeout(r, 5))
      })
      assert.strictEqual((yield* b.requestCounts).ping, 2)
      yield* checker.setBackends([backendA])
      // a's probe was slower than b's: once a has answered, b's answer would have arrived.
      yield* untilSnapshot(checker, (s) => backendOf(s, "a")?.lastCheckTime === "1970-01-01T00:00:30Z")
      assert.deepStrictEqual(seen.at(-1), ["a"])
      const afterRemoval = seen.slice(seen.findIndex((names) => !names.includes("b")))
      assert.isTrue(afterRemoval.every((names) => !names.includes("b")))
    })
  )

  it.effect("rejects an invalid configuration naming the field, and keeps the previous one", () =>
    Effect.gen(function* () {
      const checker = yield* HealthChecker.make({ ...base, backends: [] })
      const bad = yield* Effect.exit(
        checker.setBackends([{ name: "x", transport: "streamable-http", url: "ftp://nowhere" }])
      )
      assert.isTrue(Exit.isFailure(bad))
      assert.deepStrictEqual((yield* checker.current).backends, [])
      const s = yield* checker.current
      assert.isTrue(s.initialRoundComplete)
    })
  )
})

describe("stop", () => {
  it.effect("ends every session, on the server too, and probes nothing afterwards", () =>
    Effect.gen(function* () {
      const fixture = yield* McpBackend.make()
      const checker = yield* HealthChecker.make({
        ...base,
        backends: [{ name: "docs", transport: "streamable-http", url: fixture.url }]
      })
      yield* untilSnapshot(checker, (s) => s.initialRoundComplete)
      assert.strictEqual(fixture.handle.sessionCount(), 1)
      yield* checker.stop
      yield* checker.stop
      // The session was ended on the server too.
      assert.strictEqual(fixture.handle.sessionCount(), 0)
      const pings = (yield* fixture.requestCounts).ping
      yield* TestClock.adjust("5 minutes")
      assert.strictEqual((yield* fixture.requestCounts).ping, pings)
      assert.deepStrictEqual((yield* checker.circuits).length, 0)
    })
  )
})
