import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { ReporterError } from "./Errors.ts"
import type { RuntimeStatus } from "./RuntimeStatus.ts"
import { transitions } from "./Transition.ts"

/** How one report ended, for metrics: `written|skipped|conflict|throttled|error`. */
export type ReportOutcome = "written" | "skipped" | "conflict" | "throttled" | "error"

/** Why the publisher calls a reporter now. */
export type ReportTrigger = "change" | "tick" | "final"

/** What a reporter learns besides the status. */
export interface ReportContext {
  readonly trigger: ReportTrigger
  /** True when the status differs (volatile fields aside) from the last one this reporter acknowledged. */
  readonly changed: boolean
  /** The last status this reporter acknowledged, if any. */
  readonly previous: RuntimeStatus | undefined
}

/**
 * Publishes statuses somewhere. `report` returns the outcome (`void` means `written`); it fails
 * with any error, or dies, or hangs: the publisher guards every call. The publisher calls it
 * once more with `trigger: "final"` on stop.
 */
export interface Reporter<E = unknown> {
  readonly name: string
  readonly report: (status: RuntimeStatus, context: ReportContext) => Effect.Effect<ReportOutcome | void, E>
}

/**
 * A reporter that needs resources (connections, a Lease): `acquire` runs in a `Scope` the
 * publisher closes on stop, after the final report. If `acquire` fails the publisher logs it
 * and goes on without this reporter, unless `required` is set, in which case it does not start.
 */
export interface ScopedReporter<E = unknown> {
  readonly _tag: "ScopedReporter"
  readonly name: string
  readonly acquire: Effect.Effect<Reporter, E, Scope.Scope>
  readonly required: boolean
}

/** What the publisher accepts: a plain reporter or a scoped one. */
export type ReporterSource = Reporter | ScopedReporter

/**
 * Makes a reporter from a name and an Effect function.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import { Reporter } from "@vmcp-status/core"
 *
 * const console = Reporter.make("console", (status) => Effect.log(status.phase))
 * ```
 */
export const make = <E>(
  name: string,
  report: (status: RuntimeStatus, context: ReportContext) => Effect.Effect<ReportOutcome | void, E>
): Reporter<E> => ({ name, report })

/**
 * Declares a reporter with scoped resources.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import { Reporter } from "@vmcp-status/core"
 *
 * const withConnection = Reporter.scoped("db", Effect.gen(function*() {
 *   const conn = yield* Effect.acquireRelease(Effect.succeed({ rows: [] as Array<string> }), () => Effect.void)
 *   return Reporter.make("db", (status) => Effect.sync(() => { conn.rows.push(status.phase) }))
 * }), { required: true })
 * ```
 */
export const scoped = <E>(
  name: string,
  acquire: Effect.Effect<Reporter, E, Scope.Scope>,
  options: { readonly required?: boolean } = {}
): ScopedReporter<E> => ({ _tag: "ScopedReporter", name, acquire, required: options.required ?? false })

/**
 * A reporter written with Promises, for users who do not use Effect. `report` may also return
 * an Effect, so every `Reporter` is a `PromiseReporter` too and one list can mix both.
 */
export interface PromiseReporter {
  readonly name: string
  /** Rejecting or throwing counts as a failed report. `signal` aborts on timeout and on stop. */
  readonly report: (
    status: RuntimeStatus,
    context: ReportContext & { readonly signal: AbortSignal }
  ) => Promise<ReportOutcome | void> | ReportOutcome | void | Effect.Effect<ReportOutcome | void, unknown>
}

/**
 * Adapts a Promise-based reporter. Rejections (and throws) become `ReporterError`; the `signal` aborts when
 * the call times out or the publisher stops.
 *
 * @example
 * ```ts
 * import { Reporter } from "@vmcp-status/core"
 *
 * const webhook = Reporter.fromPromise({
 *   name: "webhook",
 *   report: async (status, { signal }) => {
 *     await fetch("http://127.0.0.1:9000/hook", { method: "POST", body: JSON.stringify(status), signal })
 *   }
 * })
 * ```
 */
