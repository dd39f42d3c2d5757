import * as Schema from "effect/Schema"
import { type BackendCounts, BackendHealthReport, countBackends } from "./Backend.ts"
import { Condition, type ConditionDraft, ConditionType, mergeConditions } from "./Condition.ts"
import { derivePhase, Phase } from "./Phase.ts"
import { Timestamp } from "./Timestamp.ts"

const Count = Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(0)))

/**
 * The status of a Virtual MCP Server at one moment: what every reporter publishes.
 * `backends` are sorted by name; the four backend counts sum to `backends.length`;
 * `totalToolCount` counts the tools of routable backends (the ones clients can call);
 * `totalResourceCount`, `totalResourceTemplateCount` and `totalPromptCount` likewise, present
 * when some backend reports that count.
 * `observedAt` is volatile: it never triggers a report by itself.
 */
export const RuntimeStatus = Schema.Struct({
  phase: Phase,
  message: Schema.String,
  backends: Schema.Array(BackendHealthReport),
  totalToolCount: Count,
  totalResourceCount: Schema.optionalKey(Count),
  totalResourceTemplateCount: Schema.optionalKey(Count),
  totalPromptCount: Schema.optionalKey(Count),
  healthyBackends: Count,
  degradedBackends: Count,
  unhealthyBackends: Count,
  unknownBackends: Count,
  lastDiscoveryTime: Schema.optionalKey(Timestamp),
  conditions: Schema.Array(Condition),
  observedAt: Timestamp
})
export type RuntimeStatus = typeof RuntimeStatus.Type

/**
 * Decodes unknown input (JSON from a file, a user's callback) into a `RuntimeStatus`,
 * throwing a `SchemaError` whose message names the offending path.
 *
 * @example
 * ```ts
 * import { decodeRuntimeStatus } from "@vmcp-status/core"
 *
 * try { decodeRuntimeStatus({ phase: "Sideways" }) } catch (e) { console.error(String(e)) }
 * ```
 */
export const decodeRuntimeStatus = Schema.decodeUnknownSync(RuntimeStatus)

const decodeBackendReport = Schema.decodeUnknownSync(BackendHealthReport)

/** A backend report's volatile fields (they change with every probe) and their own checks. */
const volatile = {
  lastCheckTime: Schema.is(Timestamp),
  latencyMs: Schema.is(BackendHealthReport.fields.latencyMs.schema)
} as const
type VolatileKey = keyof typeof volatile
const volatileKeys = Object.keys(volatile) as ReadonlyArray<VolatileKey>
const isVolatile = (key: string): key is VolatileKey => Object.hasOwn(volatile, key)

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** Deep equality of plain JSON-like values; anything else (arrays, class instances) counts as changed. */
const sameValue = (a: unknown, b: unknown): boolean => {
  if (a === b) return true
  if (!isRecord(a) || !isRecord(b)) return false
  if (Object.getPrototypeOf(a) !== Object.prototype || Object.getPrototypeOf(b) !== Object.prototype)
    return false
  const keys = Object.keys(a)
  if (keys.length !== Object.keys(b).length) return false
  return keys.every((key) => Object.hasOwn(b, key) && sameValue(a[key], b[key]))
}

/**
 * How a backend's input differs from the last one of its name: not at all, only in volatile
 * fields present in both (valid ones), or otherwise.
 */
const compare = (input: unknown, last: Record<string, unknown>): "same" | "volatile" | "changed" => {
  if (!isRecord(input) || Object.getPrototypeOf(input) !== Object.prototype) return "changed"
  const keys = Object.keys(input)
  if (keys.length !== Object.keys(last).length) return "changed"
  let outcome: "same" | "volatile" = "same"
  for (const key of keys) {
    if (!Object.hasOwn(last, key)) return "changed"
    if (sameValue(input[key], last[key])) continue
    if (!isVolatile(key) || !volatile[key](input[key])) return "changed"
    outcome = "volatile"
  }
  return outcome
}

/** A copy of a plain backend input, so that later changes to the caller's object are seen. */
const snapshot = (value: Record<string, unknown>): Record<string, unknown> =>
  Object.fromEntries(Object.entries(value).map(([k, v]) => [k, isRecord(v) ? snapshot(v) : v]))

/** The status gets copies: a reporter that changes its report changes nothing the decoder keeps. */
const copyOf = (report: BackendHealthReport): BackendHealthReport =>
  report.lastExit === undefined ? { ...report } : { ...report, lastExit: { ...report.lastExit } }

interface Known {
  readonly input: Record<string, unknown>
  readonly decoded: BackendHealthReport
}

