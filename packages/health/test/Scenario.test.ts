import { assert, describe, it } from "@effect/vitest"
import { Publisher } from "@vmcp-status/core"
import { McpBackend } from "@vmcp-status/testkit"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { publishHealth } from "../src/index.ts"
import { backendOf, makeRecorder, projection, round, untilSnapshot } from "./fixtures.ts"

const ALL = ["alpha", "beta", "gamma"]

describe("three real backends through the core publisher", () => {
  it.effect(
    "one turns slow, one starts requiring auth, one goes down: the exact sequence of phases and backend states",
    () =>
      Effect.gen(function* () {
        const alpha = yield* McpBackend.make({ name: "alpha", tools: [{ name: "a1" }, { name: "a2" }] })
        const beta = yield* McpBackend.make({ name: "beta", tools: [{ name: "b1" }] })
        const gamma = yield* McpBackend.make({
          name: "gamma",
          tools: [{ name: "g1" }, { name: "g2" }, { name: "g3" }]
        })
        const recorder = yield* makeRecorder
        const publisher = yield* Publisher.make({ reporters: [recorder.reporter], interval: "1 hour" })
        const backends = [
          { name: "alpha", transport: "streamable-http", url: alpha.url },
          { name: "beta", transport: "streamable-http", url: beta.url },
          { name: "gamma", transport: "streamable-http", url: gamma.url }
        ] as const
        // One probe at a time, in configuration order, so that every change reaches the
        // reporter on its own (the publisher coalesces changes that arrive together).
        const checker = yield* publishHealth(publisher, {
          backends,
          interval: "30 seconds",
          jitter: 0,
          concurrency: 1
        })

        // t=0: the first round.
        yield* untilSnapshot(checker, (s) => s.initialRoundComplete)
        yield* recorder.settled(checker)

        // t=30: alpha turns slow. Its probe is in flight when the clock moves 6 s (> 5 s).
        yield* alpha.setMode({ kind: "slow", delayMs: 300 })
        yield* TestClock.adjust("30 seconds")
        yield* TestClock.adjust("6 seconds")
        yield* untilSnapshot(checker, (s) => backendOf(s, "alpha")?.health === "degraded")
        yield* untilSnapshot(checker, (s) => backendOf(s, "gamma")?.lastCheckTime === "1970-01-01T00:00:36Z")
        yield* recorder.settled(checker)
        // t=60: fast again → healthy (a slow backend was routable: no recovery period).
        yield* alpha.setMode("up")
        yield* round(checker, "24 seconds", ALL)
        yield* recorder.settled(checker)

        // t=90: gamma starts requiring a token → unauthenticated at once.
        yield* gamma.setMode({ kind: "auth", token: "s3cret" })
        yield* round(checker, "30 seconds", ALL)
        yield* recorder.settled(checker)
        // The operator adds the token: gamma's probing restarts from unknown, then healthy.
        yield* checker.setBackends([
          backends[0],
          backends[1],
          { ...backends[2], headers: { authorization: "Bearer s3cret" } }
        ])
        yield* untilSnapshot(checker, (s) => backendOf(s, "gamma")?.health === "healthy")
        yield* recorder.settled(checker)

        // t=120..240: beta goes down: 2 failures hold, the 3rd → unhealthy, the 5th opens the circuit.
        yield* beta.setMode("down")
        for (let i = 0; i < 5; i++) {
          yield* round(checker, "30 seconds", ALL)
          yield* recorder.settled(checker)
        }
        // t=270: the circuit is open (until 300): beta is not probed.
        const skipped = yield* round(checker, "30 seconds", ["alpha", "gamma"])
        assert.strictEqual(backendOf(skipped, "beta")?.lastCheckTime, "1970-01-01T00:04:00Z")
        // t=300: beta's port is open again but it hangs; one half-open probe, in flight...
        // (alpha and gamma wait for the one probe slot meanwhile).
        yield* beta.setMode({ kind: "slow", delayMs: 600_000 })
        yield* TestClock.adjust("30 seconds")
        yield* untilSnapshot(checker, (s) => backendOf(s, "beta")?.circuit === "half-open")
        yield* recorder.settled(checker)
        // ...times out at t=310 (the Effect timeout, on the test clock) → open again, now for 120 s.
        yield* round(checker, "10 seconds", ["beta", "alpha", "gamma"])
        yield* recorder.settled(checker)
        // t=330..420: alpha and gamma only.
        yield* beta.setMode({ kind: "slow", delayMs: 300 })
        yield* round(checker, "20 seconds", ["alpha", "gamma"])
        for (let i = 0; i < 3; i++) yield* round(checker, "30 seconds", ["alpha", "gamma"])
        // t=430: the half-open probe (slow on the wall clock, instant on the test clock) succeeds:
        // closed, and degraded for one interval.
        yield* TestClock.adjust("10 seconds")
        yield* untilSnapshot(checker, (s) => backendOf(s, "beta")?.circuit === "half-open")
        yield* recorder.settled(checker)
        yield* untilSnapshot(checker, (s) => backendOf(s, "beta")?.circuit === "closed")
        yield* recorder.settled(checker)
        yield* beta.setMode("up")
        yield* round(checker, "20 seconds", ["alpha", "gamma"])
        // t=460: healthy.
        yield* round(checker, "10 seconds", ["beta"])
        yield* recorder.settled(checker)

        const statuses = yield* recorder.statuses
        assert.deepStrictEqual(statuses.map(projection), [
          // the first round, one backend at a time
          "Pending alpha=unknown/0/closed beta=unknown/0/closed gamma=unknown/0/closed",
          "Pending alpha=healthy/0/closed beta=unknown/0/closed gamma=unknown/0/closed",
          "Pending alpha=healthy/0/closed beta=healthy/0/closed gamma=unknown/0/closed",
          "Ready alpha=healthy/0/closed beta=healthy/0/closed gamma=healthy/0/closed",
          // alpha slow, then fast again
          "Degraded alpha=degraded/0/closed beta=healthy/0/closed gamma=healthy/0/closed",
          "Ready alpha=healthy/0/closed beta=healthy/0/closed gamma=healthy/0/closed",
          // gamma: 401, then restarted with the token
          "Degraded alpha=healthy/0/closed beta=healthy/0/closed gamma=unauthenticated/1/closed",
          "Degraded alpha=healthy/0/closed beta=healthy/0/closed gamma=unknown/0/closed",
          "Ready alpha=healthy/0/closed beta=healthy/0/closed gamma=healthy/0/closed",
          // beta down: the previous state holds for 2 failures
          "Ready alpha=healthy/0/closed beta=healthy/1/closed gamma=healthy/0/closed",
          "Ready alpha=healthy/0/closed beta=healthy/2/closed gamma=healthy/0/closed",
          "Degraded alpha=healthy/0/closed beta=unhealthy/3/closed gamma=healthy/0/closed",
          "Degraded alpha=healthy/0/closed beta=unhealthy/4/closed gamma=healthy/0/closed",
          "Degraded alpha=healthy/0/closed beta=unhealthy/5/open gamma=healthy/0/closed",
          // the half-open probe times out
          "Degraded alpha=healthy/0/closed beta=unhealthy/5/half-open gamma=healthy/0/closed",
          "Degraded alpha=healthy/0/closed beta=unhealthy/6/open gamma=healthy/0/closed",
          // back: the half-open probe at 430 succeeds, degraded for one interval, then healthy
          "Degraded alpha=healthy/0/closed beta=unhealthy/6/half-open gamma=healthy/0/closed",
          "Degraded alpha=healthy/0/closed beta=degraded/0/closed gamma=healthy/0/closed",
          "Ready alpha=healthy/0/closed beta=healthy/0/closed gamma=healthy/0/closed"
        ])

        // What the reports say, and what they never say.
        const byName = (status: (typeof statuses)[number], name: string) =>
          status.backends.find((b) => b.name === name)!
        const at = (index: number, name: string) => byName(statuses[index]!, name)
        assert.strictEqual(at(3, "gamma").toolCount, 3)
        assert.strictEqual(statuses[3]!.totalToolCount, 6)
        assert.strictEqual(at(4, "alpha").message, "slow: answered in more than 5 s")
        assert.match(at(6, "gamma").message, /^auth_failed \(HTTP 401\): check the credentials/)
        assert.strictEqual(at(7, "gamma").message, "not probed yet")
        assert.match(at(9, "beta").message, /^probe failed 1 of 3 times before unhealthy: connection_refused/)
        assert.match(at(11, "beta").message, /^connection_refused \(ECONNREFUSED\): nothing listens/)
        assert.match(
          at(13, "beta").message,
          /circuit open since 1970-01-01T00:04:00Z, next probe at 1970-01-01T00:05:00Z$/
        )
        assert.match(at(14, "beta").message, /circuit half-open since 1970-01-01T00:05:00Z$/)
        assert.match(
          at(15, "beta").message,
          /^timeout \(no answer within 10000 ms\); circuit open since 1970-01-01T00:05:10Z, next probe at 1970-01-01T00:07:10Z$/
        )
        assert.strictEqual(at(17, "beta").message, "recovering: answered again after failing")
        assert.strictEqual(at(11, "beta").lastTransitionTime, "1970-01-01T00:03:00Z")
        for (const status of statuses)
          for (const backend of status.backends) {
            assert.notInclude(JSON.stringify(backend), "s3cret")
            assert.strictEqual(
              backend.url,
              { alpha: alpha.url, beta: beta.url, gamma: gamma.url }[backend.name]
            )
          }
        assert.strictEqual(statuses.at(-1)!.conditions.find((c) => c.type === "Ready")?.status, "True")
      }),
    60_000
  )
})
