import {
  type BackendHealthReport,
  jitteredInterval,
  redactUrl,
  stableJson,
  type Timestamp,
  toTimestamp
} from "@vmcp-status/core"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Queue from "effect/Queue"
import * as Random from "effect/Random"
import * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import type * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import { afterProbe, type Breaker, beforeProbe, closedBreaker } from "./CircuitBreaker.ts"
import {
  type BackendConfig,
  type HealthOptions,
  type ResolvedOptions,
  resolveOptions,
  validateBackends
} from "./Config.ts"
import type { ProbeFailure } from "./ErrorCategory.ts"
import type { InvalidHealthConfig } from "./Errors.ts"
import { type HealthState, initialHealthState, nextHealthState, type ProbeOutcome } from "./HealthState.ts"
import { type Discovered, makeProber, type OtherCounts, type Prober } from "./internal/Prober.ts"

/** What the health checker knows at one moment: what `deriveStatus` needs. */
export interface HealthSnapshot {
  /** One report per configured backend, sorted by name. */
  readonly backends: ReadonlyArray<BackendHealthReport>
  /** True once every backend configured at start (and any added before that) has been probed once. Stays true. */
  readonly initialRoundComplete: boolean
  /**
   * When discovery last found a different set of tools (the first discovery included), across
   * all backends. A periodic discovery that finds the same tools does not move it, so it never
   * causes a status write by itself.
   */
  readonly lastDiscoveryTime: Timestamp | undefined
}

/** The circuit breaker of one backend. */
export interface CircuitInfo {
  readonly name: string
  readonly state: Breaker["state"]
  /** When `state` last changed. */
  readonly changedAt: Timestamp
  /** While open: when one half-open probe will be let through. */
  readonly openUntil: Timestamp | undefined
  readonly consecutiveFailures: number
}

/** A running health checker. */
export interface HealthChecker {
  /** The latest snapshot. */
  readonly current: Effect.Effect<HealthSnapshot>
  /** The current snapshot, then every change (one per probe result or configuration change). */
  readonly changes: Stream.Stream<HealthSnapshot>
  /**
   * Replaces the backend list. Backends whose configuration changed in any way (credentials
   * included) restart from `unknown` with a fresh session and a closed circuit; removed ones are
   * stopped, their sessions closed, and never report again.
   */
  readonly setBackends: (backends: ReadonlyArray<BackendConfig>) => Effect.Effect<void, InvalidHealthConfig>
  /** Every backend's circuit breaker, sorted by name. */
  readonly circuits: Effect.Effect<ReadonlyArray<CircuitInfo>>
  /**
   * Probes a backend now instead of at its next interval, ending an open circuit's wait with its
   * half-open probe, and succeeds with the backend's report after that probe (`undefined` for a
   * backend not in the list, or one removed meanwhile). Callers bound how often (see the app's
   * recheck route); the checker runs each recheck.
   */
  readonly recheck: (name: string) => Effect.Effect<BackendHealthReport | undefined>
  /** Stops probing and closes every session and child process. Idempotent. */
  readonly stop: Effect.Effect<void>
}

interface Runner {
  readonly config: BackendConfig
  readonly scope: Scope.Closeable
  /** The redacted URL, computed once. */
  readonly url: string | undefined
  /** The report of the current state, rebuilt only when this runner changes. */
  report: BackendHealthReport
  health: HealthState
  breaker: Breaker
  toolCount: number
  /** Resource, template and prompt counts, when the probe reports them. */
  others: OtherCounts | undefined
  toolsKey: string | undefined
  lastDiscoveryAt: number | undefined
  lastCheckAt: number | undefined
  latencyMs: number | undefined
  probed: boolean
  /** Probe now: the loop takes it instead of sleeping. */
  readonly recheckNow: Queue.Queue<void>
  /** Who waits for the next probe's report. */
  waiting: Array<Deferred.Deferred<BackendHealthReport | undefined>>
}

const configKey = (config: BackendConfig): string => {
  const { check: _check, ...data } = config as BackendConfig & { check?: unknown }
  return stableJson(data)
}

const sameConfig = (a: BackendConfig, b: BackendConfig): boolean =>
  configKey(a) === configKey(b) && ("check" in a ? "check" in b && a.check === b.check : !("check" in b))

const reportUrl = (config: BackendConfig): string | undefined =>
  "url" in config && config.url !== undefined ? redactUrl(config.url) : undefined

