import type { BackendHistorySummary } from "@vmcp-status/core"
import { labelsOf, type Metrics } from "./metrics.ts"

/**
 * Sets the history gauges from a summary, replacing every series: a backend that is not
 * healthy has no `healthy_since` series, a window with no known time has no availability series,
 * and a backend no longer in the history has none at all.
 */
export const recordHistory = (metrics: Metrics, history: ReadonlyArray<BackendHistorySummary>): void => {
  metrics.backendHealthySince.reset()
  metrics.backendAvailability.reset()
  for (const backend of history) {
    if (backend.healthySince !== undefined)
      metrics.backendHealthySince.set(
        labelsOf(metrics, { backend: backend.name }),
        Date.parse(backend.healthySince) / 1000
      )
    for (const [window, ratio] of Object.entries(backend.availability))
      if (ratio !== undefined)
        metrics.backendAvailability.set(labelsOf(metrics, { backend: backend.name, window }), ratio)
  }
}
