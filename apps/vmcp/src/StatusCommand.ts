import {
  type BackendHealth,
  decodeRuntimeStatus,
  type Phase,
  type RuntimeStatus,
  redactText
} from "@vmcp-status/core"
import { type CliIo, type Command, ExitCode, usageError, writeLine } from "./CommandLine.ts"
import { Paths } from "./HttpServer.ts"
import { type Paint, paintFor } from "./Terminal.ts"

const phaseColor = (paint: Paint, phase: Phase) =>
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
export const formatStatus = (status: RuntimeStatus, paint: Paint): string => {
  // The server redacts at the source; a status from elsewhere (an older server) is redacted here too.
  const lines = [
    `${paint.bold(phaseColor(paint, status.phase)(status.phase))}  ${redactText(status.message)}`
  ]
  const width = Math.max(0, ...status.backends.map((b) => b.name.length))
  for (const b of status.backends) {
    const health = healthColor(paint, b.health)(b.health.padEnd(15))
    const tools = `${b.toolCount} tool${b.toolCount === 1 ? "" : "s"}`.padEnd(9)
    lines.push(
      `  ${b.name.padEnd(width)}  ${health}  ${tools}  ${paint.dim(redactText(b.message))}`.trimEnd()
    )
  }
  lines.push(
    paint.dim(`conditions: ${status.conditions.map((c) => `${c.type}=${c.status} (${c.reason})`).join(", ")}`)
  )
  return lines.join("\n")
}

const statusHelp = `Usage: vmcp status [--url <base URL>] [--json]

Reads a running server's ${Paths.status} and prints it: the phase and message, one line per backend
(health, tools, why), and the conditions.

Options:
  --url <url>     the server (default http://127.0.0.1:4483)
  --json          print the status as JSON instead
  -h, --help      this help

Exit codes:
  ${ExitCode.ok}  the server is Ready
  ${ExitCode.notReady}  the server answered and is not Ready (Pending, Degraded, Failed, or no status yet)
  ${ExitCode.usage}  bad usage
  ${ExitCode.unreachable}  no status: the server cannot be reached (refused, timed out) or the URL
     does not serve a vmcp status`

/** `vmcp status`. */
export const status: Command = {
  summary: "print the status of a running server",
  help: statusHelp,
  options: { url: { type: "string" }, json: { type: "boolean" } },
  run: async (values, io: CliIo) => {
    const base = ((values.url as string | undefined) ?? "http://127.0.0.1:4483").replace(/\/+$/, "")
    if (!URL.canParse(base))
      return usageError(io, `--url must be a URL, got ${JSON.stringify(base)}`, statusHelp)
    const paint = paintFor(io.stderr)
    const url = `${base}${Paths.status}`
    const fail = (code: number, message: string) => {
      writeLine(io.stderr, `${paint.red("error:")} ${message}`)
      return code
    }
    let res: Response
    try {
      res = await fetch(url, { signal: AbortSignal.timeout(5_000) })
    } catch (error) {
      // fetch names the network error in `cause` (ECONNREFUSED, ENOTFOUND, ...).
      const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : ""
      return fail(
        ExitCode.unreachable,
        `cannot reach ${url}: ${error instanceof Error ? error.message : String(error)}${cause}; is \`vmcp serve\` running there (see --url)?`
      )
    }
    // The server is up and has not published its first status (it is starting).
    if (res.status === 503)
      return fail(ExitCode.notReady, `${url} answered HTTP 503: ${(await res.text()).trim() || "not ready"}`)
    let body: RuntimeStatus
    try {
      if (!res.ok) throw new Error(`HTTP ${res.status}`)
      body = decodeRuntimeStatus(await res.json())
    } catch (error) {
      return fail(
        ExitCode.unreachable,
        `${url} did not answer with a vmcp status (${error instanceof Error ? error.message : String(error)}); is --url the server's base URL?`
      )
    }
    writeLine(
      io.stdout,
      values.json === true ? JSON.stringify(body, null, 2) : formatStatus(body, paintFor(io.stdout))
    )
    return body.phase === "Ready" ? ExitCode.ok : ExitCode.notReady
  }
}