const circuitNote = (breaker: Breaker): string => {
  if (breaker.state === "closed") return ""
  const since = `circuit ${breaker.state} since ${toTimestamp(breaker.changedAt)}`
  return breaker.state === "open" ? `${since}, next probe at ${toTimestamp(breaker.openUntil)}` : since
}

const toReport = (runner: Omit<Runner, "report">): BackendHealthReport => {
  const url = runner.url
  const note = circuitNote(runner.breaker)
  const message =
    note === ""
      ? runner.health.message
      : runner.health.message === ""
        ? note
        : `${runner.health.message}; ${note}`
  return {
    name: runner.config.name,
    transport: runner.config.transport,
    ...(url === undefined ? {} : { url }),
    health: runner.health.health,
    message,
    toolCount: runner.toolCount,
    ...runner.others,
    consecutiveFailures: runner.health.consecutiveFailures,
    circuit: runner.breaker.state,
    lastTransitionTime: toTimestamp(runner.health.lastTransitionAt),
    ...(runner.lastCheckAt === undefined ? {} : { lastCheckTime: toTimestamp(runner.lastCheckAt) }),
    ...(runner.latencyMs === undefined ? {} : { latencyMs: runner.latencyMs })
  }
}

const describeDefect = (cause: Cause.Cause<ProbeFailure>): ProbeFailure => {
  const failure = Cause.findError(cause)
  return failure._tag === "Success" ? failure.success : { category: "probe_error", detail: "probe crashed" }
}

/**
 * Starts checking the health of `options.backends` in the current `Scope` (closing it stops
 * the checker). Each backend gets its own fiber that probes it every `interval` (jittered),
 * at most `concurrency` probes run at once, every probe is bounded by `timeout` (an Effect
 * timeout, so `TestClock` drives it in tests), and a per-backend circuit breaker stops probing a
 * backend that keeps failing. Results feed the pure state machine (`nextHealthState`) and come
 * out as `HealthSnapshot`s on `changes`.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
 * import { HealthChecker } from "@vmcp-status/health"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const checker = yield* HealthChecker.make({
 *     backends: [{ name: "github", transport: "streamable-http", url: "http://127.0.0.1:8080/mcp" }]
 *   })
 *   yield* checker.changes.pipe(Stream.take(2), Stream.runForEach((s) => Effect.log(s.backends[0]?.health)))
 * }))
 * ```
 */
