import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { assert, describe, it } from "@effect/vitest"
import { eventually, McpBackend, stdioBackendCommand } from "@vmcp-status/testkit"
import { Deferred, Effect, Fiber, Option, Stream, SubscriptionRef } from "effect"
import { TestClock } from "effect/testing"
import {
  type BackendConfig,
  type CustomCheck,
  HealthChecker,
  type HealthSnapshot,
  InvalidHealthConfig
} from "../src/index.ts"
import { backendOf, checkedAt, isAlive, round, stdioChildren, untilSnapshot } from "./fixtures.ts"

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

/** Waits until the OS has reaped `pid` (another process: polled, bounded by `eventually`). */
const exited = (pid: number) =>
  Effect.promise(() => eventually(`process ${pid} to exit`, () => (isAlive(pid) ? undefined : true)))

/**
 * A custom check the test drives. It answers at once, unless `holdNext` armed a gate: then the
 * next call holds until the gate opens, uninterruptibly, like a probe that cannot be cancelled.
 * `calls` counts the calls as they start.
 */
const heldCheck = Effect.gen(function* () {
  const calls = yield* SubscriptionRef.make(0)
  let gate: Deferred.Deferred<void> | undefined
  const check: CustomCheck = () =>
    Effect.gen(function* () {
      const held = gate
      gate = undefined
      yield* SubscriptionRef.update(calls, (n) => n + 1)
      if (held !== undefined) yield* Effect.uninterruptible(Deferred.await(held))
    })
  return {
    check,
    calls: SubscriptionRef.get(calls),
    untilCalls: (n: number) =>
      SubscriptionRef.changes(calls).pipe(
        Stream.filter((c) => c >= n),
        Stream.runHead
      ),
    holdNext: Effect.tap(Deferred.make<void>(), (d) =>
      Effect.sync(() => {
        gate = d
      })
    )
  }
})

/** Records every snapshot the checker publishes from now on, the current one first. */
const collect = (checker: HealthChecker.HealthChecker) =>
  Effect.gen(function* () {
    const seen = yield* SubscriptionRef.make<ReadonlyArray<HealthSnapshot>>([])
    yield* checker.changes.pipe(
      Stream.runForEach((s) => SubscriptionRef.update(seen, (all) => [...all, s])),
      Effect.forkScoped
    )
    /** Waits for the recording to satisfy `predicate` and returns it. */
    const until = (predicate: (all: ReadonlyArray<HealthSnapshot>) => boolean) =>
      SubscriptionRef.changes(seen).pipe(
        Stream.filter(predicate),
        Stream.runHead,
        Effect.map(Option.getOrThrow)
      )
    yield* until((all) => all.length > 0)
    return { until }
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
      assert.strictEqual(backendOf(s, "docs")?.url, `${fixture.url}?api_key=REDACTED&region=REDACTED`)
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
              ...stdioBackendCommand({ name: "flaky-fixture", tools: ["x"] })
            }
          ]
        })
        const first = yield* untilSnapshot(checker, (s) => s.initialRoundComplete)
        assert.deepInclude(backendOf(first, "files"), { health: "healthy", toolCount: 2, transport: "stdio" })
        assert.deepInclude(backendOf(first, "flaky"), { health: "healthy", toolCount: 1 })
        assert.isUndefined(backendOf(first, "files")?.url)
        const files = stdioChildren("files-fixture")
        assert.lengthOf(files, 1)
        // flaky's process exits between two probes; the next probe starts a new one and it stays healthy.
        const flaky = stdioChildren("flaky-fixture")
        assert.lengthOf(flaky, 1)
        process.kill(flaky[0]!, "SIGKILL")
        yield* exited(flaky[0]!)
        const second = yield* round(checker, "30 seconds", ["files", "flaky"])
        assert.deepInclude(backendOf(second, "flaky"), {
          health: "healthy",
          consecutiveFailures: 0,
          toolCount: 1
        })
        const restarted = stdioChildren("flaky-fixture")
        assert.lengthOf(restarted, 1)
        assert.notStrictEqual(restarted[0], flaky[0], "a new flaky process")
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
              return { toolCount: 4, resourceCount: 2, resourceTemplateCount: 1, promptCount: 3 }
            }
          },
          { name: "effect", transport: "stdio", check: () => Effect.succeed(undefined) }
        ]
      })
      const first = yield* untilSnapshot(checker, (s) => s.initialRoundComplete)
      assert.deepInclude(backendOf(first, "promise"), {
        health: "healthy",
        toolCount: 4,
        resourceCount: 2,
        resourceTemplateCount: 1,
        promptCount: 3,
        url: "https://REDACTED@internal.example/mcp"
      })
      assert.deepInclude(backendOf(first, "effect"), { health: "healthy", toolCount: 0 })
      assert.notProperty(backendOf(first, "effect"), "promptCount")
      answer = "forbidden"
      const denied = yield* round(checker, "30 seconds", ["promise"])
      assert.strictEqual(backendOf(denied, "promise")?.health, "unauthenticated")
      answer = "throttled"
      const throttled = yield* round(checker, "30 seconds", ["promise"])
      assert.strictEqual(backendOf(throttled, "promise")?.health, "degraded")
    })
  )
})

