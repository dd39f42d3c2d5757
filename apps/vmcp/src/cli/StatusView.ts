import { type BackendHealth, type RuntimeStatus, redactText } from "@vmcp-status/core"
import YAML from "yaml"
import type { Paint } from "./Terminal.ts"

/**
 * What `vmcp status` shows, from either source: a server's `/status` or the `.status` of a
 * `VirtualMCPServer` custom resource. Health uses our vocabulary in both cases.
 */
export interface StatusView {
  /** Where it was read: the status URL, or `namespace/name`. */
  readonly source: string
  /** Absent when the object has no status yet. */
  readonly phase: string | undefined
  readonly message: string
  readonly backends: ReadonlyArray<BackendView>
  readonly conditions: ReadonlyArray<{
    readonly type: string
    readonly status: string
    readonly reason: string
  }>
  readonly totalToolCount: number | undefined
  /** What the source returned (the `/status` body, or the object's `.status`), for `-o json|yaml`. */
  readonly raw: unknown
}

/** One backend line. Fields the source does not carry are absent. */
export interface BackendView {
  readonly name: string
  readonly health: BackendHealth
  readonly message: string
  readonly toolCount?: number
  readonly circuit?: string
  readonly consecutiveFailures?: number
  readonly latencyMs?: number
  readonly healthySince?: string
  readonly availability1h?: number
}

interface HistoryLike {
  readonly name: string
  readonly healthySince?: string
  readonly availability?: { readonly "1h"?: number }
}

/** The view of a server's `/status` body (`history`, when the server sends it, adds to each backend). */
export const viewOfRuntimeStatus = (
  source: string,
  status: RuntimeStatus,
  raw: unknown = status
): StatusView => {
  const history = new Map<string, HistoryLike>()
  const sent = (raw as { history?: unknown }).history
  if (Array.isArray(sent)) for (const h of sent as Array<HistoryLike>) history.set(h.name, h)
  return {
    source,
    phase: status.phase,
    message: status.message,
    backends: status.backends.map((b) => {
      const h = history.get(b.name)
      return {
        name: b.name,
        health: b.health,
        message: b.message,
        toolCount: b.toolCount,
        circuit: b.circuit,
        consecutiveFailures: b.consecutiveFailures,
        ...(b.latencyMs === undefined ? {} : { latencyMs: b.latencyMs }),
        ...(h?.healthySince === undefined ? {} : { healthySince: h.healthySince }),
        ...(h?.availability?.["1h"] === undefined ? {} : { availability1h: h.availability["1h"] })
      }
    }),
    conditions: status.conditions,
    totalToolCount: status.totalToolCount,
    raw
  }
}

/** toolhive's `discoveredBackends[].status` → our health. */
const healthOfBackendStatus: Readonly<Record<string, BackendHealth>> = {
  ready: "healthy",
  degraded: "degraded",
  unavailable: "unhealthy",
  unauthenticated: "unauthenticated",
  unknown: "unknown"
}

const str = (value: unknown): string => (typeof value === "string" ? value : "")
const num = (value: unknown): number | undefined => (typeof value === "number" ? value : undefined)
const records = (value: unknown): ReadonlyArray<Record<string, unknown>> =>
  Array.isArray(value)
    ? value.filter((v): v is Record<string, unknown> => typeof v === "object" && v !== null)
    : []

