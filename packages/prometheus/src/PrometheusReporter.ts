import {
  type BackendHistorySummary,
  type Publisher,
  Reporter,
  type ReporterHealth,
  type RuntimeStatus
} from "@vmcp-status/core"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { Registry } from "prom-client"
import { recordHistory } from "./internal/historyMetrics.ts"
import { createMetrics } from "./internal/metrics.ts"
import { makeReporterState, recordReporterHealth } from "./internal/reporterMetrics.ts"
import { makeStatusState, recordInitial, recordStatus } from "./internal/statusMetrics.ts"

/** Defaults of `makePrometheusReporter`, in one place. */
export const PrometheusDefaults = {
  name: "prometheus",
  prefix: "vmcp_",
  /**
   * Probe latency buckets in seconds: from a fast in-cluster ping to the health checker's
   * 5 s "slow" threshold and its 10 s timeout.
   */
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
} as const

/** Options of `makePrometheusReporter`. Every field has a default. */
export interface PrometheusReporterOptions {
  /** The reporter's name in publisher health and in `vmcp_reports_total{reporter}` (default `prometheus`). */
  readonly name?: string
  /** Where the metrics are registered (default: a new `Registry` of this reporter, never prom-client's global one). */
  readonly registry?: Registry
  /** Prefix of every metric name (default `vmcp_`). */
  readonly prefix?: string
  /**
   * Constant labels on every series, e.g. `{ vmcp: "my-vmcp" }`. Keep them to a few fixed
   * values: never URLs, messages or anything secret.
   */
  readonly labels?: Readonly<Record<string, string>>
  /** Buckets of `vmcp_backend_probe_duration_seconds`, in seconds (default `PrometheusDefaults.buckets`). */
  readonly buckets?: ReadonlyArray<number>
}

/** The publisher's view this reporter observes: `Publisher` has both. */
export type HealthSource = Pick<Publisher.Publisher, "health" | "healthChanges">

/**
 * A `Reporter` that keeps Prometheus metrics of the status, plus the ways to feed it the
 * publisher's per-reporter health (which no reporter sees through `report`).
 */
export interface PrometheusReporter extends Reporter.Reporter<never> {
  /** The registry holding the metrics: mount it with `metricsHandler(registry)`. */
  readonly registry: Registry
  /**
   * Sets the status metrics directly, outside the publisher: e.g. on every health round, so
   * that the probe histogram sees every probe and not only those current at a report.
   */
  readonly recordStatus: (status: RuntimeStatus) => void
  /** Records the publisher's per-reporter health into the report metrics (counters advance by deltas). */
  readonly recordReporterHealth: (health: ReadonlyArray<ReporterHealth>) => void
  /**
   * Records every change of the publisher's health, from now until the `Scope` closes (Effect
   * form).
   */
  readonly observePublisher: (publisher: HealthSource) => Effect.Effect<void, never, Scope.Scope>
  /**
   * Reads the publisher's health on every scrape (Promise form, e.g. `() => running.health()`
   * of core's `start`). Returns a function that stops reading it.
   */
  readonly observeHealth: (health: () => ReadonlyArray<ReporterHealth>) => () => void
  /**
   * Reads the backends' history on every scrape (e.g. `() => summarizeHistory(history, Date.now())`
   * of core) into `vmcp_backend_healthy_since_seconds` and `vmcp_backend_availability_ratio`.
   * Returns a function that stops reading it.
   */
  readonly observeHistory: (history: () => ReadonlyArray<BackendHistorySummary>) => () => void
}

/**
 * A reporter that exposes the status as Prometheus metrics (`vmcp_phase`, `vmcp_backends`,
 * per-backend health, circuit state, tools and failures, report outcomes, probe latency).
 * Labels come only from bounded sets: phases, health values, circuit states, outcomes, and
 * the backend and reporter names of the configuration. Series of a backend that disappears
 * from the status are deleted.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import { Publisher } from "@vmcp-status/core"
 * import { makePrometheusReporter, metricsHandler } from "@vmcp-status/prometheus"
 *
 * const program = Effect.gen(function*() {
 *   const metrics = makePrometheusReporter({ labels: { vmcp: "my-vmcp" } })
 *   const publisher = yield* Publisher.make({ reporters: [metrics] })
 *   yield* metrics.observePublisher(publisher)
 *   return metricsHandler(metrics.registry) // mount on GET /metrics
 * })
 * ```
 */
export const makePrometheusReporter = (options: PrometheusReporterOptions = {}): PrometheusReporter => {
  const registry = options.registry ?? new Registry()
  const reporterState = makeReporterState()
  const statusState = makeStatusState()
  let healthSource: (() => ReadonlyArray<ReporterHealth>) | undefined
  let historySource: (() => ReadonlyArray<BackendHistorySummary>) | undefined

  const metrics = createMetrics({
    registry,
    prefix: options.prefix ?? PrometheusDefaults.prefix,
    labels: options.labels ?? {},
    buckets: options.buckets ?? PrometheusDefaults.buckets,
    collectReporterHealth: () => {
      if (healthSource === undefined) return
      let health: ReadonlyArray<ReporterHealth>
      try {
        health = healthSource()
      } catch {
        // A broken source must not fail the scrape: the last recorded values stay.
        return
      }
      recordReporterHealth(metrics, reporterState, health)
    },
    collectHistory: () => {
      if (historySource === undefined) return
      let history: ReadonlyArray<BackendHistorySummary>
      try {
        history = historySource()
      } catch {
        return
      }
      recordHistory(metrics, history)
    }
  })
  recordInitial(metrics)

  const reporter = Reporter.make(options.name ?? PrometheusDefaults.name, (status, context) =>
    Effect.sync(() => {
      const probed = recordStatus(metrics, statusState, status)
      return context.changed || probed || context.trigger === "final" ? "written" : "skipped"
    })
  )

  const record = (health: ReadonlyArray<ReporterHealth>) =>
    recordReporterHealth(metrics, reporterState, health)

  return {
    ...reporter,
    registry,
    recordStatus: (status) => {
      recordStatus(metrics, statusState, status)
    },
    recordReporterHealth: record,
    observePublisher: (publisher) =>
      Effect.gen(function* () {
        record(yield* publisher.health)
        yield* Effect.forkScoped(
          Stream.runForEach(publisher.healthChanges, (health) => Effect.sync(() => record(health)))
        )
      }),
    observeHealth: (health) => {
      healthSource = health
      return () => {
        if (healthSource === health) healthSource = undefined
      }
    },
    observeHistory: (history) => {
      historySource = history
      return () => {
        if (historySource !== history) return
        historySource = undefined
        metrics.backendHealthySince.reset()
        metrics.backendAvailability.reset()
      }
    }
  }
}
