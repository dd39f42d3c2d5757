import type { ReporterHealth, ReportOutcome } from "@vmcp-status/core"
import { labelsOf, type Metrics } from "./metrics.ts"

/** Every report outcome the publisher counts, in the order of `ReporterHealth.outcomes`. */
export const OUTCOMES = [
  "written",
  "skipped",
  "conflict",
  "throttled",
  "error"
] as const satisfies ReadonlyArray<ReportOutcome>

/** The outcome counts last recorded per reporter: counters advance by the difference. */
export type ReporterState = Map<string, Record<ReportOutcome, number>>

export const makeReporterState = (): ReporterState => new Map()

/**
 * Records the publisher's per-reporter health. `vmcp_reports_total` only ever increases: it
 * advances by the growth of each outcome count since the last call. A count that went down
 * means a new publisher counting from zero, so all of it is new.
 */
export const recordReporterHealth = (
  metrics: Metrics,
  state: ReporterState,
  health: ReadonlyArray<ReporterHealth>
): void => {
  for (const h of health) {
    const reporter = h.name
    let seen = state.get(reporter)
    if (seen === undefined) {
      seen = { written: 0, skipped: 0, conflict: 0, throttled: 0, error: 0 }
      state.set(reporter, seen)
      // Every outcome exists from the start at 0, so `rate()` and `increase()` see the first report.
      for (const outcome of OUTCOMES) metrics.reportsTotal.inc(labelsOf(metrics, { reporter, outcome }), 0)
    }
    for (const outcome of OUTCOMES) {
      const count = h.outcomes[outcome] ?? 0
      const delta = count >= seen[outcome] ? count - seen[outcome] : count
      if (delta > 0) metrics.reportsTotal.inc(labelsOf(metrics, { reporter, outcome }), delta)
      seen[outcome] = count
    }
    metrics.reporterConsecutiveFailures.set(labelsOf(metrics, { reporter }), h.consecutiveFailures)
    if (h.lastSuccessAt !== undefined)
      metrics.reporterLastSuccess.set(labelsOf(metrics, { reporter }), h.lastSuccessAt / 1000)
  }
}
