/** Capped exponential backoff settings. */
export interface BackoffOptions {
  /** Delay after the first failure, in ms (default 200). */
  readonly baseMs?: number
  /** Upper bound before jitter, in ms (default 30 000). */
  readonly capMs?: number
  /** Relative jitter, 0..1 (default 0.2: ±20 %). */
  readonly jitter?: number
}

/**
 * The delay before retry number `attempt` (1-based): `min(cap, base·2^(attempt-1))`, spread by
 * ±`jitter` using `random` in [0, 1). Pure, so schedules are table-testable.
 *
 * @example
 * ```ts
 * import { backoffDelay } from "@vmcp-status/core"
 *
 * backoffDelay(3, 0.5) // 800: 200·2², no jitter at random = 0.5
 * ```
 */
export const backoffDelay = (attempt: number, random: number, options: BackoffOptions = {}): number => {
  const base = options.baseMs ?? 200
  const cap = options.capMs ?? 30_000
  const jitter = options.jitter ?? 0.2
  const raw = Math.min(cap, base * 2 ** Math.max(0, Math.min(attempt - 1, 52)))
  return Math.round(raw * (1 - jitter + 2 * jitter * random))
}

/**
 * A jittered interval: `interval · (1 ± jitter)`, with `random` in [0, 1).
 *
 * @example
 * ```ts
 * import { jitteredInterval } from "@vmcp-status/core"
 *
 * jitteredInterval(30_000, 0.1, 0) // 27 000
 * ```
 */
export const jitteredInterval = (intervalMs: number, jitter: number, random: number): number =>
  Math.round(intervalMs * (1 - jitter + 2 * jitter * random))
