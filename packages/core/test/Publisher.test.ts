import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Ref } from "effect"
import { TestClock } from "effect/testing"
import {
  Publisher,
  type ReportContext,
  ReportDeferred,
  Reporter,
  ReporterError,
  type RuntimeStatus
} from "../src/index.ts"
import { backend, nth, status, T1 } from "./fixtures.ts"

interface Seen {
  readonly backends: number
  readonly trigger: ReportContext["trigger"]
  readonly changed: boolean
}

/** A reporter that records what it was given. */
const recording = (name: string) =>
  Effect.gen(function* () {
    const seen = yield* Ref.make<ReadonlyArray<Seen>>([])
    const reporter = Reporter.make(name, (s, ctx) =>
      Ref.update(seen, (all) => [
        ...all,
        { backends: s.backends.length, trigger: ctx.trigger, changed: ctx.changed }
      ])
    )
    return { reporter, seen: Ref.get(seen) }
  })

/** Lets forked fibers run to their next suspension point. */
const settle = Effect.gen(function* () {
  for (let i = 0; i < 20; i++) yield* Effect.yieldNow
})

/** Stops under TestClock: time must move for the stop deadline to pass. */
const stopUnderTestClock = (publisher: Publisher.Publisher) =>
  Effect.gen(function* () {
    const stopping = yield* Effect.forkChild(publisher.stop)
    yield* settle
    yield* TestClock.adjust("5 seconds")
    yield* settle
    return yield* Fiber.await(stopping)
  })

const failing = Reporter.make("fails", () =>
  Effect.fail(new ReporterError({ reporter: "fails", message: "HTTP 500 from http://u:secret@api.local/x" }))
)
const throwing = Reporter.make("throws", () =>
  Effect.sync(() => {
    throw new Error("boom")
  })
)
const hanging = Reporter.make("hangs", () => Effect.never)
const throwsSynchronously: Reporter.Reporter = {
  name: "throws-sync",
  report: () => {
    throw new TypeError("not even an Effect")
  }
}

