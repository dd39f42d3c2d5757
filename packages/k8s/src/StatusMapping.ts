import {
  type BackendExit,
  type BackendHealth,
  type Condition,
  ConditionType,
  type RuntimeStatus,
  redactText,
  redactUrl
} from "@vmcp-status/core"

/**
 * Who owns what in `.status`:
 * - `full` (standalone, no operator): phase, message, every condition, backends and counts;
 * - `runtime` (beside an operator that owns phase, message, `Ready`, `url`,
 *   `observedGeneration`): backends, counts and the runtime conditions only.
 */
export type OwnershipMode = "full" | "runtime"

/** The conditions the runtime owns in `runtime` mode. */
export const RuntimeConditionTypes: ReadonlyArray<string> = [
  ConditionType.Degraded,
  ConditionType.BackendsDiscovered
]

/** toolhive's backend `status` values. */
export type DiscoveredBackendStatus = "ready" | "degraded" | "unavailable" | "unauthenticated" | "unknown"

/** Our health → toolhive's `discoveredBackends[].status`. */
export const backendStatusOf: Readonly<Record<BackendHealth, DiscoveredBackendStatus>> = {
  healthy: "ready",
  degraded: "degraded",
  unhealthy: "unavailable",
  unauthenticated: "unauthenticated",
  unknown: "unknown"
}

/** One entry of `status.discoveredBackends` (a list-map keyed by `name`). */
export interface DiscoveredBackend {
  readonly name: string
  readonly status: DiscoveredBackendStatus
  /** Absent when there is nothing to say. */
  readonly message?: string
  readonly circuitBreakerState: "closed" | "open" | "half-open"
  readonly consecutiveFailures: number
  readonly url?: string
  /** Ours (toolhive declares no such field): restarts of the backend's session by the gateway. */
  readonly restarts?: number
  /** Ours: how the backend's process last ended (time, exit code or signal, redacted stderr tail). */
  readonly lastExit?: BackendExit
  /** Ours: when the backend last became healthy (only while it is). */
  readonly healthySince?: string
  /** Ours: when and why it last became unhealthy or unauthenticated (the reason redacted and capped). */
  readonly lastFailureTime?: string
  readonly lastFailureReason?: string
}

/** The part of `.status` this writer owns and applies. Volatile fields are never in it. */
export interface StatusPayload {
  readonly phase?: RuntimeStatus["phase"]
  readonly message?: string
  readonly conditions: ReadonlyArray<Condition>
  readonly discoveredBackends: ReadonlyArray<DiscoveredBackend>
  readonly backendCount: number
  readonly totalToolCount: number
  /** Ours: resources of routable backends, when the status has the count. */
  readonly totalResourceCount?: number
  /** Ours: resource templates of routable backends, when the status has the count. */
  readonly totalResourceTemplateCount?: number
  /** Ours: prompts of routable backends, when the status has the count. */
  readonly totalPromptCount?: number
  readonly healthyBackends: number
  readonly degradedBackends: number
  readonly unhealthyBackends: number
  readonly unknownBackends: number
  readonly lastDiscoveryTime?: string
}

/** Options of `toStatusPayload`. */
export interface MappingOptions {
  readonly mode: OwnershipMode
  /** Write backend URLs (redacted) into `discoveredBackends[].url`. Default false. */
  readonly includeUrls?: boolean
  /**
   * Upper bound for the serialized payload in bytes (default 1 MiB, leaving room under etcd's
   * 1.5 MiB for spec, metadata and the operator's fields). Past it, backends are cut and the
   * `BackendsDiscovered` message says how many are listed.
   */
  readonly maxBytes?: number
  /** Conditions currently on the object: a condition whose status is unchanged keeps its time. */
  readonly existingConditions?: ReadonlyArray<Condition>
}

/** Backend messages are capped so one noisy error cannot fill the object. */
export const MAX_BACKEND_MESSAGE = 512

const cap = (text: string, max: number) => (text.length <= max ? text : `${text.slice(0, max - 1)}…`)

const toBackend = (b: RuntimeStatus["backends"][number], includeUrls: boolean): DiscoveredBackend => ({
  name: b.name,
  status: backendStatusOf[b.health],
  // Kubernetes 1.20's server-side apply turns "" into null and rejects it: leave empty strings out.
  ...(b.message === "" ? {} : { message: cap(redactText(b.message), MAX_BACKEND_MESSAGE) }),
  circuitBreakerState: b.circuit,
  consecutiveFailures: b.consecutiveFailures,
  ...(includeUrls && b.url !== undefined ? { url: redactUrl(b.url) } : {}),
  ...(b.restarts === undefined ? {} : { restarts: b.restarts }),
  ...(b.lastExit === undefined ? {} : { lastExit: exitOf(b.lastExit) }),
  ...(b.healthySince === undefined ? {} : { healthySince: b.healthySince }),
  ...(b.lastFailureTime === undefined ? {} : { lastFailureTime: b.lastFailureTime }),
  ...(b.lastFailureReason === undefined || b.lastFailureReason === ""
    ? {}
    : { lastFailureReason: cap(redactText(b.lastFailureReason), MAX_BACKEND_MESSAGE) })
})

