import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Random from "effect/Random"
import * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import { type BackoffOptions, backoffDelay, jitteredInterval } from "./Backoff.ts"
import { isEquivalent } from "./Canonical.ts"
import { InvalidOptionError, ReportDeferred, ReporterStartError } from "./Errors.ts"
import { redactText } from "./Redact.ts"
import type { ReportContext, Reporter, ReporterSource, ReportOutcome, ReportTrigger } from "./Reporter.ts"
import { type RuntimeStatus, shuttingDown } from "./RuntimeStatus.ts"
import { toTimestamp } from "./Timestamp.ts"

/** Defaults of the publisher, in one place. */
export const PublisherDefaults = {
  intervalMs: 30_000,
  jitter: 0.1,
  callTimeoutMs: 10_000,
  stopTimeoutMs: 5_000
} as const

/** Options of `Publisher.make`. Every field has a default. */
export interface PublisherOptions {
  readonly reporters: ReadonlyArray<ReporterSource>
  /** A pull source, called on every tick; its result counts as an `update`. */
  readonly pull?: Effect.Effect<RuntimeStatus, unknown>
  /** A status to publish right away. */
  readonly initial?: RuntimeStatus
  /** The periodic report interval (default 30 s). */
  readonly interval?: Duration.Input
  /** Relative jitter of the interval (default 0.1: ±10 %). */
  readonly jitter?: number
  /** The time one `report` call may take before it counts as failed (default 10 s). */
  readonly callTimeout?: Duration.Input
  /** Retry backoff per reporter (default 200 ms doubling up to 30 s, ±20 %). */
  readonly backoff?: BackoffOptions
  /** The total time `stop` gives every reporter to flush its final status (default 5 s). */
  readonly stopTimeout?: Duration.Input
}

/** The observable health of one reporter. Times are epoch milliseconds. */
export interface ReporterHealth {
  readonly name: string
  /** `idle` before the first report, `unavailable` when it could not start. */
  readonly state: "idle" | "healthy" | "failing" | "unavailable" | "stopped"
  readonly lastSuccessAt: number | undefined
  readonly lastAttemptAt: number | undefined
  readonly consecutiveFailures: number
  /** The last failure, secrets redacted. */
  readonly lastError: string | undefined
  /** How many reports ended in each outcome. */
  readonly outcomes: Readonly<Record<ReportOutcome, number>>
}

/** A running publisher. */
export interface Publisher {
  /** Pushes a status; reporters are called only if it differs beyond volatile fields. */
  readonly update: (status: RuntimeStatus) => Effect.Effect<void>
  /** The latest status, if any. */
  readonly current: Effect.Effect<RuntimeStatus | undefined>
  /** The health of every reporter, in the order they were given. */
  readonly health: Effect.Effect<ReadonlyArray<ReporterHealth>>
  /** Every change of `health`, starting with the current value. */
  readonly healthChanges: Stream.Stream<ReadonlyArray<ReporterHealth>>
  /**
   * Stops ticking, flushes the final status to every reporter within `stopTimeout` (trigger
   * `final`), releases everything. Idempotent. The final status is `shuttingDown` of the newest
   * one (phase `Pending`, `Ready=False` reason `ShuttingDown`), derived once here for every
   * reporter; `current` returns it from then on.
   */
  readonly stop: Effect.Effect<void>
}

interface Job {
  readonly status: RuntimeStatus
  /** Counts meaningful changes: equal versions are equivalent statuses (`isEquivalent`). */
  readonly version: number
  readonly trigger: ReportTrigger
}

interface Slot {
  readonly name: string
  readonly reporter: Reporter | undefined
  readonly scope: Scope.Closeable | undefined
  readonly mailbox: Queue.Queue<Job>
  acked: Job | undefined
}

const emptyOutcomes = (): Record<ReportOutcome, number> => ({
  written: 0,
  skipped: 0,
  conflict: 0,
  throttled: 0,
  error: 0
})

const initialHealth = (name: string, state: ReporterHealth["state"]): ReporterHealth => ({
  name,
  state,
  lastSuccessAt: undefined,
  lastAttemptAt: undefined,
  consecutiveFailures: 0,
  lastError: undefined,
  outcomes: emptyOutcomes()
})

