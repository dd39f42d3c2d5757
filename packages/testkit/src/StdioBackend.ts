import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"
import type { FixtureTool } from "./internal/toolServer.ts"

/** How the stdio fixture behaves; every field maps to one flag of the script. */
export interface StdioBackendOptions {
  readonly name?: string
  /** Tool names, or full definitions; default one tool named `echo`. */
  readonly tools?: ReadonlyArray<string | FixtureTool>
  /** JSON-RPC methods answered with -32603 (`"all"` for every request). */
  readonly fail?: ReadonlyArray<string>
  /** Wait before handling each request. */
  readonly delayMs?: number
  /**
   * Answer this many JSON-RPC requests (`initialize` counts as one), then close stdout and exit
   * with `exitCode` (default 0); later requests go unanswered. A count, not a delay, so the exit
   * does not race process start on a busy machine.
   */
  readonly exitAfterRequests?: number
  readonly exitCode?: number
  /** Print an error and exit 1 at once. */
  readonly crash?: boolean
  /** A slow starter: read nothing (so `initialize` goes unanswered) for this long after start. */
  readonly startDelayMs?: number
  /** Append the pid of every start of the fixture to this file, one line each: spawns can be counted and killed. */
  readonly spawnLog?: string
  /** Write this line to stderr at start (e.g. to see it in a crash report). */
  readonly stderr?: string
}

/** A command line for a stdio MCP client (`StdioClientTransport`) or `child_process.spawn`. */
export interface StdioCommand {
  readonly command: string
  readonly args: Array<string>
}

/**
 * The path of the stdio fixture script. Next to the built files it is `stdio-backend.js`; in
 * this repository's sources it is the `.ts` file, which Node >= 22.18 runs directly.
 */
export const stdioBackendScript = (): string => {
  for (const candidate of ["./stdio-backend.js", "./stdio-backend.ts"]) {
    const path = fileURLToPath(new URL(candidate, import.meta.url))
    if (existsSync(path)) return path
  }
  throw new Error("stdio-backend script not found next to the testkit; reinstall @vmcp-status/testkit")
}

/**
 * The command that runs the stdio fixture with the current Node binary.
 *
 * @example
 * ```ts
 * import { StdioClientTransport } from "@modelcontextprotocol/client/stdio"
 * import { stdioBackendCommand } from "@vmcp-status/testkit"
 *
 * const transport = new StdioClientTransport(stdioBackendCommand({ tools: ["a", "b"], exitAfterRequests: 2 }))
 * ```
 */
export const stdioBackendCommand = (options: StdioBackendOptions = {}): StdioCommand => {
  const args = [stdioBackendScript()]
  if (options.name !== undefined) args.push("--name", options.name)
  if (options.tools !== undefined) {
    const tools = options.tools.map((t) => (typeof t === "string" ? { name: t } : t))
    args.push("--tools-json", JSON.stringify(tools))
  }
  if (options.fail !== undefined) args.push("--fail", options.fail.join(","))
  if (options.delayMs !== undefined) args.push("--delay-ms", String(options.delayMs))
  if (options.exitAfterRequests !== undefined) {
    args.push("--exit-after-requests", String(options.exitAfterRequests))
  }
  if (options.exitCode !== undefined) args.push("--exit-code", String(options.exitCode))
  if (options.crash === true) args.push("--crash")
  if (options.startDelayMs !== undefined) args.push("--start-delay-ms", String(options.startDelayMs))
  if (options.spawnLog !== undefined) args.push("--spawn-log", options.spawnLog)
  if (options.stderr !== undefined) args.push("--stderr", options.stderr)
  return { command: process.execPath, args }
}
