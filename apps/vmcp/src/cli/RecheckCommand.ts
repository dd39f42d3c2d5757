import type { BackendHealthReport } from "@vmcp-status/core"
import { RecheckDefaults } from "../status/Recheck.ts"
import { type CliIo, type Command, ExitCode, POSITIONALS, usageError, writeLine } from "./CommandLine.ts"
import { DEFAULT_URL } from "./StatusCommand.ts"
import { paintFor } from "./Terminal.ts"

const recheckHelp = `Usage: vmcp recheck <backend> [--url <base URL>]

Asks a running server to probe <backend> now instead of at its next interval (after you fixed
it, say), ending an open circuit's wait with its half-open probe, and prints the backend's state
after that probe. A backend can be rechecked once every ${RecheckDefaults.intervalMs / 1000} s.

Options:
  --url <url>     the server's admin listener (default ${DEFAULT_URL}; with auth on, listen.admin)
  -h, --help      this help

Exit codes:
  ${ExitCode.ok}  the backend is routable (healthy or degraded) after the probe
  ${ExitCode.notReady}  it is not (unhealthy, unauthenticated, unknown), or it was rechecked too recently
  ${ExitCode.usage}  bad usage, or the server has no backend of that name
  ${ExitCode.unreachable}  the server cannot be reached or does not serve recheck there`

/** `vmcp recheck <backend>`. */
export const recheck: Command = {
  summary: "probe one backend now and print its new state",
  help: recheckHelp,
  positionals: "<backend>",
  options: { url: { type: "string" } },
  run: async (values, io: CliIo) => {
    const names = (values[POSITIONALS] as ReadonlyArray<string> | undefined) ?? []
    if (names.length !== 1) return usageError(io, "recheck takes one backend name", recheckHelp)
    const name = names[0] as string
    const base = ((values.url as string | undefined) ?? DEFAULT_URL).replace(/\/+$/, "")
    if (!URL.canParse(base))
      return usageError(io, `--url must be a URL, got ${JSON.stringify(base)}`, recheckHelp)
    const url = `${base}/backends/${encodeURIComponent(name)}/recheck`
    const err = paintFor(io.stderr)
    const fail = (code: number, message: string) => {
      writeLine(io.stderr, `${err.red("error:")} ${message}`)
      return code
    }
    let res: Response
    try {
      // A probe is bounded by the server's health timeout; this only bounds a server that hangs.
      res = await fetch(url, { method: "POST", signal: AbortSignal.timeout(120_000) })
    } catch (error) {
      const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : ""
      return fail(
        ExitCode.unreachable,
        `cannot reach ${url}: ${error instanceof Error ? error.message : String(error)}${cause}; is \`vmcp serve\` running there (see --url)?`
      )
    }
    const body = (await res.json().catch(() => undefined)) as
      | (BackendHealthReport & { error?: string; backends?: ReadonlyArray<string> })
      | undefined
    if (res.status === 404 && Array.isArray(body?.backends))
      return fail(
        ExitCode.usage,
        `${body.error}; the server has: ${body.backends.join(", ") || "(no backends)"}`
      )
    if (res.status === 429)
      return fail(ExitCode.notReady, body?.error ?? "rechecked too recently; retry shortly")
    if (res.status !== 200 || body === undefined || typeof body.health !== "string")
      return fail(
        ExitCode.unreachable,
        `${url} answered HTTP ${res.status}${body?.error === undefined ? "" : `: ${body.error}`}; is --url the server's admin listener?`
      )
    const { isRoutable, redactText } = await import("@vmcp-status/core")
    const paint = paintFor(io.stdout)
    const color = isRoutable(body.health)
      ? body.health === "healthy"
        ? paint.green
        : paint.yellow
      : paint.red
    writeLine(
      io.stdout,
      `${body.name}  ${color(body.health)}  circuit ${body.circuit}  ${paint.dim(redactText(body.message))}`.trimEnd()
    )
    return isRoutable(body.health) ? ExitCode.ok : ExitCode.notReady
  }
}
