import type { parseArgs } from "node:util"
import type { ConfigError, VmcpConfig } from "../Config.ts"
import { paintFor } from "./Terminal.ts"

/**
 * Exit codes: 0 ok, 1 runtime failure, 2 bad usage or bad config; `vmcp status` tells a server
 * that answers but is not Ready (1) from one it cannot reach (3).
 */
export const ExitCode = { ok: 0, failure: 1, notReady: 1, usage: 2, unreachable: 3 } as const

/** Where a command writes; injectable for tests. */
export interface CliIo {
  readonly stdout: NodeJS.WritableStream & { readonly isTTY?: boolean }
  readonly stderr: NodeJS.WritableStream & { readonly isTTY?: boolean }
  /** Config and reporter variables; colours follow the process's own (see `paintFor`). */
  readonly env: Readonly<Record<string, string | undefined>>
}

/** The process's streams and environment. */
export const defaultIo = (): CliIo => ({ stdout: process.stdout, stderr: process.stderr, env: process.env })

/** A subcommand: its help text, its flags, and what it does. */
export interface Command {
  readonly summary: string
  readonly help: string
  readonly options: NonNullable<Parameters<typeof parseArgs>[0]>["options"]
  readonly run: (values: Record<string, unknown>, io: CliIo) => Promise<number>
  /** Names its arguments take (`vmcp recheck <backend>`), for help; they reach `run` as `values[POSITIONALS]`. */
  readonly positionals?: string
  /** Commands under this one (`vmcp manifests crd`): the first argument picks one. */
  readonly subcommands?: Readonly<Record<string, Command>>
}

/** The key of a command's positional arguments in its `values` (an array of strings). */
export const POSITIONALS = "_positionals"

/** Writes one line. */
export const writeLine = (stream: NodeJS.WritableStream, text: string) => stream.write(`${text}\n`)

/** Prints a config error the way every command does, and returns exit code 2. */
export const reportConfigError = async (error: ConfigError, io: CliIo): Promise<number> => {
  const { formatConfigIssue } = await import("../Config.ts")
  const paint = paintFor(io.stderr)
  writeLine(io.stderr, `${paint.red("error:")} ${paint.bold(`invalid config ${error.file}`)}`)
  for (const issue of error.issues) writeLine(io.stderr, `  ${formatConfigIssue(issue, paint.bold)}`)
  return ExitCode.usage
}

/**
 * Loads the config, or prints why it cannot be used and returns exit code 2. `${VAR}` references
 * are checked against `io.env` unless `checkEnv` is false (the variables live elsewhere).
 */
export const loadOrReport = async (
  file: string,
  io: CliIo,
  { checkEnv = true }: { readonly checkEnv?: boolean } = {}
): Promise<VmcpConfig | number> => {
  // The schema (and Effect) load with the first command that reads a config, not with `--help`.
  const [{ loadVmcpConfig }, Effect, Exit] = await Promise.all([
    import("../Config.ts"),
    import("effect/Effect"),
    import("effect/Exit")
  ])
  const exit = await Effect.runPromiseExit(loadVmcpConfig(file, checkEnv ? { env: io.env } : {}))
  if (Exit.isSuccess(exit)) return exit.value
  const error = exit.cause.reasons.find((r) => r._tag === "Fail")
  if (error?._tag === "Fail") return reportConfigError(error.error, io)
  throw exit.cause
}

/** Prints a usage error and the command's help; exit code 2. */
export const usageError = (io: CliIo, message: string, help: string) => {
  const paint = paintFor(io.stderr)
  writeLine(io.stderr, `${paint.red("error:")} ${message}\n\n${help}`)
  return ExitCode.usage
}
