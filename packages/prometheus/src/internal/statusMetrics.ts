import { BackendHealth, CircuitState, Phase, type RuntimeStatus } from "@vmcp-status/core"
import { labelsOf, type Metrics } from "./metrics.ts"

/** What the status metrics remember between statuses. */
export interface StatusState {
  /** Backends that have series now, so the series of a removed one can be deleted. */
  readonly backends: Set<string>
  /** The `lastCheckTime` of the last probe observed per backend: one observation per probe. */
  readonly lastProbe: Map<string, string>
  /** The `restarts` last counted per backend: the counter advances by the difference. */
  readonly restarts: Map<string, number>
}

export const makeStatusState = (): StatusState => ({
  backends: new Set(),
  lastProbe: new Map(),
  restarts: new Map()
})

/** Before any status: `Pending`, no backends, so the one-hot phase gauge sums to 1 from the first scrape. */
export const recordInitial = (metrics: Metrics): void => {
  for (const phase of Phase.literals)
    metrics.phase.set(labelsOf(metrics, { phase }), phase === "Pending" ? 1 : 0)
  for (const health of BackendHealth.literals) metrics.backends.set(labelsOf(metrics, { health }), 0)
  metrics.tools.set(labelsOf(metrics, {}), 0)
}

const removeBackend = (metrics: Metrics, state: StatusState, backend: string): void => {
  for (const health of BackendHealth.literals)
    metrics.backendHealth.remove(labelsOf(metrics, { backend, health }))
  for (const circuit of CircuitState.literals)
    metrics.backendCircuitState.remove(labelsOf(metrics, { backend, state: circuit }))
  metrics.backendTools.remove(labelsOf(metrics, { backend }))
  metrics.backendConsecutiveFailures.remove(labelsOf(metrics, { backend }))
  metrics.backendProbeDuration.remove(labelsOf(metrics, { backend }))
  metrics.backendRestarts.remove(labelsOf(metrics, { backend }))
  state.backends.delete(backend)
  state.lastProbe.delete(backend)
  state.restarts.delete(backend)
}

/**
 * Sets every status gauge from `status`, observes each probe not seen before, and deletes the
 * series of backends that are gone. Only the backend name goes into labels: never a URL or a
 * message. Returns true when a new probe was observed.
 */
export const recordStatus = (metrics: Metrics, state: StatusState, status: RuntimeStatus): boolean => {
  for (const phase of Phase.literals)
    metrics.phase.set(labelsOf(metrics, { phase }), phase === status.phase ? 1 : 0)
  for (const health of BackendHealth.literals)
    metrics.backends.set(
      labelsOf(metrics, { health }),
      status.backends.filter((b) => b.health === health).length
    )
  metrics.tools.set(labelsOf(metrics, {}), status.totalToolCount)

  let probed = false
  const present = new Set<string>()
  for (const b of status.backends) {
    const backend = b.name
    present.add(backend)
    state.backends.add(backend)
    for (const health of BackendHealth.literals)
      metrics.backendHealth.set(labelsOf(metrics, { backend, health }), health === b.health ? 1 : 0)
    for (const circuit of CircuitState.literals)
      metrics.backendCircuitState.set(
        labelsOf(metrics, { backend, state: circuit }),
        circuit === b.circuit ? 1 : 0
      )
    metrics.backendTools.set(labelsOf(metrics, { backend }), b.toolCount)
    metrics.backendConsecutiveFailures.set(labelsOf(metrics, { backend }), b.consecutiveFailures)
    // Every backend has the series from its first report, at 0 until a source reports restarts,
    // so that `increase()` sees the first restart (a counter born at 1 hides it).
    const restarts = b.restarts ?? 0
    const counted = state.restarts.get(backend)
    if (counted === undefined || restarts > counted) {
      metrics.backendRestarts.inc(labelsOf(metrics, { backend }), restarts - (counted ?? 0))
      state.restarts.set(backend, restarts)
    }
    // A probe is identified by its check time: a status repeated on a tick is not a new probe.
    if (
      b.latencyMs !== undefined &&
      b.lastCheckTime !== undefined &&
      state.lastProbe.get(backend) !== b.lastCheckTime
    ) {
      state.lastProbe.set(backend, b.lastCheckTime)
      metrics.backendProbeDuration.observe(labelsOf(metrics, { backend }), b.latencyMs / 1000)
      probed = true
    }
  }
  for (const backend of [...state.backends]) if (!present.has(backend)) removeBackend(metrics, state, backend)
  return probed
}
