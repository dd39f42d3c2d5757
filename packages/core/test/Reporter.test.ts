import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber } from "effect"
import {
  type ReportContext,
  Reporter,
  ReporterError,
  type ReportOutcome,
  type RuntimeStatus,
  shuttingDown
} from "../src/index.ts"
import { backend, status, T1 } from "./fixtures.ts"

interface Call {
  readonly status: RuntimeStatus
  readonly context: ReportContext
}

/** A reporter that records every call and answers `outcome`. */
const recorder = (name: string, outcome?: ReportOutcome) => {
  const calls: Array<Call> = []
  const reporter = Reporter.make(name, (s, context) =>
    Effect.sync(() => {
      calls.push({ status: s, context })
      return outcome
    })
  )
  return { reporter, calls }
}

const failing = (name: string, error: ReporterError) => Reporter.make(name, () => Effect.fail(error))

const ready = status([backend("a", "healthy"), backend("b", "healthy")])
const change: ReportContext = { trigger: "change", changed: true, previous: undefined }
const ctx = (previous: RuntimeStatus | undefined, trigger: ReportContext["trigger"] = "change") => ({
  trigger,
  changed: true,
  previous
})

describe("Reporter.all", () => {
  it.effect("hands every reporter the same status and context, and is written when any wrote", () =>
    Effect.gen(function* () {
      const skips = recorder("skips", "skipped")
      const writes = recorder("writes")
      const both = Reporter.all("both", [skips.reporter, writes.reporter])
      assert.strictEqual(both.name, "both")
      assert.strictEqual(yield* both.report(ready, change), "written")
      for (const { calls } of [skips, writes]) {
        assert.lengthOf(calls, 1)
        assert.strictEqual(calls[0]!.status, ready)
        assert.strictEqual(calls[0]!.context, change)
      }
    })
  )

  it.effect("is skipped when every reporter skipped, and when there are none", () =>
    Effect.gen(function* () {
      const one = recorder("one", "skipped")
      const two = recorder("two", "skipped")
      assert.strictEqual(
        yield* Reporter.all("both", [one.reporter, two.reporter]).report(ready, change),
        "skipped"
      )
      assert.strictEqual(yield* Reporter.all("none", []).report(ready, change), "skipped")
    })
  )

  it.effect("keeps a throttled or conflict outcome when nothing was written, so metrics still count it", () =>
    Effect.gen(function* () {
      const skips = recorder("skips", "skipped")
      const throttled = recorder("throttled", "throttled")
      const conflict = recorder("conflict", "conflict")
      const writes = recorder("writes")
      assert.strictEqual(yield* Reporter.all("one", [throttled.reporter]).report(ready, change), "throttled")
      assert.strictEqual(
        yield* Reporter.all("two", [skips.reporter, conflict.reporter]).report(ready, change),
        "conflict"
      )
      assert.strictEqual(
        yield* Reporter.all("three", [conflict.reporter, throttled.reporter, skips.reporter]).report(
          ready,
          change
        ),
        "throttled"
      )
      assert.strictEqual(
        yield* Reporter.all("four", [throttled.reporter, writes.reporter]).report(ready, change),
        "written"
      )
    })
  )

  it.effect("runs the reporters concurrently: the first can wait for the second to start", () =>
    Effect.gen(function* () {
      const secondStarted = yield* Deferred.make<void>()
      const first = Reporter.make("first", () => Deferred.await(secondStarted))
      const second = Reporter.make("second", () => Effect.asVoid(Deferred.succeed(secondStarted, undefined)))
      // Run one after the other, `first` would wait forever (and the test time out).
      assert.strictEqual(yield* Reporter.all("both", [first, second]).report(ready, change), "written")
    })
  )

  it.effect("when one fails, the others still get the report, and that reporter's error surfaces", () =>
    Effect.gen(function* () {
      const error = new ReporterError({ reporter: "down", message: "HTTP 503" })
      const up = recorder("up")
      const exit = yield* Effect.exit(
        Reporter.all("both", [failing("down", error), up.reporter]).report(ready, change)
      )
      assert.deepStrictEqual(exit, Exit.fail(error))
      assert.lengthOf(up.calls, 1)
      assert.strictEqual(up.calls[0]!.status, ready)
    })
  )

  it.effect("when several fail, the first in list order surfaces, whichever failed first", () =>
    Effect.gen(function* () {
      const early = new ReporterError({ reporter: "early", message: "fails at once", outcome: "conflict" })
      const late = new ReporterError({ reporter: "late", message: "fails second", outcome: "throttled" })
      const earlyFailed = yield* Deferred.make<void>()
      const lateReporter = Reporter.make("late", () =>
        Deferred.await(earlyFailed).pipe(Effect.andThen(Effect.fail(late)))
      )
      const earlyReporter = Reporter.make("early", () =>
        Deferred.succeed(earlyFailed, undefined).pipe(Effect.andThen(Effect.fail(early)))
      )
      const exit = yield* Effect.exit(
        Reporter.all("both", [lateReporter, earlyReporter]).report(ready, change)
      )
      assert.deepStrictEqual(exit, Exit.fail(late))
    })
  )
})