describe("a pending check (a backend starting)", () => {
  it.effect(
    "reports unknown with its message, opens no circuit, and the first success makes it healthy",
    () =>
      Effect.gen(function* () {
        let starting = true
        const checker = yield* HealthChecker.make({
          ...base,
          unhealthyAfter: 1,
          circuitBreaker: { failureThreshold: 1 },
          backends: [
            {
              name: "slow",
              transport: "stdio",
              check: async () => (starting ? { pending: "starting" } : { toolCount: 2 })
            }
          ]
        })
        const first = yield* untilSnapshot(checker, (s) => backendOf(s, "slow")?.message === "starting")
        // Not a result yet: the first round is not complete (the phase stays Pending, not Failed).
        assert.isFalse(first.initialRoundComplete)
        assert.deepInclude(backendOf(first, "slow"), {
          health: "unknown",
          message: "starting",
          consecutiveFailures: 0,
          circuit: "closed"
        })
        // Still starting at the next probes: neither a failure (unhealthyAfter 1) nor an open circuit.
        const again = yield* round(checker, "30 seconds", ["slow"])
        assert.deepInclude(backendOf(again, "slow"), {
          health: "unknown",
          message: "starting",
          circuit: "closed"
        })
        starting = false
        const up = yield* round(checker, "30 seconds", ["slow"])
        assert.deepInclude(backendOf(up, "slow"), { health: "healthy", toolCount: 2, message: "" })
        assert.isTrue(up.initialRoundComplete)
      })
  )
})

describe("recheck", () => {
  it.effect(
    "probes at once without the clock moving, ends an open circuit's wait with a half-open probe, and answers with the new report",
    () =>
      Effect.gen(function* () {
        let up = false
        let probes = 0
        const checker = yield* HealthChecker.make({
          ...base,
          unhealthyAfter: 1,
          circuitBreaker: { failureThreshold: 1, openDuration: "10 minutes" },
          backends: [
            {
              name: "fixed",
              transport: "stdio",
              check: async () => {
                probes++
                if (!up) throw Object.assign(new Error("refused"), { code: "ECONNREFUSED" })
                return { toolCount: 1 }
              }
            }
          ]
        })
        const down = yield* untilSnapshot(checker, (s) => backendOf(s, "fixed")?.circuit === "open")
        assert.strictEqual(backendOf(down, "fixed")?.health, "unhealthy")
        const before = probes

        // The operator fixes the backend and rechecks: no clock movement, the circuit is open for 10 min.
        up = true
        const report = yield* checker.recheck("fixed")
        // Answering again after failing is `degraded` (recovering) for one interval, and routable.
        assert.deepInclude(report, { health: "degraded", circuit: "closed", consecutiveFailures: 0 })
        assert.match(report?.message ?? "", /^recovering/)
        assert.strictEqual(probes, before + 1)
        assert.strictEqual(backendOf(yield* checker.current, "fixed")?.circuit, "closed")
      })
  )

  it.effect("answers undefined for a backend it does not have, and for one removed while waiting", () =>
    Effect.gen(function* () {
      const checker = yield* HealthChecker.make({
        ...base,
        backends: [{ name: "a", transport: "stdio", check: () => Effect.never }]
      })
      assert.strictEqual(yield* checker.recheck("nope"), undefined)
      const waiting = yield* Effect.forkChild(checker.recheck("a"))
      yield* checker.setBackends([])
      assert.strictEqual(yield* Fiber.join(waiting), undefined)
    })
  )
})

