/** `vmcp serve` run inside the test's own process, as several test files start it. */
import { Writable } from "node:stream"
import { eventually } from "@vmcp-status/testkit"
import { Effect } from "effect"
import { decodeConfig } from "../src/Config.ts"
import { runServer } from "../src/server/Serve.ts"
import { selectReporters } from "../src/status/Reporters.ts"

/** Options of `serveInProcess`. */
export interface InProcessOptions<A> {
  /** Merged over `{ listen: { port: 0 }, status: { log: { format: "json" } } }`. */
  readonly config: Record<string, unknown>
  /** What to wait for in the log (e.g. the "serving MCP at" line); `undefined` until it is there. */
  readonly until: (log: string) => A | undefined
  /** Where the test registers its after-each cleanups: the server is stopped there. */
  readonly cleanups: Array<() => Promise<unknown> | unknown>
}

/**
 * Starts `vmcp serve` with the log and prometheus reporters and a JSON log, and resolves with
 * what `until` finds in its log once it is there (failing at once if the server exits first).
 */
export const serveInProcess = async <A>(
  options: InProcessOptions<A>
): Promise<{ readonly found: A; readonly log: () => string }> => {
  let text = ""
  const stdout = new Writable({
    write: (chunk: Buffer, _encoding, done) => {
      text += chunk.toString("utf8")
      done()
    }
  })
  const config = Effect.runSync(
    decodeConfig({ listen: { port: 0 }, status: { log: { format: "json" } }, ...options.config }, "test")
  )
  const selection = selectReporters({ env: {}, reporters: "log,prometheus" })
  if (typeof selection === "string") throw new Error(selection)
  let stop: (signal: string) => void = () => undefined
  const stopSignal = new Promise<string>((resolve) => {
    stop = resolve
  })
  const exited = runServer({
    config,
    selection,
    io: { stdout, stderr: stdout, env: {} },
    stopSignal,
    hardExit: false
  })
  options.cleanups.push(async () => {
    stop("SIGTERM")
    await exited
  })
  let exitCode: number | undefined
  void exited.then((code) => {
    exitCode = code
  })
  const found = await eventually("the app to serve", () => {
    if (exitCode !== undefined) throw new Error(`vmcp exited with ${exitCode}: ${text}`)
    return options.until(text)
  })
  return { found, log: () => text }
}

/** The base URL of the main listener, from the "serving MCP at <url>/mcp" line. */
export const servingUrl = (log: string): string | undefined => /serving MCP at (\S+)\/mcp/.exec(log)?.[1]