export const fromPromise = (reporter: PromiseReporter): Reporter => {
  const toError = (cause: unknown) =>
    new ReporterError({
      reporter: reporter.name,
      message: cause instanceof Error ? cause.message : String(cause)
    })
  return make(reporter.name, (status, context) =>
    Effect.suspend(() => {
      const controller = new AbortController()
      let out: ReturnType<PromiseReporter["report"]>
      try {
        out = reporter.report(status, { ...context, signal: controller.signal })
      } catch (cause) {
        // A `report` that throws before returning its Promise fails like one that rejects.
        return Effect.fail(toError(cause))
      }
      // A report that hands back an Effect (a `Reporter.make` reporter) runs as one.
      if (Effect.isEffect(out)) return out
      return Effect.tryPromise({
        try: () => Promise.resolve(out as Promise<ReportOutcome | void>),
        catch: toError
      }).pipe(Effect.onInterrupt(() => Effect.sync(() => controller.abort())))
    })
  )
}

// The most telling outcome wins: a write, then a throttle or conflict (which metrics count), then a skip.
const outcomeRank: Record<ReportOutcome, number> = {
  written: 4,
  throttled: 3,
  conflict: 2,
  error: 1,
  skipped: 0
}

const combineOutcomes = (outcomes: ReadonlyArray<ReportOutcome | void>): ReportOutcome =>
  outcomes.reduce<ReportOutcome>((best, o) => {
    const outcome = o ?? "written"
    return outcomeRank[outcome] > outcomeRank[best] ? outcome : best
  }, "skipped")

/**
 * Runs several reporters as one, concurrently; fails if any fails (all are still called). Its
 * outcome is the most telling of theirs: written, then throttled, then conflict, then skipped.
 * Prefer giving the publisher separate reporters: each then has its own fiber, retries and
 * health. Use this when they must succeed or retry together.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import { Reporter } from "@vmcp-status/core"
 *
 * const both = Reporter.all("sinks", [Reporter.make("a", () => Effect.void), Reporter.make("b", () => Effect.void)])
 * ```
 */
export const all = <E>(name: string, reporters: ReadonlyArray<Reporter<E>>): Reporter<E> =>
  make(name, (status, context) =>
    Effect.validate(reporters, (r) => r.report(status, context), { concurrency: "unbounded" }).pipe(
      Effect.map(combineOutcomes),
      Effect.mapError((errors) => errors[0])
    )
  )

/**
 * Calls the reporter only when `predicate` holds (final reports included); otherwise the
 * report counts as `skipped`.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import { Reporter } from "@vmcp-status/core"
 *
 * const changesOnly = Reporter.filter(Reporter.make("x", () => Effect.void), (_status, ctx) => ctx.changed)
 * ```
 */
export const filter = <E>(
  reporter: Reporter<E>,
  predicate: (status: RuntimeStatus, context: ReportContext) => boolean
): Reporter<E> =>
  make(reporter.name, (status, context) =>
    predicate(status, context) ? reporter.report(status, context) : Effect.succeed("skipped" as const)
  )

/**
 * Only phase changes and backend health transitions reach the reporter (a shutdown status is
 * one: its phase changes).
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import { Reporter } from "@vmcp-status/core"
 *
 * const alerts = Reporter.transitionsOnly(Reporter.make("pager", (s) => Effect.log(`now ${s.phase}`)))
 * ```
 */
export const transitionsOnly = <E>(reporter: Reporter<E>): Reporter<E> =>
  filter(reporter, (status, context) => transitions(context.previous, status).any)

/**
 * Transforms the status before the reporter sees it (e.g. drop backend URLs).
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import { Reporter } from "@vmcp-status/core"
 *
 * const noUrls = Reporter.map(Reporter.make("x", () => Effect.void), (s) => ({
 *   ...s, backends: s.backends.map(({ url: _url, ...b }) => b)
 * }))
 * ```
 */
export const map = <E>(reporter: Reporter<E>, f: (status: RuntimeStatus) => RuntimeStatus): Reporter<E> =>
  make(reporter.name, (status, context) =>
    reporter.report(
      f(status),
      context.previous === undefined ? context : { ...context, previous: f(context.previous) }
    )
  )
