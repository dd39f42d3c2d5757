import { assert, describe, it } from "@effect/vitest"
import { type McpBackendHandle, startMcpBackend } from "@vmcp-status/testkit"
import { Effect, Stream } from "effect"
import { TestClock } from "effect/testing"
import { HealthChecker, type HealthSnapshot } from "../src/index.ts"
import { untilSnapshot } from "./fixtures.ts"

const N = 200
const T0 = "1970-01-01T00:00:00Z"

/** Probes that reached their backend: the first sends `initialize` then `ping`, the next ones `ping` only. */
const arrived = (handles: ReadonlyArray<McpBackendHandle>) =>
  handles.reduce((sum, h) => {
    const counts = h.requestCounts()
    return sum + Math.max(counts.initialize ?? 0, counts.ping ?? 0)
  }, 0)

/** Probes that finished, read from the snapshot: 1 per backend checked at 0 s, 2 per backend checked later. */
const completed = (snapshot: HealthSnapshot) =>
  snapshot.backends.reduce(
    (sum, b) => sum + (b.lastCheckTime === undefined ? 0 : b.lastCheckTime === T0 ? 1 : 2),
    0
  )

describe("scale", () => {
  it.effect(
    "200 real backends: each round completes within one interval, never more than 32 probes in flight",
    () =>
      Effect.gen(function* () {
        const handles = yield* Effect.acquireRelease(
          Effect.promise(() => Promise.all(Array.from({ length: N }, () => startMcpBackend()))),
          (all) => Effect.promise(() => Promise.all(all.map((h) => h.close())))
        )
        const wallStart = performance.now()
        // Defaults: interval 30 s ±10 %, concurrency 32. The slow threshold is raised because the
        // test clock jumps 33 s in one go while probes are on the wire.
        // The timeout is raised too: it also bounds each SDK request in real time (timeout + 5 s),
        // and 200 servers in this process on a loaded machine can take longer than 15 s to answer.
        const checker = yield* HealthChecker.make({
          slowThreshold: "9 seconds",
          timeout: "2 minutes",
          backends: handles.map((h, i) => ({
            name: `b${String(i).padStart(3, "0")}`,
            transport: "streamable-http",
            url: h.url
          }))
        })
        // At every change, in one synchronous step: probes that reached a backend minus probes
        // that reported is the number in flight.
        let maxInFlight = 0
        let samples = 0
        yield* checker.changes.pipe(
          Stream.runForEach(() =>
            Effect.gen(function* () {
              const inFlight = arrived(handles) - completed(yield* checker.current)
              maxInFlight = Math.max(maxInFlight, inFlight)
              samples++
            })
          ),
          Effect.forkScoped
        )

        // Round 1 starts at once: all 200 healthy while the test clock still reads 0 s.
        const first = yield* untilSnapshot(checker, (s) => s.initialRoundComplete)
        const roundMs = performance.now() - wallStart
        assert.strictEqual(first.backends.length, N)
        assert.deepStrictEqual(
          first.backends
            .filter((b) => b.health !== "healthy" || b.lastCheckTime !== T0)
            .map((b) => `${b.name}: ${b.health} at ${b.lastCheckTime} (${b.message})`),
          []
        )
        assert.strictEqual(arrived(handles), N)
        const firstMax = maxInFlight

        // Round 2: within interval·(1 + jitter) every backend is probed exactly once more, at
        // jittered times spread over [27 s, 33 s].
        const secondStart = performance.now()
        yield* TestClock.adjust("33 seconds")
        const second = yield* untilSnapshot(checker, (s) => completed(s) === 2 * N)
        const secondMs = performance.now() - secondStart
        const times = second.backends.map((b) => Date.parse(b.lastCheckTime!) / 1000)
        assert.isTrue(times.every((t) => t >= 27 && t <= 33))
        assert.isAbove(new Set(times).size, 5)
        assert.isTrue(
          handles.every((h) => h.requestCounts().ping === 2 && h.requestCounts().initialize === 1)
        )
        assert.isTrue(second.backends.every((b) => b.health === "healthy"))

        assert.isAtMost(maxInFlight, 32)
        assert.isAtLeast(firstMax, 16)
        console.log(
          `scale: ${N} backends, round 1 (connect + ping + tools/list) in ${Math.round(roundMs)} ms, round 2 (ping on kept sessions) in ${Math.round(secondMs)} ms wall clock, max ${maxInFlight} probes in flight (${samples} samples)`
        )
      }),
    // A bound for a hang: 200 servers and their probes share this process, and under a CPU hog
    // beside the whole suite round 1 has taken over a minute of wall clock.
    600_000
  )
})