/** The view of a `VirtualMCPServer` object (its `.status`, as toolhive and our writer fill it). */
export const viewOfCustomResource = (object: {
  readonly metadata?: { readonly name?: string; readonly namespace?: string }
  readonly status?: Record<string, unknown>
}): StatusView => {
  const status = object.status ?? {}
  const phase = str(status.phase)
  const totalToolCount = num(status.totalToolCount)
  return {
    source: `${object.metadata?.namespace ?? ""}/${object.metadata?.name ?? ""}`,
    phase: phase === "" ? undefined : phase,
    message: str(status.message),
    backends: records(status.discoveredBackends).map((b) => {
      const failures = num(b.consecutiveFailures)
      return {
        name: str(b.name),
        health: healthOfBackendStatus[str(b.status)] ?? "unknown",
        message: str(b.message),
        ...(str(b.circuitBreakerState) === "" ? {} : { circuit: str(b.circuitBreakerState) }),
        ...(failures === undefined ? {} : { consecutiveFailures: failures }),
        ...(str(b.healthySince) === "" ? {} : { healthySince: str(b.healthySince) })
      }
    }),
    conditions: records(status.conditions).map((c) => ({
      type: str(c.type),
      status: str(c.status),
      reason: str(c.reason)
    })),
    totalToolCount,
    raw: object.status ?? {}
  }
}

/** What `--wait --for` waits for. */
export type WaitTarget =
  | { readonly _tag: "ready" }
  | { readonly _tag: "healthy" }
  | { readonly _tag: "backend"; readonly name: string }

/** Parses `--for`: `ready`, `healthy` or `backend=<name>`; a string is the usage error. */
export const parseWaitTarget = (input: string): WaitTarget | string => {
  if (input === "ready") return { _tag: "ready" }
  if (input === "healthy") return { _tag: "healthy" }
  const backend = /^backend=(.+)$/.exec(input)?.[1]
  if (backend !== undefined) return { _tag: "backend", name: backend }
  return `--for must be ready, healthy or backend=<name>, got ${JSON.stringify(input)}`
}

/** Says how a wait target reads in messages ("ready", "backend web healthy"). */
export const describeWaitTarget = (target: WaitTarget): string =>
  target._tag === "backend" ? `backend ${target.name} healthy` : target._tag

/**
 * Whether a view meets a wait target: `ready` is phase Ready; `healthy` is Ready with every
 * backend healthy; `backend=<name>` is that backend healthy.
 */
export const meets = (view: StatusView, target: WaitTarget): boolean => {
  switch (target._tag) {
    case "ready":
      return view.phase === "Ready"
    case "healthy":
      return view.phase === "Ready" && view.backends.every((b) => b.health === "healthy")
    case "backend":
      return view.backends.some((b) => b.name === target.name && b.health === "healthy")
  }
}

const phaseColor = (paint: Paint, phase: string | undefined) =>
  phase === "Ready"
    ? paint.green
    : phase === "Degraded"
      ? paint.yellow
      : phase === "Failed"
        ? paint.red
        : paint.dim

const healthColor = (paint: Paint, health: BackendHealth) =>
  health === "healthy"
    ? paint.green
    : health === "degraded"
      ? paint.yellow
      : health === "unknown"
        ? paint.dim
        : paint.red

/** Output formats of `vmcp status -o`. */
export const OutputFormats = ["text", "wide", "json", "yaml"] as const
export type OutputFormat = (typeof OutputFormats)[number]

const ago = (time: string | undefined, nowMs: number): string => {
  const at = time === undefined ? Number.NaN : Date.parse(time)
  if (Number.isNaN(at)) return "-"
  const s = Math.max(0, Math.round((nowMs - at) / 1000))
  if (s < 120) return `${s}s`
  if (s < 7_200) return `${Math.round(s / 60)}m`
  if (s < 172_800) return `${Math.round(s / 3_600)}h`
  return `${Math.round(s / 86_400)}d`
}

const percent = (share: number | undefined) => (share === undefined ? "-" : `${(share * 100).toFixed(1)}%`)

/**
 * The view as text: `text` is the phase and message, one line per backend and the conditions;
 * `wide` adds circuit, failures, latency, healthy-since and 1 h availability columns; `json`
 * and `yaml` print what the source returned.
 *
 * @example
 * ```ts
 * import { deriveStatus } from "@vmcp-status/core"
 * import { formatView, paintFor, viewOfRuntimeStatus } from "@vmcp-status/vmcp"
 *
 * const status = deriveStatus({ backends: [], initialRoundComplete: true, now: "2026-11-27T23:00:00Z" })
 * console.log(formatView(viewOfRuntimeStatus("http://127.0.0.1:4483/status", status), "text", paintFor(process.stdout)))
 * ```
 */
