import {
  type BackendHealthReport,
  type Phase,
  type RuntimeStatus,
  redactText,
  redactUrl,
  type Transitions
} from "@vmcp-status/core"

/** winston levels used for each phase: Ready info, Degraded warn, Failed error. */
export const levelFor = (phase: Phase): "info" | "warn" | "error" =>
  phase === "Failed" ? "error" : phase === "Degraded" ? "warn" : "info"

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`

/** `2/3 backends healthy, 14 tools` */
export const countsText = (status: RuntimeStatus): string =>
  `${status.healthyBackends}/${status.backends.length} backends healthy, ${plural(status.totalToolCount, "tool")}`

/** Why a backend is in its state, without URLs or secrets: `connection refused (3 failures)`. */
export const reasonText = (message: string, consecutiveFailures: number): string => {
  const parts = [message === "" ? undefined : redactText(message)]
  if (consecutiveFailures > 0) parts.push(`(${plural(consecutiveFailures, "failure")})`)
  return parts.filter((p) => p !== undefined).join(" ")
}

/** A structured log entry: what goes to winston. */
export interface LogEntry {
  readonly level: "info" | "warn" | "error"
  readonly message: string
  readonly [key: string]: unknown
}

/**
 * The one line for a status change: phase (and from which), counts, and each backend that
 * changed with why. Fields for JSON output ride along as metadata.
 */
export const transitionEntry = (vmcp: string, status: RuntimeStatus, change: Transitions): LogEntry => {
  const head =
    change.phase !== undefined && change.phase.from !== undefined
      ? `${change.phase.from} → ${status.phase}`
      : status.phase
  const backendParts = change.backends.map((b) => {
    const why = reasonText(b.message, b.consecutiveFailures)
    const arrow = `${b.from ?? "new"} → ${b.to ?? "removed"}`
    return `${b.name} ${arrow}${why === "" ? "" : `: ${why}`}`
  })
  const summary =
    status.phase === "Pending" || status.backends.length === 0
      ? redactText(status.message)
      : countsText(status)
  const message = `[${vmcp}] ${head}: ${summary}${backendParts.length > 0 ? `; ${backendParts.join("; ")}` : ""}`
  const urls = new Map(status.backends.map((b) => [b.name, b.url]))
  return {
    level: levelFor(status.phase),
    message,
    vmcp,
    event: "StatusChanged",
    phase: status.phase,
    ...(change.phase?.from === undefined ? {} : { previousPhase: change.phase.from }),
    healthyBackends: status.healthyBackends,
    degradedBackends: status.degradedBackends,
    unhealthyBackends: status.unhealthyBackends,
    unknownBackends: status.unknownBackends,
    totalToolCount: status.totalToolCount,
    backends: change.backends.map((b) => {
      const url = urls.get(b.name)
      return {
        name: b.name,
        from: b.from ?? null,
        to: b.to ?? null,
        reason: redactText(b.message),
        consecutiveFailures: b.consecutiveFailures,
        ...(url === undefined ? {} : { url: redactUrl(url) })
      }
    })
  }
}

const pad = (text: string, width: number) => text.padEnd(width)

const backendLine = (b: BackendHealthReport, nameWidth: number, healthWidth: number): string => {
  const detail =
    b.health === "healthy" || b.health === "degraded"
      ? plural(b.toolCount, "tool")
      : reasonText(b.message, b.consecutiveFailures)
  return `  ${pad(b.name, nameWidth)}  ${pad(b.health, healthWidth)}  ${detail}`.trimEnd()
}

/**
 * The periodic summary, one entry whose message has a line per backend:
 * ```
 * [my-vmcp] Degraded: 2/3 backends healthy, 14 tools
 *   github  healthy    9 tools
 *   jira    unhealthy  connection refused (3 failures)
 * ```
 */
export const summaryEntry = (vmcp: string, status: RuntimeStatus): LogEntry => {
  const nameWidth = Math.max(0, ...status.backends.map((b) => b.name.length))
  const healthWidth = Math.max(0, ...status.backends.map((b) => b.health.length))
  const head = `[${vmcp}] ${status.phase}: ${status.backends.length === 0 ? redactText(status.message) : countsText(status)}`
  return {
    level: levelFor(status.phase),
    message: [head, ...status.backends.map((b) => backendLine(b, nameWidth, healthWidth))].join("\n"),
    vmcp,
    event: "StatusSummary",
    phase: status.phase,
    healthyBackends: status.healthyBackends,
    totalToolCount: status.totalToolCount,
    backends: status.backends.map((b) => ({
      name: b.name,
      health: b.health,
      toolCount: b.toolCount,
      reason: redactText(b.message),
      consecutiveFailures: b.consecutiveFailures
    }))
  }
}
