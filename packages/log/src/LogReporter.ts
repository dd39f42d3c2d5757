import { InvalidOptionError, Reporter, transitions } from "@vmcp-status/core"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type winston from "winston"
import { type LogEntry, summaryEntry, transitionEntry } from "./Lines.ts"
import { createDefaultLogger, type LogFormat, resolveColor, resolveFormat } from "./Logger.ts"

/** Options of `makeLogReporter`. Every field has a default. */
export interface LogReporterOptions {
  /** The reporter's name in publisher health (default `log`). */
  readonly name?: string
  /** The server's name in every line, e.g. the `VMCP_NAME` (default `vmcp`). */
  readonly vmcp?: string
  /** A winston logger to write to; its own format and transports apply. Default: one on `stream`. */
  readonly logger?: winston.Logger
  /** Format of the default logger (default `auto`: readable on a TTY, JSON otherwise and in a cluster). */
  readonly format?: LogFormat
  /** Where the default logger writes (default `process.stdout`). */
  readonly stream?: NodeJS.WritableStream
  /** `transitions` (default): a line when the phase or a backend's health changes. `changes`: a line on every meaningful change. */
  readonly mode?: "transitions" | "changes"
  /**
   * Also log a summary of every backend on the first tick at least this long after the last
   * summary (e.g. `"5 minutes"`). Off by default.
   */
  readonly summaryInterval?: Duration.Input
  /** Environment for format detection (default `process.env`). */
  readonly env?: Readonly<Record<string, string | undefined>>
}

const write = (logger: winston.Logger, entry: LogEntry) =>
  Effect.sync(() => {
    logger.log(entry)
  })

/**
 * A reporter that writes status transitions to winston: one line per change naming the phase,
 * the counts, and each backend that changed and why; level by phase (Ready info, Degraded warn,
 * Failed error); credentials redacted.
 *
 * @example
 * ```ts
 * import { start } from "@vmcp-status/core"
 * import { makeLogReporter } from "@vmcp-status/log"
 *
 * const publisher = await start({ reporters: [makeLogReporter({ vmcp: "my-vmcp" })] })
 * ```
 */
export const makeLogReporter = (options: LogReporterOptions = {}): Reporter.Reporter => {
  const vmcp = options.vmcp ?? "vmcp"
  const mode = options.mode ?? "transitions"
  const env = options.env ?? process.env
  let summaryEveryMs: number | undefined
  if (options.summaryInterval !== undefined) {
    const decoded = Duration.fromInput(options.summaryInterval)
    if (Option.isNone(decoded) || !(Duration.toMillis(decoded.value) > 0))
      throw new InvalidOptionError({
        option: "summaryInterval",
        message: `summaryInterval must be a positive duration such as "5 minutes", got ${String(options.summaryInterval)}`
      })
    summaryEveryMs = Duration.toMillis(decoded.value)
  }
  const logger =
    options.logger ??
    (() => {
      const stream = options.stream ?? process.stdout
      const isTTY = (stream as { isTTY?: boolean }).isTTY === true
      return createDefaultLogger({
        format: resolveFormat(options.format ?? "auto", { isTTY, env }),
        stream,
        color: resolveColor({ isTTY, env })
      })
    })()
  let lastSummaryAt: number | undefined

  return Reporter.make(options.name ?? "log", (status, context) =>
    Effect.gen(function* () {
      let wrote = false
      const change = transitions(context.previous, status)
      if (mode === "transitions" ? change.any : context.changed) {
        yield* write(logger, transitionEntry(vmcp, status, change))
        wrote = true
      }
      if (summaryEveryMs !== undefined && context.trigger === "tick") {
        const now = yield* Clock.currentTimeMillis
        if (lastSummaryAt === undefined || now - lastSummaryAt >= summaryEveryMs) {
          lastSummaryAt = now
          yield* write(logger, summaryEntry(vmcp, status))
          wrote = true
        }
      }
      return wrote ? "written" : "skipped"
    })
  )
}