/** The last exit as written: its stderr redacted once more and capped like a message. */
const exitOf = (exit: BackendExit): BackendExit =>
  exit.stderr === undefined || exit.stderr === ""
    ? { time: exit.time, ...withoutStderr(exit) }
    : { ...exit, stderr: cap(redactText(exit.stderr), MAX_BACKEND_MESSAGE) }

const withoutStderr = ({ stderr: _stderr, time: _time, ...rest }: BackendExit) => rest

/**
 * A condition's `message` is required by the CRDs, and Kubernetes 1.20's server-side apply turns
 * an empty string into null and rejects it: an empty message becomes the reason.
 */
const nonEmptyMessage = (c: Condition): Condition => (c.message === "" ? { ...c, message: c.reason } : c)

const keepTransitionTimes = (
  conditions: ReadonlyArray<Condition>,
  existing: ReadonlyArray<Condition> | undefined
): ReadonlyArray<Condition> => {
  if (existing === undefined || existing.length === 0) return conditions
  const byType = new Map(existing.map((c) => [c.type, c]))
  return conditions.map((c) => {
    const old = byType.get(c.type)
    return old !== undefined && old.status === c.status && old.lastTransitionTime !== c.lastTransitionTime
      ? { ...c, lastTransitionTime: old.lastTransitionTime }
      : c
  })
}

const byteLength = (value: unknown) => Buffer.byteLength(JSON.stringify(value))

/**
 * Maps a `RuntimeStatus` to the status fields this writer owns: toolhive's names (`phase`,
 * `message`, `conditions`, `discoveredBackends`, `backendCount`) plus ours (`totalToolCount`,
 * `totalResourceCount`, `totalResourceTemplateCount` and `totalPromptCount` when the status has
 * them, the four counts, `lastDiscoveryTime`). Pure.
 *
 * `backendCount` keeps toolhive's documented meaning: ready + unauthenticated backends
 * (degraded, unavailable and unknown excluded), so its `Backends` printer column reads the same.
 *
 * @example
 * ```ts
 * import { deriveStatus } from "@vmcp-status/core"
 * import { toStatusPayload } from "@vmcp-status/k8s"
 *
 * toStatusPayload(deriveStatus({ backends: [], initialRoundComplete: true, now: "2026-11-25T18:00:00Z" }), { mode: "runtime" })
 * ```
 */
export const toStatusPayload = (status: RuntimeStatus, options: MappingOptions): StatusPayload => {
  const includeUrls = options.includeUrls ?? false
  const maxBytes = options.maxBytes ?? 1024 * 1024
  const owned =
    options.mode === "full"
      ? status.conditions
      : status.conditions.filter((c) => RuntimeConditionTypes.includes(c.type))
  const conditions = keepTransitionTimes(
    owned
      .slice()
      .sort((a, b) => (a.type < b.type ? -1 : a.type > b.type ? 1 : 0))
      .map(nonEmptyMessage),
    options.existingConditions
  )
  const backends = status.backends.map((b) => toBackend(b, includeUrls))
  const payload: StatusPayload = {
    ...(options.mode === "full" ? { phase: status.phase, message: status.message } : {}),
    conditions,
    discoveredBackends: backends,
    backendCount: status.backends.filter((b) => b.health === "healthy" || b.health === "unauthenticated")
      .length,
    totalToolCount: status.totalToolCount,
    ...(status.totalResourceCount === undefined ? {} : { totalResourceCount: status.totalResourceCount }),
    ...(status.totalResourceTemplateCount === undefined
      ? {}
      : { totalResourceTemplateCount: status.totalResourceTemplateCount }),
    ...(status.totalPromptCount === undefined ? {} : { totalPromptCount: status.totalPromptCount }),
    healthyBackends: status.healthyBackends,
    degradedBackends: status.degradedBackends,
    unhealthyBackends: status.unhealthyBackends,
    unknownBackends: status.unknownBackends,
    ...(status.lastDiscoveryTime === undefined ? {} : { lastDiscoveryTime: status.lastDiscoveryTime })
  }
  return byteLength(payload) <= maxBytes ? payload : truncate(payload, maxBytes)
}

/**
 * Keeps the longest prefix of backends (sorted by name) that fits, and says so in the
 * `BackendsDiscovered` condition: `status truncated: 812 of 1000 backends listed`.
 * The counts still describe every backend.
 */
const truncate = (payload: StatusPayload, maxBytes: number): StatusPayload => {
  const all = payload.discoveredBackends
  const withFirst = (n: number): StatusPayload => {
    const marker = `status truncated: ${n} of ${all.length} backends listed`
    const conditions = payload.conditions.some((c) => c.type === ConditionType.BackendsDiscovered)
      ? payload.conditions.map((c) =>
          c.type === ConditionType.BackendsDiscovered
            ? { ...c, message: cap(`${c.message}; ${marker}`, 32_768) }
            : c
        )
      : payload.conditions
    return {
      ...payload,
      ...(payload.message === undefined ? {} : { message: `${payload.message} (${marker})` }),
      conditions,
      discoveredBackends: all.slice(0, n)
    }
  }
  let low = 0
  let high = all.length
  while (low < high) {
    const mid = Math.ceil((low + high) / 2)
    if (byteLength(withFirst(mid)) <= maxBytes) low = mid
    else high = mid - 1
  }
  return withFirst(low)
}