export const formatView = (
  view: StatusView,
  format: OutputFormat,
  paint: Paint,
  nowMs = Date.now()
): string => {
  if (format === "json") return JSON.stringify(view.raw, null, 2)
  if (format === "yaml") return YAML.stringify(view.raw).trimEnd()
  // The server redacts at the source; a status from elsewhere (an older server) is redacted here too.
  const phase = view.phase ?? "(no status yet)"
  const lines = [`${paint.bold(phaseColor(paint, view.phase)(phase))}  ${redactText(view.message)}`]
  const width = Math.max(0, ...view.backends.map((b) => b.name.length))
  for (const b of view.backends) {
    const health = healthColor(paint, b.health)(b.health.padEnd(15))
    const tools =
      b.toolCount === undefined
        ? "".padEnd(9)
        : `${b.toolCount} tool${b.toolCount === 1 ? "" : "s"}`.padEnd(9)
    const wide =
      format === "wide"
        ? [
            (b.circuit ?? "-").padEnd(9),
            String(b.consecutiveFailures ?? "-").padStart(3),
            (b.latencyMs === undefined ? "-" : `${Math.round(b.latencyMs)}ms`).padStart(7),
            `up ${ago(b.healthySince, nowMs)}`.padEnd(8),
            percent(b.availability1h).padStart(6)
          ].join("  ")
        : undefined
    const columns = [b.name.padEnd(width), health, tools, ...(wide === undefined ? [] : [wide])]
    lines.push(`  ${columns.join("  ")}  ${paint.dim(redactText(b.message))}`.trimEnd())
  }
  if (view.conditions.length > 0)
    lines.push(
      paint.dim(`conditions: ${view.conditions.map((c) => `${c.type}=${c.status} (${c.reason})`).join(", ")}`)
    )
  return lines.join("\n")
}

/** One line per object: the fleet view of `vmcp status -A`. */
export const formatFleet = (views: ReadonlyArray<StatusView>, paint: Paint): string => {
  const rows = views.map((v) => {
    const [namespace = "", name = ""] = v.source.split("/")
    const healthy = v.backends.filter((b) => b.health === "healthy").length
    return {
      namespace,
      name,
      phase: v.phase ?? "-",
      backends: `${healthy}/${v.backends.length}`,
      tools: v.totalToolCount === undefined ? "-" : String(v.totalToolCount),
      message: redactText(v.message)
    }
  })
  const header = { namespace: "NAMESPACE", name: "NAME", phase: "PHASE", backends: "HEALTHY", tools: "TOOLS" }
  const w = (key: keyof typeof header) => Math.max(header[key].length, ...rows.map((r) => r[key].length))
  const line = (r: typeof header, phase: (s: string) => string) =>
    [
      r.namespace.padEnd(w("namespace")),
      r.name.padEnd(w("name")),
      phase(r.phase.padEnd(w("phase"))),
      r.backends.padEnd(w("backends")),
      r.tools.padEnd(w("tools"))
    ].join("  ")
  return [
    paint.bold(`${line(header, (s) => s)}  MESSAGE`),
    ...rows.map((r) => `${line(r, phaseColor(paint, r.phase))}  ${paint.dim(r.message)}`.trimEnd())
  ].join("\n")
}

/**
 * The status as a few readable lines: phase and message, one line per backend, the conditions.
 *
 * @example
 * ```ts
 * import { deriveStatus } from "@vmcp-status/core"
 * import { formatStatus, paintFor } from "@vmcp-status/vmcp"
 *
 * const text = formatStatus(deriveStatus({ backends: [], initialRoundComplete: true, now: "2026-11-27T23:00:00Z" }), paintFor(process.stdout))
 * ```
 */
export const formatStatus = (status: RuntimeStatus, paint: Paint): string =>
  formatView(viewOfRuntimeStatus("", status), "text", paint)
