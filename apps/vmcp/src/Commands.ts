import { parseArgs } from "node:util"
import { Effect, Exit } from "effect"
import { type ConfigError, loadConfig } from "./Config.ts"
import { paintFor } from "./Terminal.ts"

/** Exit codes: 0 ok, 1 runtime failure, 2 bad usage or bad config. */
export const ExitCode = { ok: 0, failure: 1, usage: 2 } as const

/** Where a command writes; injectable for tests. */
export interface CliIo {
  readonly stdout: NodeJS.WritableStream & { readonly isTTY?: boolean }
  readonly stderr: NodeJS.WritableStream & { readonly isTTY?: boolean }
  readonly env: Readonly<Record<string, string | undefined>>
}

const defaultIo = (): CliIo => ({ stdout: process.stdout, stderr: process.stderr, env: process.env })

/** A subcommand: its help text, its flags, and what it does. */
interface Command {
  readonly summary: string
  readonly help: string
  readonly options: NonNullable<Parameters<typeof parseArgs>[0]>["options"]
  readonly run: (values: Record<string, unknown>, io: CliIo) => Promise<number>
}

const writeLine = (stream: NodeJS.WritableStream, text: string) => stream.write(`${text}\n`)

/** Prints a config error the way every command does, and returns exit code 2. */
export const reportConfigError = (error: ConfigError, io: CliIo): number => {
  const paint = paintFor(io.stderr, io.env)
  writeLine(io.stderr, `${paint.red("error:")} ${paint.bold(`invalid config ${error.file}`)}`)
  for (const issue of error.issues)
    writeLine(io.stderr, `  ${paint.bold(issue.path)}: expected ${issue.expected}, found ${issue.found}`)
  return ExitCode.usage
}

const commands: Record<string, Command> = {}

/** Registers a subcommand (modules add theirs: serve, manifests). */
export const registerCommand = (name: string, command: Command): void => {
  commands[name] = command
}

registerCommand("validate", {
  summary: "check a config file and print what it resolves to",
  help: `Usage: vmcp validate --config <file> [--quiet]

Checks the YAML config against the schema: every problem is printed with its path, what was
expected and what was found, and the exit code is 2. A valid file prints a short summary
(exit 0), or nothing with --quiet.

Options:
  -c, --config <file>   the config file (default: vmcp.yaml)
  -q, --quiet           print nothing when the file is valid
  -h, --help            this help`,
  options: {
    config: { type: "string", short: "c" },
    quiet: { type: "boolean", short: "q" }
  },
  run: async (values, io) => {
    const file = (values.config as string | undefined) ?? "vmcp.yaml"
    const exit = await Effect.runPromiseExit(loadConfig(file))
    if (Exit.isFailure(exit)) {
      const error = exit.cause.reasons.find((r) => r._tag === "Fail")
      if (error?._tag === "Fail") return reportConfigError(error.error, io)
      throw exit.cause
    }
    if (values.quiet === true) return ExitCode.ok
    const config = exit.value
    const paint = paintFor(io.stdout, io.env)
    writeLine(io.stdout, `${paint.green("ok:")} ${file} is valid`)
    writeLine(io.stdout, `  name ${config.name}, listen ${config.listen.host}:${config.listen.port}`)
    writeLine(
      io.stdout,
      `  ${config.backends.length} backend(s), conflicts: ${config.aggregation.conflictResolution}`
    )
    for (const b of config.backends) writeLine(io.stdout, `    ${b.name} (${b.transport})`)
    return ExitCode.ok
  }
})

const mainHelp = () => `Usage: vmcp <command> [options]

A Virtual MCP Server: aggregates MCP backends behind one Streamable HTTP endpoint and reports
its status to the log, Kubernetes and Prometheus.

Commands:
${Object.entries(commands)
  .map(([name, c]) => `  ${name.padEnd(11)} ${c.summary}`)
  .join("\n")}

Run \`vmcp <command> --help\` for a command's options.`

/**
 * Runs the CLI with `argv` (without `node` and the script) and returns the exit code.
 *
 * @example
 * ```ts
 * import { runCli } from "@vmcp-status/vmcp"
 *
 * process.exitCode = await runCli(["validate", "--config", "vmcp.yaml"])
 * ```
 */
export const runCli = async (argv: ReadonlyArray<string>, io: CliIo = defaultIo()): Promise<number> => {
  const [name, ...rest] = argv
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    writeLine(name === undefined ? io.stderr : io.stdout, mainHelp())
    return name === undefined ? ExitCode.usage : ExitCode.ok
  }
  const command = commands[name]
  const paint = paintFor(io.stderr, io.env)
  if (command === undefined) {
    writeLine(io.stderr, `${paint.red("error:")} unknown command ${JSON.stringify(name)}\n\n${mainHelp()}`)
    return ExitCode.usage
  }
  let values: Record<string, unknown>
  try {
    values = parseArgs({
      args: [...rest],
      options: { ...command.options, help: { type: "boolean", short: "h" } },
      strict: true,
      allowPositionals: false
    }).values
  } catch (error) {
    writeLine(
      io.stderr,
      `${paint.red("error:")} ${error instanceof Error ? error.message : String(error)}\n\n${command.help}`
    )
    return ExitCode.usage
  }
  if (values.help === true) {
    writeLine(io.stdout, command.help)
    return ExitCode.ok
  }
  return command.run(values, io)
}