describe("Publisher", () => {
  it.effect(
    "keeps the healthy reporter reporting every change and tick while others fail, throw and hang",
    () =>
      Effect.gen(function* () {
        const good = yield* recording("good")
        const publisher = yield* Publisher.make({
          reporters: [failing, throwing, hanging, throwsSynchronously, good.reporter],
          interval: "30 seconds",
          callTimeout: "10 seconds"
        })
        for (let n = 1; n <= 3; n++) {
          yield* publisher.update(nth(n))
          yield* settle
        }
        assert.deepStrictEqual(
          (yield* good.seen).map((s) => s.backends),
          [1, 2, 3]
        )
        yield* TestClock.adjust("34 seconds")
        yield* settle
        const afterTick = yield* good.seen
        assert.strictEqual(afterTick.length, 4)
        assert.deepStrictEqual(afterTick[3], { backends: 3, trigger: "tick", changed: false })

        yield* TestClock.adjust("2 minutes")
        yield* settle
        const health = yield* publisher.health
        const byName = Object.fromEntries(health.map((h) => [h.name, h]))
        assert.strictEqual(byName.good?.state, "healthy")
        assert.strictEqual(byName.good?.consecutiveFailures, 0)
        for (const name of ["fails", "throws", "hangs", "throws-sync"]) {
          assert.strictEqual(byName[name]?.state, "failing", name)
          assert.isAbove(byName[name]?.consecutiveFailures ?? 0, 1, name)
        }
        assert.include(byName.fails?.lastError, "HTTP 500")
        assert.notInclude(byName.fails?.lastError, "secret")
        assert.include(byName.throws?.lastError, "defect: boom")
        assert.include(byName.hangs?.lastError, "timed out after 10000 ms")
        assert.include(byName["throws-sync"]?.lastError, "not even an Effect")
        assert.isAbove(byName.fails?.outcomes.error ?? 0, 1)
        assert.isTrue(Exit.isSuccess(yield* stopUnderTestClock(publisher)))
      })
  )

  it.effect("never reports an older status after a newer one to a slow reporter", () =>
    Effect.gen(function* () {
      const seen = yield* Ref.make<ReadonlyArray<number>>([])
      const slow = Reporter.make("slow", (s) =>
        Effect.sleep("5 seconds").pipe(Effect.andThen(Ref.update(seen, (all) => [...all, s.backends.length])))
      )
      const publisher = yield* Publisher.make({ reporters: [slow] })
      for (let n = 1; n <= 10; n++) {
        yield* publisher.update(nth(n))
        yield* settle
        yield* TestClock.adjust("1 second")
      }
      yield* TestClock.adjust("20 seconds")
      yield* settle
      const order = yield* Ref.get(seen)
      assert.deepStrictEqual(order, [1, 5, 10])
      assert.deepStrictEqual(
        order,
        order.slice().sort((a, b) => a - b)
      )
      yield* stopUnderTestClock(publisher)
    })
  )

  it.effect("reports nothing for a change of volatile fields only", () =>
    Effect.gen(function* () {
      const good = yield* recording("good")
      const publisher = yield* Publisher.make({ reporters: [good.reporter] })
      const first = status([backend("a", "healthy")])
      yield* publisher.update(first)
      yield* settle
      yield* publisher.update({
        ...first,
        observedAt: T1,
        backends: first.backends.map((b) => ({ ...b, latencyMs: 99, lastCheckTime: T1 }))
      })
      yield* settle
      assert.strictEqual((yield* good.seen).length, 1)
      assert.strictEqual((yield* publisher.current)?.observedAt, T1)
    })
  )

  it.effect("retries with backoff and then reports the newest status, not the failed one", () =>
    Effect.gen(function* () {
      const attempts = yield* Ref.make<ReadonlyArray<number>>([])
      const down = yield* Ref.make(true)
      const flaky = Reporter.make("flaky", (s) =>
        Effect.gen(function* () {
          yield* Ref.update(attempts, (all) => [...all, s.backends.length])
          if (yield* Ref.get(down)) return yield* new ReporterError({ reporter: "flaky", message: "503" })
        })
      )
      const publisher = yield* Publisher.make({
        reporters: [flaky],
        backoff: { baseMs: 1_000, capMs: 8_000, jitter: 0 }
      })
      yield* publisher.update(nth(1))
      yield* settle
      yield* TestClock.adjust("1 second")
      yield* settle
      yield* TestClock.adjust("2 seconds")
      yield* settle
      assert.deepStrictEqual(yield* Ref.get(attempts), [1, 1, 1])
      yield* publisher.update(nth(2))
      yield* Ref.set(down, false)
      yield* TestClock.adjust("4 seconds")
      yield* settle
      assert.deepStrictEqual(yield* Ref.get(attempts), [1, 1, 1, 2])
      const [health] = yield* publisher.health
      assert.strictEqual(health?.state, "healthy")
      assert.strictEqual(health?.outcomes.error, 3)
      assert.strictEqual(health?.outcomes.written, 1)
    })
  )

  it.effect("waits at least the Retry-After a reporter asks for", () =>
    Effect.gen(function* () {
      const calls = yield* Ref.make(0)
      const throttled = Reporter.make("throttled", () =>
        Ref.updateAndGet(calls, (n) => n + 1).pipe(
          Effect.flatMap((n) =>
            n === 1
              ? Effect.fail(
                  new ReporterError({
                    reporter: "throttled",
                    message: "429",
                    outcome: "throttled",
                    retryAfterMs: 20_000
                  })
                )
              : Effect.void
          )
        )
      )
      const publisher = yield* Publisher.make({ reporters: [throttled] })
      yield* publisher.update(nth(1))
      yield* settle
      yield* TestClock.adjust("19 seconds")
      yield* settle
      assert.strictEqual(yield* Ref.get(calls), 1)
      yield* TestClock.adjust("1 second")
      yield* settle
      assert.strictEqual(yield* Ref.get(calls), 2)
      const [health] = yield* publisher.health
      assert.strictEqual(health?.outcomes.throttled, 1)
    })
  )

  it.effect("lets a reporter defer without failing, then hands it the newest status", () =>
    Effect.gen(function* () {
      const seen = yield* Ref.make<ReadonlyArray<number>>([])
      const tokens = yield* Ref.make(0)
      const limited = Reporter.make("limited", (s) =>
        Effect.gen(function* () {
          yield* Ref.update(seen, (all) => [...all, s.backends.length])
          if ((yield* Ref.getAndUpdate(tokens, (n) => n + 1)) < 2)
            return yield* new ReportDeferred({ retryAfterMs: 1_000 })
        })
      )
      const publisher = yield* Publisher.make({ reporters: [limited] })
      yield* publisher.update(nth(1))
      yield* settle
      yield* publisher.update(nth(2))
      yield* publisher.update(nth(3))
      yield* TestClock.adjust("1 second")
      yield* settle
      yield* TestClock.adjust("1 second")
      yield* settle
      assert.deepStrictEqual(yield* Ref.get(seen), [1, 3, 3])
      const [health] = yield* publisher.health
      assert.strictEqual(health?.state, "healthy")
      assert.strictEqual(health?.consecutiveFailures, 0)
      assert.strictEqual(health?.outcomes.throttled, 2)
      assert.strictEqual(health?.outcomes.written, 1)
    })
  )

  it.effect("polls a pull source on every tick and reports only what changed", () =>
    Effect.gen(function* () {
      const good = yield* recording("good")
      const source = yield* Ref.make<RuntimeStatus>(nth(1))
      const publisher = yield* Publisher.make({
        reporters: [good.reporter],
        pull: Ref.get(source),
        jitter: 0
      })
      yield* TestClock.adjust("30 seconds")
      yield* settle
      yield* Ref.set(source, nth(2))
      yield* TestClock.adjust("30 seconds")
      yield* settle
      yield* TestClock.adjust("30 seconds")
      yield* settle
      assert.deepStrictEqual(
        (yield* good.seen).map((s) => `${s.backends}/${s.trigger}/${s.changed}`),
        ["1/change/true", "2/change/true", "2/tick/false"]
      )
      assert.strictEqual((yield* publisher.current)?.backends.length, 2)
    })
  )

  it.effect("flushes the final status and releases scoped resources on stop", () =>
    Effect.gen(function* () {
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      const push = (line: string) => Ref.update(log, (all) => [...all, line])
      const withLease = Reporter.scoped(
        "leased",
        Effect.gen(function* () {
          yield* Effect.acquireRelease(push("acquired"), () => push("released"))
          return Reporter.make("leased", (s, ctx) => push(`${ctx.trigger}:${s.backends.length}`))
        })
      )
      const publisher = yield* Publisher.make({ reporters: [withLease] })
      yield* publisher.update(nth(1))
      yield* settle
      yield* publisher.update(nth(2))
      yield* publisher.stop
      yield* publisher.update(nth(3))
      yield* publisher.stop
      const lines = yield* Ref.get(log)
      assert.strictEqual(lines[0], "acquired")
      assert.strictEqual(lines.at(-1), "released")
      assert.strictEqual(lines.at(-2), "final:2")
      assert.notInclude(lines, "change:3")
      assert.strictEqual((yield* publisher.health)[0]?.state, "stopped")
    })
  )

  it.effect("derives the final status once: every reporter and current get ShuttingDown of the newest", () =>
    Effect.gen(function* () {
      const finals = yield* Ref.make<ReadonlyArray<RuntimeStatus>>([])
      const recorder = (name: string) =>
        Reporter.make(name, (s, ctx) =>
          ctx.trigger === "final" ? Ref.update(finals, (all) => [...all, s]) : Effect.void
        )
      const publisher = yield* Publisher.make({ reporters: [recorder("a"), recorder("b")] })
      yield* publisher.update(nth(2))
      yield* settle
      yield* publisher.stop
      const got = yield* Ref.get(finals)
      assert.strictEqual(got.length, 2)
      for (const final of got) {
        assert.strictEqual(final.phase, "Pending")
        assert.strictEqual(final.conditions.find((c) => c.type === "Ready")?.reason, "ShuttingDown")
        assert.deepStrictEqual(
          final.backends.map((b) => b.name),
          nth(2).backends.map((b) => b.name)
        )
      }
      assert.strictEqual(got[0], got[1])
      assert.strictEqual(yield* publisher.current, got[0])
    })
  )

  it.effect("returns from stop within its deadline while a reporter hangs", () =>
    Effect.gen(function* () {
      const publisher = yield* Publisher.make({ reporters: [hanging], stopTimeout: "5 seconds" })
      yield* publisher.update(nth(1))
      yield* settle
      const exit = yield* stopUnderTestClock(publisher)
      assert.isTrue(Exit.isSuccess(exit))
      assert.strictEqual((yield* publisher.health)[0]?.state, "stopped")
    })
  )

  it.effect(
    "releases a hanging reporter's resources and background fibers when stop cuts it at the deadline",
    () =>
      Effect.gen(function* () {
        const released = yield* Ref.make<Array<string>>([])
        const background = yield* Deferred.make<void>()
        const withResources = Reporter.scoped(
          "k8s-like",
          Effect.gen(function* () {
            yield* Effect.addFinalizer(() => Ref.update(released, (r) => [...r, "scope"]))
            // A background sender (like an Events queue) parked on a request that never answers.
            yield* Effect.forkScoped(
              Effect.never.pipe(Effect.onInterrupt(() => Deferred.succeed(background, undefined)))
            )
            return Reporter.make("k8s-like", () => Effect.never)
          })
        )
        const publisher = yield* Publisher.make({ reporters: [withResources], stopTimeout: "5 seconds" })
        yield* publisher.update(nth(1))
        yield* settle
        const exit = yield* stopUnderTestClock(publisher)
        assert.isTrue(Exit.isSuccess(exit))
        yield* settle
        assert.deepStrictEqual(yield* Ref.get(released), ["scope"])
        assert.isTrue(yield* Deferred.isDone(background))
      })
  )

  it.effect("skips a reporter that cannot start, and fails when it is required", () =>
    Effect.gen(function* () {
      const good = yield* recording("good")
      const broken = Reporter.scoped("k8s", Effect.fail(new Error("403 from the API server")))
      const publisher = yield* Publisher.make({ reporters: [broken, good.reporter] })
      yield* publisher.update(nth(1))
      yield* settle
      assert.strictEqual((yield* good.seen).length, 1)
      const [k8s] = yield* publisher.health
      assert.strictEqual(k8s?.state, "unavailable")
      assert.include(k8s?.lastError, "403")

      const required = Reporter.scoped("k8s", Effect.fail(new Error("403")), { required: true })
      const error = yield* Effect.flip(Publisher.make({ reporters: [required] }))
      assert.strictEqual(error._tag, "ReporterStartError")
    })
  )

  it.effect("rejects bad options with the option's name", () =>
    Effect.gen(function* () {
      const good = yield* recording("x")
      const bad = yield* Effect.flip(Publisher.make({ reporters: [good.reporter], interval: -1 }))
      assert.strictEqual(bad._tag, "InvalidOptionError")
      assert.include(bad.message, "interval")
      const dup = yield* Effect.flip(Publisher.make({ reporters: [good.reporter, good.reporter] }))
      assert.include(dup.message, 'two reporters are named "x"')
    })
  )

  it.effect("stops when its scope closes", () =>
    Effect.gen(function* () {
      const done = yield* Deferred.make<string>()
      yield* Effect.scoped(
        Effect.gen(function* () {
          const publisher = yield* Publisher.make({
            reporters: [
              Reporter.make("r", (_s, ctx) =>
                ctx.trigger === "final" ? Deferred.succeed(done, "final") : Effect.void
              )
            ]
          })
          yield* publisher.update(nth(1))
          yield* settle
        })
      )
      assert.strictEqual(yield* Deferred.await(done), "final")
    })
  )
})
