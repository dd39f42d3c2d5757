import {
  type BackendHistorySummary,
  emptyHistory,
  type History,
  type RuntimeStatus,
  recordStatus,
  summarizeHistory
} from "@vmcp-status/core"

/**
 * The statuses the app derives, kept for the people-facing views: the newest status, the
 * backends' `History` folded from every status, and a list of subscribers told of each new
 * status (the live stream of `/status/stream` and the page at `/`). It lives in memory: it
 * outlives a failing reporter (it is fed before any reporter runs) but not a restart.
 */
export interface StatusFeed {
  /** Records a status (already redacted) and tells every subscriber. */
  readonly publish: (status: RuntimeStatus) => void
  /** The newest status, if any. */
  readonly current: () => RuntimeStatus | undefined
  readonly history: () => History
  /** The history as `/status` shows it, with availability computed at `nowMs`. */
  readonly summary: (nowMs: number) => ReadonlyArray<BackendHistorySummary>
  /** Calls `listener` after every `publish` until the returned function is called. */
  readonly subscribe: (listener: (status: RuntimeStatus) => void) => () => void
}

/**
 * A feed with an empty history (`limit` transitions kept per backend, default
 * `HistoryDefaults.transitions`).
 *
 * @example
 * ```ts
 * import { deriveStatus } from "@vmcp-status/core"
 * import { makeStatusFeed } from "@vmcp-status/vmcp"
 *
 * const feed = makeStatusFeed()
 * const stop = feed.subscribe((status) => console.log(status.phase))
 * feed.publish(deriveStatus({ backends: [], initialRoundComplete: true, now: "2026-12-02T12:00:00Z" }))
 * stop()
 * ```
 */
export const makeStatusFeed = (options: { readonly limit?: number } = {}): StatusFeed => {
  let latest: RuntimeStatus | undefined
  let history = emptyHistory(options.limit === undefined ? {} : { limit: options.limit })
  const listeners = new Set<(status: RuntimeStatus) => void>()
  return {
    publish: (status) => {
      latest = status
      history = recordStatus(history, status)
      for (const listener of [...listeners]) {
        try {
          listener(status)
        } catch {
          // A view's failure must not stop the status pipeline or the other views.
        }
      }
    },
    current: () => latest,
    history: () => history,
    summary: (nowMs) => summarizeHistory(history, nowMs),
    subscribe: (listener) => {
      // A wrapper per call, so subscribing the same function twice needs two unsubscribes.
      const entry = (status: RuntimeStatus) => listener(status)
      listeners.add(entry)
      return () => {
        listeners.delete(entry)
      }
    }
  }
}