const describeCause = (cause: Cause.Cause<unknown>): string => {
  const squashed = Cause.squash(cause)
  const text =
    squashed instanceof Error
      ? squashed.message
      : typeof squashed === "object" && squashed !== null && "message" in squashed
        ? String(squashed.message)
        : String(squashed)
  return redactText(Cause.hasDies(cause) ? `defect: ${text}` : text)
}

const failureDetails = (cause: Cause.Cause<unknown>): { outcome: ReportOutcome; retryAfterMs: number } => {
  const error = Cause.findError(cause)
  if (error._tag === "Success" && typeof error.success === "object" && error.success !== null) {
    const e = error.success as { outcome?: unknown; retryAfterMs?: unknown }
    const outcome = e.outcome === "conflict" || e.outcome === "throttled" ? e.outcome : "error"
    const retryAfterMs = typeof e.retryAfterMs === "number" && e.retryAfterMs > 0 ? e.retryAfterMs : 0
    return { outcome, retryAfterMs }
  }
  return { outcome: "error", retryAfterMs: 0 }
}

const positiveMillis = (option: string, input: Duration.Input | undefined, fallback: number) =>
  Effect.gen(function* () {
    if (input === undefined) return fallback
    const decoded = Duration.fromInput(input)
    if (Option.isNone(decoded) || !(Duration.toMillis(decoded.value) > 0))
      return yield* new InvalidOptionError({
        option,
        message: `${option} must be a positive duration such as "30 seconds" or 30000 (ms), got ${String(input)}`
      })
    return Duration.toMillis(decoded.value)
  })

/**
 * Starts a publisher in the current `Scope` (closing the scope stops it).
 *
 * Every reporter gets its own fiber and a latest-wins mailbox: a slow reporter only delays
 * itself and never reports a status older than one it already saw. Each call is guarded by a
 * timeout; failures, defects and hangs are caught, retried with capped exponential backoff and
 * jitter (newer statuses replace the one being retried), and recorded in `health`.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import { Publisher, Reporter, deriveStatus } from "@vmcp-status/core"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const publisher = yield* Publisher.make({
 *     reporters: [Reporter.make("console", (s) => Effect.log(`${s.phase}: ${s.message}`))]
 *   })
 *   yield* publisher.update(deriveStatus({ backends: [], initialRoundComplete: true, now: "2026-11-25T18:00:00Z" }))
 *   yield* publisher.stop
 * }))
 * ```
 */