/**
 * A `decodeRuntimeStatus` for a stream of statuses (the Promise API's `update`): it remembers
 * each backend report it decoded and decodes again only the backends whose input differs from
 * the last one of that name (compared by value, so a caller may reuse and mutate its objects).
 * The result, and the error for bad input (a `SchemaError` naming the path), are those of
 * `decodeRuntimeStatus`. With 1 000 backends and one changed, a call costs a fraction of a full
 * decode (docs/numbers.md, figure 7).
 *
 * @example
 * ```ts
 * import { deriveStatus, makeRuntimeStatusDecoder } from "@vmcp-status/core"
 *
 * const decode = makeRuntimeStatusDecoder()
 * const status = deriveStatus({ backends: [], initialRoundComplete: true, now: "2026-11-27T23:00:00Z" })
 * decode(JSON.parse(JSON.stringify(status))) // decoded in full
 * decode(JSON.parse(JSON.stringify(status))) // only the top-level fields decoded again
 * ```
 */
export const makeRuntimeStatusDecoder = (): ((input: unknown) => RuntimeStatus) => {
  let known = new Map<string, Known>()
  return (input) => {
    if (!isRecord(input) || !Array.isArray(input.backends)) return decodeRuntimeStatus(input)
    const next = new Map<string, Known>()
    const backends: Array<BackendHealthReport> = []
    for (const backend of input.backends as ReadonlyArray<unknown>) {
      const name = isRecord(backend) ? backend.name : undefined
      const last = typeof name === "string" ? known.get(name) : undefined
      const difference = last === undefined ? "changed" : compare(backend, last.input)
      if (last !== undefined && difference !== "changed") {
        let entry = last
        if (difference === "volatile") {
          // Only volatile fields changed, each valid: the decoded report with their new values.
          const fresh = backend as Record<string, unknown>
          const input = { ...last.input }
          const decoded: Record<string, unknown> = { ...last.decoded }
          for (const key of volatileKeys)
            if (Object.hasOwn(fresh, key)) {
              input[key] = fresh[key]
              decoded[key] = fresh[key]
            }
          entry = { input, decoded: decoded as BackendHealthReport }
        }
        backends.push(copyOf(entry.decoded))
        next.set(entry.decoded.name, entry)
        continue
      }
      let decoded: BackendHealthReport
      try {
        decoded = decodeBackendReport(backend)
      } catch {
        // The full decode names the path (`["backends"][3]["health"]`).
        return decodeRuntimeStatus(input)
      }
      backends.push(copyOf(decoded))
      if (isRecord(backend)) next.set(decoded.name, { input: snapshot(backend), decoded })
    }
    const rest = decodeRuntimeStatus({ ...input, backends: [] })
    known = next
    return { ...rest, backends }
  }
}

