import * as Schema from "effect/Schema"
import { Timestamp } from "./Timestamp.ts"

/**
 * The health of one backend as the health checker sees it.
 * `unauthenticated` means the backend answers but rejects our credentials (401/403).
 */
export const BackendHealth = Schema.Literals([
  "healthy",
  "degraded",
  "unhealthy",
  "unauthenticated",
  "unknown"
])
export type BackendHealth = typeof BackendHealth.Type

/** Circuit-breaker state of a backend. */
export const CircuitState = Schema.Literals(["closed", "open", "half-open"])
export type CircuitState = typeof CircuitState.Type

/** How the gateway talks to a backend. */
export const Transport = Schema.Literals(["streamable-http", "sse", "stdio", "http"])
export type Transport = typeof Transport.Type

const Count = Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(0)))

/**
 * How a backend's process (or session) last ended: when, the exit code or the signal, and the
 * last lines it wrote to stderr (redacted and bounded by the writer). A session lost without a
 * process (e.g. an HTTP transport closing) has neither code nor signal.
 *
 * @example
 * ```ts
 * import * as Schema from "effect/Schema"
 * import { BackendExit } from "@vmcp-status/core"
 *
 * Schema.decodeUnknownSync(BackendExit)({ time: "2026-11-25T18:00:00Z", signal: "SIGKILL" })
 * ```
 */
export const BackendExit = Schema.Struct({
  time: Timestamp,
  exitCode: Schema.optionalKey(Schema.Int),
  signal: Schema.optionalKey(Schema.String),
  /** The last stderr lines, newline-joined, redacted, at most `MAX_EXIT_STDERR` characters. */
  stderr: Schema.optionalKey(Schema.String)
})
export type BackendExit = typeof BackendExit.Type

/** The most stderr text a `BackendExit` carries (the end of it is kept). */
export const MAX_EXIT_STDERR = 512

/**
 * `exit code 1`, `signal SIGKILL` or `transport closed`: how a `BackendExit` reads in logs and
 * Events.
 *
 * @example
 * ```ts
 * import { describeExit } from "@vmcp-status/core"
 *
 * describeExit({ time: "2026-11-25T18:00:00Z", signal: "SIGKILL" }) // "signal SIGKILL"
 * ```
 */
export const describeExit = (exit: BackendExit): string =>
  exit.signal !== undefined
    ? `signal ${exit.signal}`
    : exit.exitCode !== undefined
      ? `exit code ${exit.exitCode}`
      : "transport closed"

/**
 * One backend's health report. `name` is the unique key. `url` must already be redacted
 * (see `redactUrl`); status writers leave it out unless asked. `lastCheckTime` and
 * `latencyMs` are volatile: they change on every probe and never trigger a report. `restarts`
 * and `lastExit` come from a source that owns the backend's session (the gateway) and change
 * only when the session is lost.
 *
 * @example
 * ```ts
 * import * as Schema from "effect/Schema"
 * import { BackendHealthReport } from "@vmcp-status/core"
 *
 * const report = Schema.decodeUnknownSync(BackendHealthReport)({
 *   name: "github", transport: "streamable-http", health: "healthy", message: "",
 *   toolCount: 9, consecutiveFailures: 0, circuit: "closed",
 *   lastTransitionTime: "2026-11-25T18:00:00Z"
 * })
 * ```
 */
export const BackendHealthReport = Schema.Struct({
  name: Schema.NonEmptyString,
  transport: Transport,
  url: Schema.optionalKey(Schema.String),
  health: BackendHealth,
  message: Schema.String,
  toolCount: Count,
  /** Resources (`resources/list`) from the last discovery; absent when the source does not discover them. */
  resourceCount: Schema.optionalKey(Count),
  /** Resource templates (`resources/templates/list`) from the last discovery; absent as above. */
  resourceTemplateCount: Schema.optionalKey(Count),
  /** Prompts (`prompts/list`) from the last discovery; absent as above. */
  promptCount: Schema.optionalKey(Count),
  consecutiveFailures: Count,
  circuit: CircuitState,
  lastTransitionTime: Timestamp,
  lastCheckTime: Schema.optionalKey(Timestamp),
  latencyMs: Schema.optionalKey(Schema.Finite.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(0)))),
  /** How often the gateway restarted the backend's session after losing it (absent: not tracked). */
  restarts: Schema.optionalKey(Count),
  /** How the backend's session last ended (absent: never lost, or not tracked). */
  lastExit: Schema.optionalKey(BackendExit),
  /**
   * From a source that keeps history (the gateway, see `History`): when the backend last became
   * healthy (absent unless healthy now), and when and why it last became unhealthy or
   * unauthenticated. They change only at transitions, so they cost no writes in steady state.
   */
  healthySince: Schema.optionalKey(Timestamp),
  lastFailureTime: Schema.optionalKey(Timestamp),
  lastFailureReason: Schema.optionalKey(Schema.String)
})
export type BackendHealthReport = typeof BackendHealthReport.Type