export const make = Effect.fnUntraced(function* (options: PublisherOptions) {
  const intervalMs = yield* positiveMillis("interval", options.interval, PublisherDefaults.intervalMs)
  const callTimeoutMs = yield* positiveMillis(
    "callTimeout",
    options.callTimeout,
    PublisherDefaults.callTimeoutMs
  )
  const stopTimeoutMs = yield* positiveMillis(
    "stopTimeout",
    options.stopTimeout,
    PublisherDefaults.stopTimeoutMs
  )
  const jitter = options.jitter ?? PublisherDefaults.jitter
  if (!(jitter >= 0 && jitter < 1))
    return yield* new InvalidOptionError({
      option: "jitter",
      message: `jitter must be in [0, 1), got ${jitter}`
    })
  const names = new Set<string>()
  for (const source of options.reporters) {
    if (names.has(source.name))
      return yield* new InvalidOptionError({
        option: "reporters",
        message: `two reporters are named "${source.name}"; give each a unique name`
      })
    names.add(source.name)
  }

  const outerScope = yield* Effect.scope
  const healthRef = yield* SubscriptionRef.make<ReadonlyArray<ReporterHealth>>(
    options.reporters.map((r) => initialHealth(r.name, "idle"))
  )
  const setHealth = (index: number, f: (h: ReporterHealth) => ReporterHealth) =>
    SubscriptionRef.update(healthRef, (all) => all.map((h, i) => (i === index ? f(h) : h)))

  // Acquire every reporter; scoped ones get their own scope, closed after the final flush.
  const slots: Array<Slot> = []
  for (const [index, source] of options.reporters.entries()) {
    const mailbox = yield* Queue.sliding<Job>(1)
    if (!("_tag" in source)) {
      slots.push({ name: source.name, reporter: source, scope: undefined, mailbox, acked: undefined })
      continue
    }
    const scope = yield* Scope.make()
    const acquired = yield* Effect.exit(Scope.provide(source.acquire, scope))
    if (Exit.isSuccess(acquired)) {
      slots.push({ name: source.name, reporter: acquired.value, scope, mailbox, acked: undefined })
      continue
    }
    yield* Scope.close(scope, acquired)
    const message = describeCause(acquired.cause)
    if (source.required) {
      for (const slot of slots) if (slot.scope) yield* Scope.close(slot.scope, Exit.void)
      return yield* new ReporterStartError({ reporter: source.name, message })
    }
    yield* Effect.logWarning(`reporter "${source.name}" could not start and is skipped: ${message}`)
    yield* setHealth(index, (h) => ({ ...h, state: "unavailable", lastError: message }))
    slots.push({ name: source.name, reporter: undefined, scope: undefined, mailbox, acked: undefined })
  }

  /**
   * One guarded call: timeout, full cause caught, health recorded. Returns `undefined` on
   * success, the retry delay floor on failure, or the delay a deferring reporter asked for.
   */
  const attempt = (index: number, slot: Slot, reporter: Reporter, job: Job, timeoutMs: number) =>
    Effect.gen(function* () {
      const context: ReportContext = {
        trigger: job.trigger,
        changed:
          slot.acked === undefined ||
          (slot.acked.version !== job.version && !isEquivalent(slot.acked.status, job.status)),
        previous: slot.acked?.status
      }
      const exit = yield* Effect.suspend(() => reporter.report(job.status, context)).pipe(
        Effect.timeoutOrElse({
          duration: timeoutMs,
          orElse: () => Effect.fail(new Error(`timed out after ${timeoutMs} ms`))
        }),
        Effect.exit
      )
      const now = yield* Clock.currentTimeMillis
      if (Exit.isSuccess(exit)) {
        const outcome: ReportOutcome = exit.value ?? "written"
        slot.acked = job
        const was = (yield* SubscriptionRef.get(healthRef))[index]
        if (was?.state === "failing") yield* Effect.logInfo(`reporter "${slot.name}" recovered`)
        yield* setHealth(index, (h) => ({
          ...h,
          state: "healthy",
          lastSuccessAt: now,
          lastAttemptAt: now,
          consecutiveFailures: 0,
          outcomes: { ...h.outcomes, [outcome]: h.outcomes[outcome] + 1 }
        }))
        return undefined
      }
      const deferred = Cause.findError(exit.cause)
      if (deferred._tag === "Success" && deferred.success instanceof ReportDeferred) {
        yield* setHealth(index, (h) => ({
          ...h,
          lastAttemptAt: now,
          outcomes: { ...h.outcomes, throttled: h.outcomes.throttled + 1 }
        }))
        return { deferMs: Math.max(0, deferred.success.retryAfterMs) }
      }
      const message = describeCause(exit.cause)
      const { outcome, retryAfterMs } = failureDetails(exit.cause)
      const was = (yield* SubscriptionRef.get(healthRef))[index]
      if (was?.state !== "failing")
        yield* Effect.logWarning(`reporter "${slot.name}" failed, retrying with backoff: ${message}`)
      yield* setHealth(index, (h) => ({
        ...h,
        state: "failing",
        lastAttemptAt: now,
        consecutiveFailures: h.consecutiveFailures + 1,
        lastError: message,
        outcomes: { ...h.outcomes, [outcome]: h.outcomes[outcome] + 1 }
      }))
      return { retryAfterMs }
    })

  const worker = (index: number, slot: Slot, reporter: Reporter) =>
    Effect.gen(function* () {
      while (true) {
        let job = yield* Queue.take(slot.mailbox)
        let failures = 0
        while (true) {
          const result = yield* attempt(index, slot, reporter, job, callTimeoutMs)
          if (result === undefined) break
          let delay: number
          if ("deferMs" in result) delay = result.deferMs
          else {
            failures++
            delay = Math.max(backoffDelay(failures, yield* Random.next, options.backoff), result.retryAfterMs)
          }
          yield* Effect.sleep(delay)
          const newer = yield* Queue.poll(slot.mailbox)
          if (Option.isSome(newer)) job = newer.value
        }
      }
    })

  const workers: Array<Fiber.Fiber<unknown>> = []
  for (const [index, slot] of slots.entries()) {
    if (slot.reporter !== undefined)
      workers.push(yield* Effect.forkIn(worker(index, slot, slot.reporter), outerScope))
  }

  let latest: Job | undefined
  let versions = 0
  let stopped = false

  const dispatch = (job: Job) =>
    Effect.sync(() => {
      for (const slot of slots) if (slot.reporter !== undefined) Queue.offerUnsafe(slot.mailbox, job)
    })

  const update = (status: RuntimeStatus) =>
    Effect.suspend(() => {
      if (stopped) return Effect.void
      const meaningful = latest === undefined || !isEquivalent(latest.status, status)
      latest = { status, version: meaningful ? ++versions : (latest?.version ?? 0), trigger: "change" }
      return meaningful ? dispatch(latest) : Effect.void
    })

  const tick = Effect.gen(function* () {
    if (options.pull !== undefined) {
      const pulled = yield* Effect.exit(options.pull)
      if (Exit.isSuccess(pulled)) {
        const before = latest?.version
        yield* update(pulled.value)
        if (latest !== undefined && latest.version !== before) return
      } else {
        yield* Effect.logWarning(`status source failed: ${describeCause(pulled.cause)}`)
      }
    }
    if (latest !== undefined && !stopped) yield* dispatch({ ...latest, trigger: "tick" })
  })

  const ticker = yield* Effect.forkIn(
    Effect.gen(function* () {
      while (true) {
        yield* Effect.sleep(jitteredInterval(intervalMs, jitter, yield* Random.next))
        yield* tick
      }
    }),
    outerScope
  )

  if (options.initial !== undefined) yield* update(options.initial)

  const flushAndRelease = Effect.gen(function* () {
    yield* Fiber.interruptAll(workers)
    const final = latest
    yield* Effect.forEach(
      slots.entries(),
      ([index, slot]) =>
        Effect.gen(function* () {
          if (slot.reporter !== undefined && final !== undefined)
            yield* attempt(index, slot, slot.reporter, { ...final, trigger: "final" }, stopTimeoutMs)
        }).pipe(
          // Also when the flush is cut at the deadline: the reporter's resources (sockets,
          // background fibers) go with it, so nothing keeps the process alive after stop.
          Effect.ensuring(slot.scope === undefined ? Effect.void : Scope.close(slot.scope, Exit.void))
        ),
      { concurrency: "unbounded", discard: true }
    )
  })

  const stop = Effect.suspend(() => {
    if (stopped) return Effect.void
    stopped = true
    return Effect.gen(function* () {
      yield* Fiber.interrupt(ticker)
      // The final status is derived here and nowhere else: `shuttingDown` of the newest
      // (docs/behaviours.md#shutdown).
      if (latest !== undefined) {
        const final = shuttingDown(latest.status, toTimestamp(yield* Clock.currentTimeMillis))
        const version = isEquivalent(latest.status, final) ? latest.version : ++versions
        latest = { status: final, version, trigger: "final" }
      }
      // The flush runs detached so that a reporter that ignores interruption cannot hold stop
      // past its deadline; whatever is left after the deadline is interrupted in the background.
      const flush = yield* Effect.forkDetach(flushAndRelease)
      const done = yield* Fiber.await(flush).pipe(Effect.timeoutOption(stopTimeoutMs))
      if (Option.isNone(done)) {
        yield* Effect.logWarning(`reporters did not finish within ${stopTimeoutMs} ms; interrupting them`)
        yield* Effect.forkDetach(Fiber.interrupt(flush))
      }
      yield* SubscriptionRef.update(healthRef, (all) =>
        all.map((h) => (h.state === "unavailable" ? h : { ...h, state: "stopped" as const }))
      )
    })
  })

  yield* Scope.addFinalizer(outerScope, stop)

  const publisher: Publisher = {
    update,
    current: Effect.sync(() => latest?.status),
    health: SubscriptionRef.get(healthRef),
    healthChanges: SubscriptionRef.changes(healthRef),
    stop
  }
  return publisher
})