export const make = Effect.fnUntraced(function* (options: HealthOptions) {
  const { backends: initialBackends, ...rest } = options
  const settings: ResolvedOptions = yield* resolveOptions(rest)
  const validated = yield* validateBackends(initialBackends)
  const outerScope = yield* Effect.scope
  const semaphore = yield* Semaphore.make(settings.concurrency)
  const configLock = yield* Semaphore.make(1)
  const runners = new Map<string, Runner>()
  let roundComplete = false
  let starting = true
  let stopped = false
  const thresholds = { unhealthyAfter: settings.unhealthyAfter, slowMs: settings.slowMs }

  /** Runners sorted by name, so a snapshot is a copy of cached reports, not a rebuild. */
  let ordered: Array<Runner> = []
  const reorder = () => {
    ordered = [...runners.values()].sort((a, b) =>
      a.config.name < b.config.name ? -1 : a.config.name > b.config.name ? 1 : 0
    )
  }

  const snapshot = (): HealthSnapshot => {
    let lastDiscovery: number | undefined
    let unprobed = 0
    const backends = new Array<BackendHealthReport>(ordered.length)
    for (const [i, r] of ordered.entries()) {
      backends[i] = r.report
      if (!r.probed) unprobed++
      if (
        r.lastDiscoveryAt !== undefined &&
        (lastDiscovery === undefined || r.lastDiscoveryAt > lastDiscovery)
      )
        lastDiscovery = r.lastDiscoveryAt
    }
    if (!(starting || roundComplete) && unprobed === 0) roundComplete = true
    return {
      backends,
      initialRoundComplete: roundComplete,
      lastDiscoveryTime: lastDiscovery === undefined ? undefined : toTimestamp(lastDiscovery)
    }
  }

  const ref = yield* SubscriptionRef.make<HealthSnapshot>(snapshot())
  /** Publishes the runner's news, unless it was removed or replaced meanwhile. */
  const publish = (runner?: Runner) =>
    Effect.suspend(() => {
      if (stopped || (runner !== undefined && runners.get(runner.config.name) !== runner)) return Effect.void
      if (runner !== undefined) runner.report = toReport(runner)
      return SubscriptionRef.set(ref, snapshot())
    })

  const timed = <A>(effect: Effect.Effect<A, ProbeFailure>) =>
    effect.pipe(
      Effect.timeoutOrElse({
        duration: settings.timeoutMs,
        orElse: () =>
          Effect.fail<ProbeFailure>({
            category: "timeout",
            detail: `no answer within ${settings.timeoutMs} ms`
          })
      }),
      Effect.catchCause((cause) => Effect.fail(describeDefect(cause)))
    )

  const recordTools = (runner: Runner, found: Discovered, at: number) => {
    if (runner.toolsKey !== found.key) {
      runner.toolsKey = found.key
      runner.lastDiscoveryAt = at
    }
    runner.toolCount = found.count
    runner.others = found.others
  }

  const loop = (runner: Runner, prober: Prober, wake: Queue.Queue<void>) =>
    Effect.gen(function* () {
      let nextDue = yield* Clock.currentTimeMillis
      let discoveryDue = 0
      while (true) {
        const now = yield* Clock.currentTimeMillis
        if (nextDue > now) {
          const woken = yield* Effect.raceAll([
            Effect.as(Effect.sleep(nextDue - now), "due" as const),
            Effect.as(Queue.take(wake), "changed" as const),
            Effect.as(Queue.take(runner.recheckNow), "recheck" as const)
          ])
          if (woken === "recheck") {
            // A recheck ends an open circuit's wait: the probe below is its half-open probe.
            const at = yield* Clock.currentTimeMillis
            if (runner.breaker.state === "open") runner.breaker = { ...runner.breaker, openUntil: at }
            nextDue = at
          } else if (woken === "changed") {
            // tools/list_changed: discover now, on the kept session, if the circuit is closed.
            if (runner.breaker.state !== "closed") continue
            const found = yield* Effect.exit(semaphore.withPermit(timed(prober.discover)))
            const at = yield* Clock.currentTimeMillis
            if (Exit.isSuccess(found) && found.value !== undefined) {
              recordTools(runner, found.value, at)
              discoveryDue = at + settings.discoveryIntervalMs
              yield* publish(runner)
            } else discoveryDue = 0
            continue
          }
        }
        const decision = beforeProbe(runner.breaker, yield* Clock.currentTimeMillis)
        if (!decision.allowed) {
          nextDue = runner.breaker.openUntil
          continue
        }
        if (decision.breaker !== runner.breaker) {
          runner.breaker = decision.breaker
          yield* publish(runner)
        }
        const start = yield* Clock.currentTimeMillis
        nextDue = start + jitteredInterval(settings.intervalMs, settings.jitter, yield* Random.next)
        const discover = start >= discoveryDue
        // The result is recorded and published while the permit is held, so at any moment at most
        // `concurrency` probes have started and not yet reported.
        yield* semaphore.withPermit(
          Effect.gen(function* () {
            // A recheck is answered by a probe that started after it was asked for.
            const waiting = runner.waiting
            runner.waiting = []
            const t0 = yield* Clock.currentTimeMillis
            const exit = yield* Effect.exit(timed(prober.probe(discover)))
            const t1 = yield* Clock.currentTimeMillis
            const latencyMs = t1 - t0
            const outcome: ProbeOutcome = Exit.isSuccess(exit)
              ? exit.value.pending !== undefined
                ? { _tag: "Pending", message: exit.value.pending }
                : { _tag: "Success", latencyMs }
              : { _tag: "Failure", failure: describeDefect(exit.cause) }
            runner.health = nextHealthState(runner.health, outcome, thresholds, t1)
            // A pending probe (e.g. a backend starting) neither counts against the circuit nor closes it.
            if (outcome._tag !== "Pending") {
              const breakerOk = outcome._tag === "Success" || outcome.failure.category === "rate_limited"
              runner.breaker = afterProbe(runner.breaker, breakerOk, t1, settings.breaker)
            }
            if (runner.breaker.state === "open") nextDue = Math.max(nextDue, runner.breaker.openUntil)
            if (Exit.isSuccess(exit) && exit.value.discovered !== undefined) {
              recordTools(runner, exit.value.discovered, t1)
              discoveryDue = t1 + settings.discoveryIntervalMs
            }
            runner.lastCheckAt = t1
            runner.latencyMs = latencyMs
            // A pending probe (a backend still starting) has not told us its health: the first
            // round is not complete, so the phase stays Pending rather than Failed meanwhile.
            if (outcome._tag !== "Pending") runner.probed = true
            yield* publish(runner)
            for (const deferred of waiting) yield* Deferred.succeed(deferred, runner.report)
          })
        )
      }
    })

  const startRunner = (config: BackendConfig) =>
    Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const scope = yield* Scope.make()
      const wake = yield* Queue.sliding<void>(1)
      const prober = makeProber(
        config,
        settings.clientInfo,
        settings.timeoutMs,
        settings.timeoutMs + 5_000,
        () => {
          Queue.offerUnsafe(wake, undefined)
        }
      )
      const fields: Omit<Runner, "report"> = {
        config,
        scope,
        url: reportUrl(config),
        health: initialHealthState(now),
        breaker: closedBreaker(now),
        toolCount: 0,
        others: undefined,
        toolsKey: undefined,
        lastDiscoveryAt: undefined,
        lastCheckAt: undefined,
        latencyMs: undefined,
        probed: false,
        recheckNow: yield* Queue.sliding<void>(1),
        waiting: []
      }
      const runner: Runner = { ...fields, report: toReport(fields) }
      runners.set(config.name, runner)
      // Finalizers run in reverse: the fiber is interrupted first, then the session closes.
      yield* Scope.addFinalizer(scope, prober.close)
      yield* Effect.forkIn(loop(runner, prober, wake), scope)
    })

  const stopRunner = (runner: Runner) =>
    Effect.suspend(() => {
      if (runners.get(runner.config.name) === runner) runners.delete(runner.config.name)
      // A removed or stopped runner never probes again: whoever waits for a recheck gets `undefined`.
      const waiting = runner.waiting
      runner.waiting = []
      return Effect.andThen(
        Effect.forEach(waiting, (deferred) => Deferred.succeed(deferred, undefined), { discard: true }),
        Scope.close(runner.scope, Exit.void)
      )
    })

  const setBackends = (backends: ReadonlyArray<BackendConfig>) =>
    Effect.gen(function* () {
      const next = yield* validateBackends(backends)
      yield* configLock.withPermit(
        Effect.gen(function* () {
          if (stopped) return
          const wanted = new Map(next.map((b) => [b.name, b] as const))
          const stale = [...runners.values()].filter((r) => {
            const w = wanted.get(r.config.name)
            return w === undefined || !sameConfig(w, r.config)
          })
          for (const runner of stale) runners.delete(runner.config.name)
          for (const config of next) if (!runners.has(config.name)) yield* startRunner(config)
          reorder()
          yield* publish()
          // Stopped after the new list is published: their fibers are interrupted and their
          // sessions closed, and being off the list they cannot publish again.
          yield* Effect.forEach(stale, stopRunner, { concurrency: "unbounded", discard: true })
        })
      )
    })

  const stop = Effect.suspend(() => {
    if (stopped) return Effect.void
    stopped = true
    const all = [...runners.values()]
    runners.clear()
    ordered = []
    return Effect.forEach(all, stopRunner, { concurrency: "unbounded", discard: true })
  })

  yield* Scope.addFinalizer(outerScope, stop)
  for (const config of validated) yield* startRunner(config)
  reorder()
  starting = false
  yield* publish()

  const checker: HealthChecker = {
    current: SubscriptionRef.get(ref),
    changes: SubscriptionRef.changes(ref),
    setBackends,
    circuits: Effect.sync(() =>
      [...runners.values()]
        .map(
          (r): CircuitInfo => ({
            name: r.config.name,
            state: r.breaker.state,
            changedAt: toTimestamp(r.breaker.changedAt),
            openUntil: r.breaker.state === "open" ? toTimestamp(r.breaker.openUntil) : undefined,
            consecutiveFailures: r.breaker.consecutiveFailures
          })
        )
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    ),
    recheck: (name) =>
      Effect.gen(function* () {
        const runner = runners.get(name)
        if (runner === undefined || stopped) return undefined
        const deferred = yield* Deferred.make<BackendHealthReport | undefined>()
        runner.waiting.push(deferred)
        Queue.offerUnsafe(runner.recheckNow, undefined)
        return yield* Deferred.await(deferred)
      }),
    stop
  }
  return checker
})
