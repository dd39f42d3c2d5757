import { backoffDelay } from "@vmcp-status/core"

/**
 * The lifecycle defaults of a backend session, in one place (docs/behaviours.md#backend-lifecycle).
 * Each can be set per session (`makeBackendSession` options) except the stderr bounds.
 */
export const SessionDefaults = {
  /** Spawning/connecting plus `initialize`; never cut short by a probe. */
  startTimeoutMs: 60_000,
  /** The first restart waits this long; each further loss in a row doubles it... */
  restartBaseMs: 1_000,
  /** ...up to this cap. */
  restartCapMs: 60_000,
  /** A session that stayed up this long resets the doubling: its next loss waits `restartBaseMs` again. */
  stableAfterMs: 60_000,
  /** The stderr lines of a process kept for the report of its exit. */
  stderrLines: 20,
  /** Longer stderr lines are cut to this many characters. */
  stderrLineLength: 512,
  /** A `list_changed` is acted on after this much quiet... */
  refreshQuietMs: 100,
  /** ...but no later than this after the first unanswered one, however long the storm. */
  refreshMaxWaitMs: 1_000,
  /** The timeout of the discovery a `list_changed` causes. */
  refreshTimeoutMs: 30_000,
  /** A stdio process that leaves this many pings in a row unanswered (nothing at all from it) hangs: it is stopped and restarted. */
  hangAfterTimeouts: 3,
  /** A hung process gets SIGTERM, then SIGKILL after this long. */
  hangKillGraceMs: 2_000
} as const

/**
 * The delay before restart number `attempt` (1-based) of a session lost `attempt` times in a
 * row: `restartBaseMs · 2^(attempt−1)`, capped at `restartCapMs`, no jitter (one process per
 * backend, so there is no herd to spread).
 *
 * @example
 * ```ts
 * import { restartDelayMs } from "@vmcp-status/mcp"
 *
 * [1, 2, 3, 7, 8].map((n) => restartDelayMs(n)) // [1000, 2000, 4000, 60000, 60000]
 * ```
 */
export const restartDelayMs = (
  attempt: number,
  options: { readonly baseMs?: number; readonly capMs?: number } = {}
): number =>
  backoffDelay(attempt, 0.5, {
    baseMs: options.baseMs ?? SessionDefaults.restartBaseMs,
    capMs: options.capMs ?? SessionDefaults.restartCapMs,
    jitter: 0
  })

/**
 * When a burst of change notifications is acted on: after `quietMs` without a new one, but never
 * later than `maxWaitMs` after the first of the burst, so a steady storm still gets a refresh
 * every `maxWaitMs`. Pure.
 *
 * @example
 * ```ts
 * import { refreshDueAt } from "@vmcp-status/mcp"
 *
 * refreshDueAt(0, 950, 100, 1000) // 1000: the storm began at 0, so the wait ends at 1000
 * ```
 */
export const refreshDueAt = (firstAt: number, lastAt: number, quietMs: number, maxWaitMs: number): number =>
  Math.min(lastAt + quietMs, firstAt + maxWaitMs)
