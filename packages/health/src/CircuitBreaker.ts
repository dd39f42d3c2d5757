import type { CircuitState } from "@vmcp-status/core"

/** Settings of the per-backend circuit breaker. */
export interface BreakerSettings {
  /** Consecutive failures that open the circuit (default 5). */
  readonly failureThreshold: number
  /** How long the circuit stays open the first time, ms (default 60 000). */
  readonly openMs: number
  /** The cap of the open duration as it doubles after each failed half-open probe, ms (default 600 000). */
  readonly maxOpenMs: number
}

/**
 * A consecutive-failure circuit breaker, as data. `opened` counts how often it opened since it
 * was last closed: the open duration is `openMs · 2^(opened-1)`, capped at `maxOpenMs`.
 */
export interface Breaker {
  readonly state: CircuitState
  readonly consecutiveFailures: number
  readonly opened: number
  /** Epoch ms at which an open circuit lets one probe through (half-open). */
  readonly openUntil: number
  /** Epoch ms of the last change of `state`. */
  readonly changedAt: number
}

/** A closed breaker. */
export const closedBreaker = (now: number): Breaker => ({
  state: "closed",
  consecutiveFailures: 0,
  opened: 0,
  openUntil: 0,
  changedAt: now
})

/** How long the circuit stays open after its `opened`-th opening. */
export const openDuration = (opened: number, settings: BreakerSettings): number =>
  Math.min(settings.maxOpenMs, settings.openMs * 2 ** Math.max(0, Math.min(opened - 1, 30)))

/**
 * Asks the breaker whether a probe may run now. A closed or half-open circuit allows it; an
 * open one refuses until `openUntil`, then turns half-open and allows exactly that one probe.
 *
 * @example
 * ```ts
 * import { beforeProbe, closedBreaker } from "@vmcp-status/health"
 *
 * beforeProbe(closedBreaker(0), 1000) // { allowed: true, breaker: { state: "closed", ... } }
 * ```
 */
export const beforeProbe = (breaker: Breaker, now: number): { allowed: boolean; breaker: Breaker } => {
  if (breaker.state !== "open") return { allowed: true, breaker }
  if (now < breaker.openUntil) return { allowed: false, breaker }
  return { allowed: true, breaker: { ...breaker, state: "half-open", changedAt: now } }
}

/**
 * Records the result of a probe the breaker allowed. A success closes the circuit; a failure
 * counts, opens a closed circuit at `failureThreshold`, and re-opens a half-open one for a
 * doubled duration.
 */
export const afterProbe = (
  breaker: Breaker,
  success: boolean,
  now: number,
  settings: BreakerSettings
): Breaker => {
  if (success) return breaker.state === "closed" ? { ...breaker, consecutiveFailures: 0 } : closedBreaker(now)
  const consecutiveFailures = breaker.consecutiveFailures + 1
  if (breaker.state === "half-open" || consecutiveFailures >= settings.failureThreshold) {
    const opened = breaker.opened + 1
    return {
      state: "open",
      consecutiveFailures,
      opened,
      openUntil: now + openDuration(opened, settings),
      changedAt: now
    }
  }
  return { ...breaker, consecutiveFailures }
}