/** What `backendReport` needs; every other field has a default. */
export type BackendReportInput = Pick<BackendHealthReport, "name" | "health" | "lastTransitionTime"> &
  Partial<BackendHealthReport>

/**
 * A backend report with defaults for what a simple source does not track: transport
 * `streamable-http`, empty message, no tools, no failures, circuit `closed`.
 *
 * @example
 * ```ts
 * import { backendReport } from "@vmcp-status/core"
 *
 * backendReport({ name: "github", health: "healthy", lastTransitionTime: "2026-11-25T18:00:00Z", toolCount: 9 })
 * ```
 */
export const backendReport = (input: BackendReportInput): BackendHealthReport => ({
  transport: "streamable-http",
  message: "",
  toolCount: 0,
  consecutiveFailures: 0,
  circuit: "closed",
  ...input
})

/** Backend counts by health. The four counts always sum to the number of backends. */
export interface BackendCounts {
  readonly total: number
  readonly healthy: number
  readonly degraded: number
  /** unhealthy + unauthenticated */
  readonly unhealthy: number
  readonly unknown: number
  readonly totalTools: number
  /** Resources of routable backends; absent when no backend reports `resourceCount`. */
  readonly totalResources?: number
  /** Resource templates of routable backends; absent when no backend reports `resourceTemplateCount`. */
  readonly totalResourceTemplates?: number
  /** Prompts of routable backends; absent when no backend reports `promptCount`. */
  readonly totalPrompts?: number
}

/** A backend can take traffic when it is healthy or degraded. */
export const isRoutable = (health: BackendHealth): boolean => health === "healthy" || health === "degraded"

/**
 * Counts backends by health; `unauthenticated` counts as unhealthy.
 *
 * @example
 * ```ts
 * import { countBackends } from "@vmcp-status/core"
 *
 * countBackends([]) // { total: 0, healthy: 0, degraded: 0, unhealthy: 0, unknown: 0, totalTools: 0 }
 * ```
 */
export const countBackends = (backends: ReadonlyArray<BackendHealthReport>): BackendCounts => {
  let healthy = 0
  let degraded = 0
  let unhealthy = 0
  let unknown = 0
  let totalTools = 0
  let totalResources: number | undefined
  let totalResourceTemplates: number | undefined
  let totalPrompts: number | undefined
  for (const backend of backends) {
    switch (backend.health) {
      case "healthy":
        healthy++
        break
      case "degraded":
        degraded++
        break
      case "unhealthy":
      case "unauthenticated":
        unhealthy++
        break
      case "unknown":
        unknown++
        break
    }
    const routable = isRoutable(backend.health)
    if (routable) totalTools += backend.toolCount
    if (backend.resourceCount !== undefined)
      totalResources = (totalResources ?? 0) + (routable ? backend.resourceCount : 0)
    if (backend.resourceTemplateCount !== undefined)
      totalResourceTemplates = (totalResourceTemplates ?? 0) + (routable ? backend.resourceTemplateCount : 0)
    if (backend.promptCount !== undefined)
      totalPrompts = (totalPrompts ?? 0) + (routable ? backend.promptCount : 0)
  }
  return {
    total: backends.length,
    healthy,
    degraded,
    unhealthy,
    unknown,
    totalTools,
    ...(totalResources === undefined ? {} : { totalResources }),
    ...(totalResourceTemplates === undefined ? {} : { totalResourceTemplates }),
    ...(totalPrompts === undefined ? {} : { totalPrompts })
  }
}
