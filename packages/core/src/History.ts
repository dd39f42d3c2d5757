import { type BackendHealth, isRoutable } from "./Backend.ts"
import type { RuntimeStatus } from "./RuntimeStatus.ts"
import type { Timestamp } from "./Timestamp.ts"

/** Defaults of `History`; import them instead of restating the numbers. */
export const HistoryDefaults = {
  /** Transitions kept per backend for display. */
  transitions: 50,
  /**
   * Routability changes kept per backend for availability. At one change per minute a day
   * needs 1 440; beyond the cap the oldest are dropped and availability covers less time.
   */
  availabilityPoints: 2_000,
  /** The availability windows, in milliseconds. */
  windows: { "1h": 3_600_000, "24h": 86_400_000 }
} as const

/** One change of a backend's health as the history keeps it. */
export interface HealthTransition {
  readonly time: Timestamp
  /** `undefined` when the backend first appeared. */
  readonly from: BackendHealth | undefined
  readonly to: BackendHealth
  /** The backend's message at the change (already free of secrets). */
  readonly reason: string
}

/** Whether a backend could take calls: `unknown` (not probed yet, starting) counts neither way. */
export type Routability = "up" | "down" | "unknown"

/** A change of routability at `at` (epoch ms). */
export interface RoutabilityPoint {
  readonly at: number
  readonly state: Routability
}

const routability = (health: BackendHealth): Routability =>
  health === "unknown" ? "unknown" : isRoutable(health) ? "up" : "down"

/** What the history knows about one backend. */
export interface BackendHistory {
  readonly name: string
  /** Newest last, at most `limit`. */
  readonly transitions: ReadonlyArray<HealthTransition>
  readonly health: BackendHealth
  /** When the backend last became healthy; absent unless it is healthy now. */
  readonly healthySince: Timestamp | undefined
  /** When it last became unhealthy or unauthenticated (degraded and unknown are not failures). */
  readonly lastFailureTime: Timestamp | undefined
  readonly lastFailureReason: string | undefined
  /** Routability changes, oldest first; the first point is when observation began. */
  readonly points: ReadonlyArray<RoutabilityPoint>
}

/** Per-backend histories, bounded in memory. A value: every update returns a new one. */
export interface History {
  readonly backends: ReadonlyMap<string, BackendHistory>
  readonly limit: number
  readonly availabilityPoints: number
}

/**
 * An empty history.
 *
 * @example
 * ```ts
 * import { emptyHistory } from "@vmcp-status/core"
 *
 * const history = emptyHistory({ limit: 20 })
 * history.backends.size // 0
 * ```
 */
export const emptyHistory = (
  options: { readonly limit?: number; readonly availabilityPoints?: number } = {}
): History => ({
  backends: new Map(),
  limit: Math.max(1, options.limit ?? HistoryDefaults.transitions),
  availabilityPoints: Math.max(2, options.availabilityPoints ?? HistoryDefaults.availabilityPoints)
})

const isFailure = (health: BackendHealth) => health === "unhealthy" || health === "unauthenticated"

const keepLast = <A>(items: ReadonlyArray<A>, n: number): ReadonlyArray<A> =>
  items.length > n ? items.slice(items.length - n) : items

const epoch = (time: Timestamp) => Date.parse(time)

const advance = (
  history: History,
  previous: BackendHistory | undefined,
  name: string,
  to: BackendHealth,
  time: Timestamp,
  reason: string
): BackendHistory => {
  const transition: HealthTransition = { time, from: previous?.health, to, reason }
  const at = epoch(time)
  const state = routability(to)
  const points = previous?.points ?? []
  const last = points[points.length - 1]
  const nextPoints =
    last !== undefined && last.state === state
      ? points
      : keepLast([...points, { at: Math.max(at, last?.at ?? at), state }], history.availabilityPoints)
  return {
    name,
    transitions: keepLast([...(previous?.transitions ?? []), transition], history.limit),
    health: to,
    healthySince:
      to === "healthy" ? (previous?.health === "healthy" ? previous.healthySince : time) : undefined,
    lastFailureTime: isFailure(to) ? time : previous?.lastFailureTime,
    lastFailureReason: isFailure(to) ? reason : previous?.lastFailureReason,
    points: nextPoints
  }
}

/**
 * Folds one status into the history: every backend whose health differs from what the history
 * holds (or that is new) gets a transition stamped with its report's `lastTransitionTime`;
 * backends no longer in the status are forgotten. Statuses whose backends did not change return
 * the same history, so calling this on every report is cheap.
 *
 * @example
 * ```ts
 * import { backendReport, deriveStatus, emptyHistory, recordStatus } from "@vmcp-status/core"
 *
 * const t = "2026-11-25T18:00:00Z"
 * const status = deriveStatus({
 *   backends: [backendReport({ name: "github", health: "healthy", lastTransitionTime: t })],
 *   initialRoundComplete: true,
 *   now: t
 * })
 * recordStatus(emptyHistory(), status).backends.get("github")?.healthySince // "2026-11-25T18:00:00Z"
 * ```
 */
