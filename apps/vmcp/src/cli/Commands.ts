import { parseArgs } from "node:util"
import { VERSION } from "../Version.ts"
import {
  type CliIo,
  type Command,
  defaultIo,
  ExitCode,
  loadOrReport,
  POSITIONALS,
  usageError,
  writeLine
} from "./CommandLine.ts"
import { manifests } from "./ManifestsCommand.ts"
import { recheck } from "./RecheckCommand.ts"
import { serve } from "./ServeCommand.ts"
import { status } from "./StatusCommand.ts"
import { paintFor } from "./Terminal.ts"

const validate: Command = {
  summary: "check a config file and print what it resolves to",
  help: `Usage: vmcp validate --config <file> [--quiet]

Checks the YAML config against the schema and the rules across fields, and that every \${VAR}
it names is set in this environment (as serve needs): every problem is printed with its path,
what was expected and what was found, never with a value that may be a secret (headers, env,
args, url), and the exit code is 2. A valid file prints a short summary (exit 0), or nothing
with --quiet.

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
    const config = await loadOrReport(file, io)
    if (typeof config === "number") return config
    if (values.quiet === true) return ExitCode.ok
    const paint = paintFor(io.stdout)
    writeLine(io.stdout, `${paint.green("ok:")} ${file} is valid`)
    writeLine(io.stdout, `  name ${config.name}, listen ${config.listen.host}:${config.listen.port}`)
    writeLine(
      io.stdout,
      `  ${config.backends.length} backend(s), conflicts: ${config.aggregation.conflictResolution}`
    )
    for (const b of config.backends) writeLine(io.stdout, `    ${b.name} (${b.transport})`)
    return ExitCode.ok
  }
}

const commands: Record<string, Command> = { serve, status, recheck, validate, manifests }

// Own keys only: `vmcp constructor` is an unknown command, not Object.prototype's.
const commandNamed = (name: string): Command | undefined =>
  Object.hasOwn(commands, name) ? commands[name] : undefined

const subcommandNamed = (command: Command, name: string | undefined): Command | undefined =>
  name !== undefined && command.subcommands !== undefined && Object.hasOwn(command.subcommands, name)
    ? command.subcommands[name]
    : undefined

const mainHelp = () => `Usage: vmcp <command> [options]

A Virtual MCP Server: aggregates MCP backends behind one Streamable HTTP endpoint and reports
its status to the log, Kubernetes and Prometheus.

Commands:
${Object.entries(commands)
  .map(([name, c]) => `  ${name.padEnd(11)} ${c.summary}`)
  .join("\n")}
  help        print this help, or a command's: vmcp help <command>
  version     print vmcp's version (also --version, -V)

Run \`vmcp help <command>\` (or \`vmcp <command> --help\`) for its options.`

const versionArgs = new Set(["version", "--version", "-V"])

/** Names what was not understood and how to find what is: exit code 2. */
const unknownCommand = (io: CliIo, name: string) => {
  const paint = paintFor(io.stderr)
  const what = name.startsWith("-") ? "option" : "command"
  writeLine(
    io.stderr,
    `${paint.red("error:")} unknown ${what} ${JSON.stringify(name)}: the commands are ${Object.keys(commands).join(", ")}, help and version; run \`vmcp --help\``
  )
  return ExitCode.usage
}

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
  if (name === undefined || name === "--help" || name === "-h") {
    writeLine(name === undefined ? io.stderr : io.stdout, mainHelp())
    return name === undefined ? ExitCode.usage : ExitCode.ok
  }
  if (versionArgs.has(name)) {
    if (rest.length > 0) return usageError(io, `${name} takes no arguments`, mainHelp())
    writeLine(io.stdout, VERSION)
    return ExitCode.ok
  }
  if (name === "help") {
    const [topic, subtopic, ...extra] = rest
    if (topic === undefined) {
      writeLine(io.stdout, mainHelp())
      return ExitCode.ok
    }
    const command = commandNamed(topic)
    if (command === undefined) return unknownCommand(io, topic)
    const sub = subcommandNamed(command, subtopic)
    if (extra.length > 0 || (subtopic !== undefined && sub === undefined))
      return usageError(io, "help takes one command (and its subcommand)", mainHelp())
    writeLine(io.stdout, (sub ?? command).help)
    return ExitCode.ok
  }
  const command = commandNamed(name)
  if (command === undefined) return unknownCommand(io, name)
  return runCommand(command, rest, io)
}

/** Parses a command's flags and runs it, or the subcommand its first argument names. */
const runCommand = async (command: Command, args: ReadonlyArray<string>, io: CliIo): Promise<number> => {
  const [first, ...afterFirst] = args
  const sub = subcommandNamed(command, first)
  if (sub !== undefined) return runCommand(sub, afterFirst, io)
  const paint = paintFor(io.stderr)
  let values: Record<string, unknown>
  try {
    const parsed = parseArgs({
      args: [...args],
      options: { ...command.options, help: { type: "boolean", short: "h" } },
      strict: true,
      allowPositionals: command.positionals !== undefined
    })
    values =
      command.positionals === undefined
        ? parsed.values
        : { ...parsed.values, [POSITIONALS]: parsed.positionals }
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
