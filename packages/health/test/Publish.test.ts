import { assert, describe, it } from "@effect/vitest"
import type { RuntimeStatus } from "@vmcp-status/core"
import { McpBackend } from "@vmcp-status/testkit"
import { Effect } from "effect"
import { HealthChecker, onlyVolatileChanges, publishTo } from "../src/index.ts"
import { round, untilSnapshot } from "./fixtures.ts"

describe("publishTo", () => {
  it.effect(
    "publishes every meaningful change at once, and volatile-only refreshes at most once a second",
    () =>
      Effect.gen(function* () {
        const fixtures = yield* Effect.forEach([0, 1, 2], () => McpBackend.make())
        const names = ["a", "b", "c"]
        const checker = yield* HealthChecker.make({
          interval: "30 seconds",
          jitter: 0,
          backends: fixtures.map((f, i) => ({ name: names[i]!, transport: "streamable-http", url: f.url }))
        })
        const updates: Array<RuntimeStatus> = []
        yield* publishTo(checker, { update: (status) => Effect.sync(() => void updates.push(status)) })
        /** Lets the publishing fiber catch up with the checker (scheduling only, no time passes). */
        const caughtUp = (predicate: (last: RuntimeStatus | undefined) => boolean) =>
          Effect.gen(function* () {
            for (let i = 0; i < 1000 && !predicate(updates.at(-1)); i++) yield* Effect.yieldNow
            assert.isTrue(predicate(updates.at(-1)), "the publisher caught up")
          })
        yield* untilSnapshot(checker, (s) => s.initialRoundComplete)
        yield* caughtUp((last) => last?.phase === "Ready")
        const afterFirst = updates.length
        // Rounds at 30 s and 60 s: three volatile-only snapshots each, at one instant: one update each.
        yield* round(checker, "30 seconds", names)
        yield* caughtUp((last) => last?.observedAt === "1970-01-01T00:00:30Z")
        yield* round(checker, "30 seconds", names)
        yield* caughtUp((last) => last?.observedAt === "1970-01-01T00:01:00Z")
        yield* Effect.forEach(Array.from({ length: 10 }), () => Effect.yieldNow)
        assert.strictEqual(updates.length, afterFirst + 2)
        // A meaningful change is never held back, even right after a refresh at the same instant.
        yield* fixtures[1]!.setMode({ kind: "rate-limited" })
        const s = yield* round(checker, "30 seconds", names)
        yield* caughtUp((last) => last?.phase === "Degraded")
        assert.strictEqual(updates.at(-1)?.observedAt, "1970-01-01T00:01:30Z")
        assert.isTrue(
          onlyVolatileChanges(s, { ...s, backends: s.backends.map((b) => ({ ...b, latencyMs: 7 })) })
        )
        assert.isFalse(onlyVolatileChanges(s, { ...s, initialRoundComplete: false }))
      })
  )
})