describe("Reporter.filter", () => {
  it.effect("calls the reporter when the predicate holds, passing its outcome and failure through", () =>
    Effect.gen(function* () {
      const throttled = recorder("throttled", "throttled")
      const seen: Array<Call> = []
      const filtered = Reporter.filter(throttled.reporter, (s, context) => {
        seen.push({ status: s, context })
        return context.changed
      })
      assert.strictEqual(filtered.name, "throttled")
      assert.strictEqual(yield* filtered.report(ready, change), "throttled")
      assert.deepStrictEqual(seen, [{ status: ready, context: change }])
      assert.deepStrictEqual(throttled.calls, [{ status: ready, context: change }])

      const error = new ReporterError({ reporter: "down", message: "HTTP 503" })
      const exit = yield* Effect.exit(
        Reporter.filter(failing("down", error), () => true).report(ready, change)
      )
      assert.deepStrictEqual(exit, Exit.fail(error))
    })
  )

  it.effect("skips without calling the reporter when the predicate fails, final reports included", () =>
    Effect.gen(function* () {
      const inner = recorder("inner")
      const filtered = Reporter.filter(inner.reporter, (_s, context) => context.changed)
      for (const trigger of ["change", "tick", "final"] as const) {
        assert.strictEqual(
          yield* filtered.report(ready, { trigger, changed: false, previous: ready }),
          "skipped"
        )
      }
      assert.lengthOf(inner.calls, 0)
    })
  )
})

describe("Reporter.transitionsOnly", () => {
  const degraded = status([backend("a", "healthy"), backend("b", "degraded")])
  const bUnhealthy = status([backend("a", "healthy"), backend("b", "unhealthy")])
  // Same phase and healths as `ready`; message, tool counts and time differ.
  const moreTools = status([backend("a", "healthy", { toolCount: 9 }), backend("b", "healthy")], {
    now: T1,
    previous: ready
  })
  const withC = status([backend("a", "healthy"), backend("b", "healthy"), backend("c", "healthy")])

  it.effect.each([
    {
      case: "the first status (no previous)",
      previous: undefined,
      next: ready,
      trigger: "change",
      called: true
    },
    { case: "the phase changed", previous: ready, next: degraded, trigger: "change", called: true },
    {
      case: "a backend's health changed, the phase did not (Degraded)",
      previous: degraded,
      next: bUnhealthy,
      trigger: "change",
      called: true
    },
    { case: "a backend was added", previous: ready, next: withC, trigger: "change", called: true },
    { case: "a backend was removed", previous: withC, next: ready, trigger: "change", called: true },
    {
      case: "the shutdown status, on the final report",
      previous: ready,
      next: shuttingDown(ready, T1),
      trigger: "final",
      called: true
    },
    {
      case: "only message, tool counts and time changed",
      previous: ready,
      next: moreTools,
      trigger: "change",
      called: false
    },
    { case: "a tick with nothing changed", previous: ready, next: ready, trigger: "tick", called: false },
    {
      case: "a final report with the phase unchanged",
      previous: ready,
      next: ready,
      trigger: "final",
      called: false
    }
  ] as const)("$case: called=$called", ({ previous, next, trigger, called }) =>
    Effect.gen(function* () {
      const inner = recorder("inner")
      const outcome = yield* Reporter.transitionsOnly(inner.reporter).report(next, ctx(previous, trigger))
      assert.strictEqual(inner.calls.length, called ? 1 : 0)
      // void (written) is what the inner reporter answers.
      assert.strictEqual(outcome, called ? undefined : "skipped")
    })
  )

  it("the `moreTools` row really differs from `ready` in what it keeps out", () => {
    assert.notStrictEqual(moreTools.message, ready.message)
    assert.notStrictEqual(moreTools.totalToolCount, ready.totalToolCount)
    assert.notStrictEqual(moreTools.observedAt, ready.observedAt)
  })
})