describe("configuration at run time", () => {
  it.effect("adds backends, keeps unchanged ones running, and a removed backend never reports again", () =>
    Effect.gen(function* () {
      const a = yield* McpBackend.make()
      const b = yield* heldCheck
      const backendA: BackendConfig = { name: "a", transport: "streamable-http", url: a.url }
      const backendB: BackendConfig = { name: "b", transport: "streamable-http", check: b.check }
      const checker = yield* HealthChecker.make({ ...base, backends: [backendA] })
      yield* untilSnapshot(checker, (s) => s.initialRoundComplete)
      // Added: probed at once, without waiting for the next interval.
      yield* checker.setBackends([backendA, backendB])
      const added = yield* untilSnapshot(checker, (s) => backendOf(s, "b")?.health === "healthy")
      assert.isTrue(added.initialRoundComplete)
      assert.strictEqual(backendOf(added, "b")?.lastCheckTime, "1970-01-01T00:00:00Z")
      // Unchanged configuration: nothing restarts (a restarted runner would probe at once again
      // and open a new session).
      yield* checker.setBackends([backendA, backendB])
      yield* round(checker, "30 seconds", ["a", "b"])
      assert.strictEqual((yield* a.requestCounts).initialize, 1)
      assert.strictEqual(yield* b.calls, 2)
      // Removed while its probe is in flight: b's check at 60 s holds until the test releases it.
      const release = yield* b.holdNext
      yield* TestClock.adjust("30 seconds")
      yield* untilSnapshot(checker, (s) => checkedAt(s, ["a"], 60_000))
      yield* b.untilCalls(3)
      const seen = yield* collect(checker)
      const removing = yield* Effect.forkChild(checker.setBackends([backendA]))
      // Nothing else publishes meanwhile (a's next probe is at 90 s): the next snapshot is the removal's.
      yield* seen.until((all) => all.length === 2)
      // b's answer arrives after it left the list.
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(removing)
      for (let i = 0; i < 3; i++) yield* round(checker, "30 seconds", ["a"])
      const all = yield* seen.until((all) => all.some((s) => checkedAt(s, ["a"], 150_000)))
      // Before: b is there. After: one snapshot for the removal, then one per probe of a, every
      // interval, and b in none of them.
      assert.isDefined(backendOf(all[0]!, "b"))
      const after = all.slice(1)
      assert.deepStrictEqual(
        after.map((s) => backendOf(s, "a")?.lastCheckTime),
        ["1970-01-01T00:01:00Z", "1970-01-01T00:01:30Z", "1970-01-01T00:02:00Z", "1970-01-01T00:02:30Z"]
      )
      assert.deepStrictEqual(
        after.map((s) => s.backends.map((x) => x.name)),
        [["a"], ["a"], ["a"], ["a"]]
      )
      // And b is never probed again.
      assert.strictEqual(yield* b.calls, 3)
    })
  )

  it.effect("rejects an invalid configuration naming the field, and keeps the previous one", () =>
    Effect.gen(function* () {
      const kept = yield* heldCheck
      const checker = yield* HealthChecker.make({
        ...base,
        backends: [{ name: "kept", transport: "stdio", check: kept.check }]
      })
      yield* untilSnapshot(checker, (s) => s.initialRoundComplete)
      const bad = yield* Effect.flip(
        checker.setBackends([
          { name: "kept", transport: "stdio", check: kept.check },
          { name: "x", transport: "streamable-http", url: "ftp://nowhere" }
        ])
      )
      assert.instanceOf(bad, InvalidHealthConfig)
      assert.strictEqual(bad.field, "backends[1].url")
      // The previous configuration stays, and keeps being probed.
      const s = yield* round(checker, "30 seconds", ["kept"])
      assert.deepStrictEqual(
        s.backends.map((b) => b.name),
        ["kept"]
      )
      assert.strictEqual(yield* kept.calls, 2)
    })
  )
})

describe("stop", () => {
  it.effect("ends every session, on the server too, and probes nothing afterwards", () =>
    Effect.gen(function* () {
      const fixture = yield* McpBackend.make()
      const custom = yield* heldCheck
      const checker = yield* HealthChecker.make({
        ...base,
        backends: [
          { name: "docs", transport: "streamable-http", url: fixture.url },
          { name: "custom", transport: "stdio", check: custom.check }
        ]
      })
      yield* untilSnapshot(checker, (s) => s.initialRoundComplete)
      assert.strictEqual(fixture.handle.sessionCount(), 1)
      yield* checker.stop
      yield* checker.stop
      // The session was ended on the server too.
      assert.strictEqual(fixture.handle.sessionCount(), 0)
      // A probe starts within `adjust` (the test clock runs the fibers it wakes until they
      // suspend) and a custom check is called as it starts: no call means no probe.
      assert.strictEqual(yield* custom.calls, 1)
      const before = yield* checker.current
      yield* TestClock.adjust("5 minutes")
      assert.strictEqual(yield* custom.calls, 1)
      assert.strictEqual(yield* checker.current, before, "nothing published after stop")
      assert.deepStrictEqual((yield* checker.circuits).length, 0)
    })
  )
})
