import type { BackendHealth } from "@vmcp-status/core"
import type { ErrorCategory, ProbeFailure } from "./ErrorCategory.ts"

/** What one probe found: a success with its latency, or a categorized failure. */
export type ProbeOutcome =
  | { readonly _tag: "Success"; readonly latencyMs: number }
  | { readonly _tag: "Failure"; readonly failure: ProbeFailure }
  /** The backend is not ready to be probed yet (e.g. starting); `message` says why. */
  | { readonly _tag: "Pending"; readonly message: string }

/** The thresholds the state machine applies. */
export interface HealthThresholds {
  /** Consecutive failed probes before a backend is `unhealthy` (default 3). */
  readonly unhealthyAfter: number
  /** A success slower than this (ms) makes the backend `degraded` (default 5 000). */
  readonly slowMs: number
}

/**
 * The health of one backend between probes. `recovering` marks the one interval a backend
 * stays `degraded` after coming back from `unhealthy` or `unauthenticated`.
 */
export interface HealthState {
  readonly health: BackendHealth
  readonly message: string
  readonly consecutiveFailures: number
  readonly recovering: boolean
  /** Epoch ms of the last change of `health`. */
  readonly lastTransitionAt: number
}

/** A backend nobody probed yet. */
export const initialHealthState = (now: number): HealthState => ({
  health: "unknown",
  message: "not probed yet",
  consecutiveFailures: 0,
  recovering: false,
  lastTransitionAt: now
})

const ADVICE: Partial<Record<ErrorCategory, string>> = {
  auth_failed: "check the credentials (headers) configured for this backend",
  rate_limited: "the backend is up but throttling the health checks",
  connection_refused: "nothing listens at the backend's address",
  dns_failure: "the backend's host name does not resolve",
  tls_error: "check the backend's certificate",
  process_exited: "the backend's process exited or could not start",
  response_too_large: "the backend's answer is larger than the gateway accepts"
}

/** `category (detail): advice`, the fixed-text message a failure puts in reports. */
export const describeFailure = (failure: ProbeFailure): string => {
  const advice = ADVICE[failure.category]
  return `${failure.category} (${failure.detail})${advice === undefined ? "" : `: ${advice}`}`
}

const seconds = (ms: number) => `${Math.round(ms / 100) / 10} s`

const to = (
  state: HealthState,
  health: BackendHealth,
  fields: Omit<HealthState, "health" | "lastTransitionAt">,
  now: number
): HealthState => ({
  ...fields,
  health,
  lastTransitionAt: health === state.health ? state.lastTransitionAt : now
})

/**
 * The health state machine (docs/behaviours.md#health-thresholds), pure: the state after one probe.
 *
 * - a success slower than `slowMs` → `degraded`;
 * - a success after `unhealthy`/`unauthenticated` → `degraded` for one interval (recovering),
 *   the next fast success → `healthy`; any other fast success → `healthy`;
 * - 401/403 (`auth_failed`) → `unauthenticated` at once;
 * - 429 (`rate_limited`) → `degraded`: the backend is up, and its failure count resets;
 * - any other failure counts; at `unhealthyAfter` consecutive failures → `unhealthy`; before
 *   that the previous health holds (a backend never seen healthy stays `unknown`);
 * - pending (not ready to be probed, e.g. starting) → `unknown` with its message; the failure
 *   count holds.
 *
 * Messages are fixed text per situation (no latencies, no counts once unhealthy) so that an
 * unchanged situation never causes a status write.
 *
 * @example
 * ```ts
 * import { initialHealthState, nextHealthState } from "@vmcp-status/health"
 *
 * const thresholds = { unhealthyAfter: 3, slowMs: 5000 }
 * nextHealthState(initialHealthState(0), { _tag: "Success", latencyMs: 12 }, thresholds, 1000).health // "healthy"
 * ```
 */
export const nextHealthState = (
  state: HealthState,
  outcome: ProbeOutcome,
  thresholds: HealthThresholds,
  now: number
): HealthState => {
  if (outcome._tag === "Pending")
    return to(
      state,
      "unknown",
      { message: outcome.message, consecutiveFailures: state.consecutiveFailures, recovering: false },
      now
    )
  if (outcome._tag === "Success") {
    if (outcome.latencyMs > thresholds.slowMs)
      return to(
        state,
        "degraded",
        {
          message: `slow: answered in more than ${seconds(thresholds.slowMs)}`,
          consecutiveFailures: 0,
          recovering: false
        },
        now
      )
    if (state.health === "unhealthy" || state.health === "unauthenticated")
      return to(
        state,
        "degraded",
        { message: "recovering: answered again after failing", consecutiveFailures: 0, recovering: true },
        now
      )
    return to(state, "healthy", { message: "", consecutiveFailures: 0, recovering: false }, now)
  }
  const { failure } = outcome
  if (failure.category === "rate_limited")
    return to(
      state,
      "degraded",
      { message: describeFailure(failure), consecutiveFailures: 0, recovering: false },
      now
    )
  const consecutiveFailures = state.consecutiveFailures + 1
  if (failure.category === "auth_failed")
    return to(
      state,
      "unauthenticated",
      { message: describeFailure(failure), consecutiveFailures, recovering: false },
      now
    )
  if (consecutiveFailures >= thresholds.unhealthyAfter)
    return to(
      state,
      "unhealthy",
      { message: describeFailure(failure), consecutiveFailures, recovering: false },
      now
    )
  return to(
    state,
    state.health,
    {
      message: `probe failed ${consecutiveFailures} of ${thresholds.unhealthyAfter} times before unhealthy: ${describeFailure(failure)}`,
      consecutiveFailures,
      recovering: state.recovering
    },
    now
  )
}