describe("Reporter.map", () => {
  const withUrl = status([backend("a", "healthy", { url: "http://a.internal/mcp" })])
  const withUrlLater = status([backend("a", "degraded", { url: "http://a.internal/mcp" })], { now: T1 })
  const dropUrls = (s: RuntimeStatus): RuntimeStatus => ({
    ...s,
    backends: s.backends.map(({ url: _url, ...b }) => b)
  })

  it.effect("hands the reporter the transformed status and the transformed previous status", () =>
    Effect.gen(function* () {
      const inner = recorder("inner", "skipped")
      const mapped = Reporter.map(inner.reporter, dropUrls)
      assert.strictEqual(mapped.name, "inner")
      const context: ReportContext = { trigger: "tick", changed: false, previous: withUrl }
      assert.strictEqual(yield* mapped.report(withUrlLater, context), "skipped")
      assert.lengthOf(inner.calls, 1)
      const { status: seen, context: seenContext } = inner.calls[0]!
      assert.deepStrictEqual(seen, dropUrls(withUrlLater))
      assert.isUndefined(seen.backends[0]!.url)
      assert.deepStrictEqual(seenContext, { trigger: "tick", changed: false, previous: dropUrls(withUrl) })
    })
  )

  it.effect("leaves a missing previous status missing (the function never sees undefined)", () =>
    Effect.gen(function* () {
      const inner = recorder("inner")
      yield* Reporter.map(inner.reporter, dropUrls).report(withUrl, change)
      assert.strictEqual(inner.calls[0]!.context, change)
      assert.isUndefined(inner.calls[0]!.context.previous)
    })
  )

  it.effect("passes the reporter's failure through", () =>
    Effect.gen(function* () {
      const error = new ReporterError({ reporter: "down", message: "HTTP 503" })
      const exit = yield* Effect.exit(Reporter.map(failing("down", error), dropUrls).report(withUrl, change))
      assert.deepStrictEqual(exit, Exit.fail(error))
    })
  )
})

describe("Reporter.fromPromise", () => {
  it.effect("a resolved report is written, or the outcome it resolves (or returns) to", () =>
    Effect.gen(function* () {
      const received: Array<Call & { readonly aborted: boolean }> = []
      const hook = Reporter.fromPromise({
        name: "hook",
        report: async (s, context) => {
          received.push({
            status: s,
            context: { trigger: context.trigger, changed: context.changed, previous: context.previous },
            aborted: context.signal.aborted
          })
        }
      })
      assert.strictEqual(hook.name, "hook")
      assert.isUndefined(yield* hook.report(ready, ctx(ready, "tick")))
      assert.deepStrictEqual(received, [{ status: ready, context: ctx(ready, "tick"), aborted: false }])
      const skipsAsync = Reporter.fromPromise({ name: "a", report: async () => "skipped" as const })
      assert.strictEqual(yield* skipsAsync.report(ready, change), "skipped")
      const skipsSync = Reporter.fromPromise({ name: "s", report: () => "skipped" })
      assert.strictEqual(yield* skipsSync.report(ready, change), "skipped")
    })
  )

  it.effect("a rejection fails with a ReporterError naming the reporter and the cause", () =>
    Effect.gen(function* () {
      const rejectsError = Reporter.fromPromise({
        name: "hook",
        report: () => Promise.reject(new Error("HTTP 500 from hook"))
      })
      assert.deepStrictEqual(
        yield* Effect.exit(rejectsError.report(ready, change)),
        Exit.fail(new ReporterError({ reporter: "hook", message: "HTTP 500 from hook" }))
      )
      const rejectsString = Reporter.fromPromise({ name: "hook", report: () => Promise.reject("nope") })
      assert.deepStrictEqual(
        yield* Effect.exit(rejectsString.report(ready, change)),
        Exit.fail(new ReporterError({ reporter: "hook", message: "nope" }))
      )
    })
  )

  it.effect("a synchronous throw fails like a rejection, not as a defect", () =>
    Effect.gen(function* () {
      const throws = Reporter.fromPromise({
        name: "hook",
        report: () => {
          throw new TypeError("status.backends is not iterable")
        }
      })
      assert.deepStrictEqual(
        yield* Effect.exit(throws.report(ready, change)),
        Exit.fail(new ReporterError({ reporter: "hook", message: "status.backends is not iterable" }))
      )
    })
  )

  it.effect("an Effect handed back runs as one: its outcome and its error pass through unchanged", () =>
    Effect.gen(function* () {
      const error = new ReporterError({ reporter: "kube", message: "409", outcome: "conflict" })
      const fails = Reporter.fromPromise(failing("kube", error))
      assert.deepStrictEqual(yield* Effect.exit(fails.report(ready, change)), Exit.fail(error))
      const skips = Reporter.fromPromise(recorder("kube", "skipped").reporter)
      assert.strictEqual(yield* skips.report(ready, change), "skipped")
    })
  )

  it.effect("interrupting the report (timeout, stop) aborts its signal", () =>
    Effect.gen(function* () {
      let signal: AbortSignal | undefined
      let called!: () => void
      const calledOnce = new Promise<void>((resolve) => {
        called = resolve
      })
      const hangs = Reporter.fromPromise({
        name: "hook",
        report: (_s, context) => {
          signal = context.signal
          called()
          return new Promise<void>(() => {})
        }
      })
      const fiber = yield* Effect.forkChild(hangs.report(ready, change))
      yield* Effect.promise(() => calledOnce)
      assert.isFalse(signal!.aborted)
      yield* Fiber.interrupt(fiber)
      assert.isTrue(signal!.aborted)
    })
  )
})