/** What a `RuntimeStatus` is derived from. */
export interface StatusInput {
  readonly backends: ReadonlyArray<BackendHealthReport>
  /** True once the first health round has finished for every configured backend. */
  readonly initialRoundComplete: boolean
  /** When discovery (`tools/list`) last ran; absent before it ran. */
  readonly lastDiscoveryTime?: Timestamp
  /** False when the server itself cannot serve; default true. */
  readonly serverOperational?: boolean
  /** Why the server is not operational, shown in `message`. */
  readonly serverMessage?: string
  /** True while the server drains for shutdown. */
  readonly shuttingDown?: boolean
  /** Now, used for `observedAt` and for conditions that transition. */
  readonly now: Timestamp
  /** The previous status: its conditions keep their `lastTransitionTime` when unchanged. */
  readonly previous?: RuntimeStatus | undefined
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`

/**
 * The one-line human message for a status, e.g. `2/3 backends healthy, 14 tools`.
 */
export const deriveMessage = (phase: Phase, counts: BackendCounts, input: StatusInput): string => {
  if (input.serverOperational === false)
    return `Server not operational: ${input.serverMessage ?? "unknown cause"}`
  if (input.shuttingDown === true) return "Shutting down"
  if (counts.total === 0) return "No backends configured"
  if (phase === "Pending") return `Waiting for the first health round of ${plural(counts.total, "backend")}`
  const tools = plural(counts.totalTools, "tool")
  if (phase === "Ready") return `All ${plural(counts.total, "backend")} healthy, ${tools}`
  if (phase === "Failed")
    return `No routable backends: ${counts.unhealthy} unhealthy, ${counts.unknown} unknown`
  return `${counts.healthy}/${counts.total} backends healthy, ${tools}`
}

const readyDraft = (
  phase: Phase,
  counts: BackendCounts,
  input: StatusInput,
  message: string
): ConditionDraft => {
  if (input.serverOperational === false)
    return { type: ConditionType.Ready, status: "False", reason: "ServerNotOperational", message }
  if (input.shuttingDown === true)
    return { type: ConditionType.Ready, status: "False", reason: "ShuttingDown", message }
  switch (phase) {
    case "Ready":
      return {
        type: ConditionType.Ready,
        status: "True",
        reason: counts.total === 0 ? "NoBackendsConfigured" : "AllBackendsHealthy",
        message
      }
    case "Pending":
      return { type: ConditionType.Ready, status: "False", reason: "Starting", message }
    case "Degraded":
      return { type: ConditionType.Ready, status: "False", reason: "SomeBackendsUnhealthy", message }
    case "Failed":
      return { type: ConditionType.Ready, status: "False", reason: "NoRoutableBackends", message }
  }
}

/**
 * The conditions for a phase, before `lastTransitionTime` is settled:
 * `Ready` (True only in `Ready`), `Degraded` (abnormal-true while `Degraded`), `Reconciling`
 * (True while `Pending`), `Stalled` (True while `Failed`), `BackendsDiscovered` (True once
 * discovery ran). All are always present so kstatus and Argo CD see a definite answer.
 */
export const deriveConditionDrafts = (
  phase: Phase,
  counts: BackendCounts,
  input: StatusInput,
  message: string
): ReadonlyArray<ConditionDraft> => {
  const flag = (type: string, on: boolean, onReason: string, offReason: string): ConditionDraft => ({
    type,
    status: on ? "True" : "False",
    reason: on ? onReason : offReason,
    message: on ? message : ""
  })
  const discovered = input.lastDiscoveryTime !== undefined
  return [
    readyDraft(phase, counts, input, message),
    flag(ConditionType.Degraded, phase === "Degraded", "SomeBackendsUnhealthy", "NotDegraded"),
    flag(
      ConditionType.Reconciling,
      phase === "Pending",
      input.shuttingDown === true ? "ShuttingDown" : "Starting",
      "Reconciled"
    ),
    flag(
      ConditionType.Stalled,
      phase === "Failed",
      input.serverOperational === false ? "ServerNotOperational" : "NoRoutableBackends",
      "NotStalled"
    ),
    {
      type: ConditionType.BackendsDiscovered,
      status: discovered ? "True" : "False",
      reason: discovered ? "DiscoveryComplete" : "DiscoveryPending",
      message: discovered
        ? `Discovered ${plural(counts.total, "backend")} with ${plural(counts.totalTools, "tool")}`
        : "Discovery has not run yet"
    }
  ]
}

/**
 * Derives the full `RuntimeStatus` from backend reports: sorted backends, counts, phase,
 * message and conditions (keeping `lastTransitionTime` from `previous` where the status of a
 * condition did not change). Pure: time comes in as `now`.
 *
 * @example
 * ```ts
 * import { deriveStatus } from "@vmcp-status/core"
 *
 * const status = deriveStatus({ backends: [], initialRoundComplete: true, now: "2026-11-25T18:00:00Z" })
 * status.phase // "Ready"
 * ```
 */
export const deriveStatus = (input: StatusInput): RuntimeStatus => {
  const backends = input.backends.slice().sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  const counts = countBackends(backends)
  const phase = derivePhase({
    counts,
    initialRoundComplete: input.initialRoundComplete,
    ...(input.serverOperational === undefined ? {} : { serverOperational: input.serverOperational }),
    ...(input.shuttingDown === undefined ? {} : { shuttingDown: input.shuttingDown })
  })
  const message = deriveMessage(phase, counts, input)
  const conditions = mergeConditions(
    input.previous?.conditions ?? [],
    deriveConditionDrafts(phase, counts, input, message),
    input.now
  )
  return {
    phase,
    message,
    backends,
    totalToolCount: counts.totalTools,
    ...(counts.totalResources === undefined ? {} : { totalResourceCount: counts.totalResources }),
    ...(counts.totalResourceTemplates === undefined
      ? {}
      : { totalResourceTemplateCount: counts.totalResourceTemplates }),
    ...(counts.totalPrompts === undefined ? {} : { totalPromptCount: counts.totalPrompts }),
    healthyBackends: counts.healthy,
    degradedBackends: counts.degraded,
    unhealthyBackends: counts.unhealthy,
    unknownBackends: counts.unknown,
    ...(input.lastDiscoveryTime === undefined ? {} : { lastDiscoveryTime: input.lastDiscoveryTime }),
    conditions,
    observedAt: input.now
  }
}

/**
 * The status to publish on shutdown: the same backends, phase `Pending`, `Ready=False`
 * with reason `ShuttingDown`.
 */
export const shuttingDown = (status: RuntimeStatus, now: Timestamp): RuntimeStatus =>
  deriveStatus({
    backends: status.backends,
    initialRoundComplete: true,
    shuttingDown: true,
    now,
    previous: status,
    ...(status.lastDiscoveryTime === undefined ? {} : { lastDiscoveryTime: status.lastDiscoveryTime })
  })