export const recordStatus = (history: History, status: RuntimeStatus): History => {
  let changed = status.backends.length !== history.backends.size
  const next = new Map<string, BackendHistory>()
  for (const backend of status.backends) {
    const previous = history.backends.get(backend.name)
    if (previous !== undefined && previous.health === backend.health) {
      next.set(backend.name, previous)
      continue
    }
    changed = true
    next.set(
      backend.name,
      advance(history, previous, backend.name, backend.health, backend.lastTransitionTime, backend.message)
    )
  }
  return changed ? { ...history, backends: next } : history
}

/**
 * The share of `[now - windowMs, now]` during which the backend was routable (healthy or
 * degraded), from its routability changes, counting only time whose health was known: time
 * before the history began observing the backend, and time spent `unknown` (not probed yet,
 * starting), count neither way. `undefined` when none of the window had a known health.
 *
 * @example
 * ```ts
 * import { availability, backendReport, deriveStatus, emptyHistory, recordStatus } from "@vmcp-status/core"
 *
 * const at = (t: string, health: "healthy" | "unhealthy") =>
 *   deriveStatus({ backends: [backendReport({ name: "a", health, lastTransitionTime: t })], initialRoundComplete: true, now: t })
 * let h = recordStatus(emptyHistory(), at("2026-11-25T18:00:00Z", "healthy"))
 * h = recordStatus(h, at("2026-11-25T18:45:00Z", "unhealthy"))
 * availability(h.backends.get("a")!, Date.parse("2026-11-25T19:00:00Z"), 3_600_000) // 0.75
 * ```
 */
export const availability = (
  backend: BackendHistory,
  nowMs: number,
  windowMs: number
): number | undefined => {
  const start = nowMs - windowMs
  let up = 0
  let known = 0
  for (let i = 0; i < backend.points.length; i++) {
    const point = backend.points[i] as RoutabilityPoint
    if (point.state === "unknown") continue
    const from = Math.max(point.at, start)
    const end = Math.min(backend.points[i + 1]?.at ?? nowMs, nowMs)
    if (end <= from) continue
    known += end - from
    if (point.state === "up") up += end - from
  }
  return known === 0 ? undefined : up / known
}

/** One backend's history as `/status` and the page show it. */
export interface BackendHistorySummary {
  readonly name: string
  readonly healthySince?: Timestamp
  readonly lastFailureTime?: Timestamp
  readonly lastFailureReason?: string
  /** Share of each window routable, 0..1; a window with no observed time is left out. */
  readonly availability: { readonly "1h"?: number; readonly "24h"?: number }
  /** Newest last. */
  readonly transitions: ReadonlyArray<HealthTransition>
}

/**
 * The history of every backend as plain data, with availability computed at `nowMs`.
 *
 * @example
 * ```ts
 * import { emptyHistory, summarizeHistory } from "@vmcp-status/core"
 *
 * summarizeHistory(emptyHistory(), Date.now()) // []
 * ```
 */
export const summarizeHistory = (history: History, nowMs: number): ReadonlyArray<BackendHistorySummary> =>
  [...history.backends.values()]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((backend) => {
      const hour = availability(backend, nowMs, HistoryDefaults.windows["1h"])
      const day = availability(backend, nowMs, HistoryDefaults.windows["24h"])
      return {
        name: backend.name,
        ...(backend.healthySince === undefined ? {} : { healthySince: backend.healthySince }),
        ...(backend.lastFailureTime === undefined ? {} : { lastFailureTime: backend.lastFailureTime }),
        ...(backend.lastFailureReason === undefined ? {} : { lastFailureReason: backend.lastFailureReason }),
        availability: {
          ...(hour === undefined ? {} : { "1h": hour }),
          ...(day === undefined ? {} : { "24h": day })
        },
        transitions: backend.transitions
      }
    })

/**
 * The status with each backend's `healthySince`, `lastFailureTime` and `lastFailureReason` from
 * the history (fields the history does not know are left out). They change only at transitions,
 * so a status decorated on every report still changes only when health does.
 *
 * @example
 * ```ts
 * import { backendReport, deriveStatus, emptyHistory, recordStatus, withHistoryFields } from "@vmcp-status/core"
 *
 * const t = "2026-11-25T18:00:00Z"
 * const status = deriveStatus({
 *   backends: [backendReport({ name: "github", health: "healthy", lastTransitionTime: t })],
 *   initialRoundComplete: true,
 *   now: t
 * })
 * withHistoryFields(status, recordStatus(emptyHistory(), status)).backends[0]?.healthySince // "2026-11-25T18:00:00Z"
 * ```
 */
export const withHistoryFields = (status: RuntimeStatus, history: History): RuntimeStatus => ({
  ...status,
  backends: status.backends.map((b) => {
    const { healthySince: _s, lastFailureTime: _t, lastFailureReason: _r, ...rest } = b
    const h = history.backends.get(b.name)
    if (h === undefined) return rest
    return {
      ...rest,
      ...(h.healthySince === undefined ? {} : { healthySince: h.healthySince }),
      ...(h.lastFailureTime === undefined ? {} : { lastFailureTime: h.lastFailureTime }),
      ...(h.lastFailureReason === undefined ? {} : { lastFailureReason: h.lastFailureReason })
    }
  })
})
