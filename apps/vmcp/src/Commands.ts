import { readFileSync } from "node:fs"
import { parseArgs } from "node:util"
import { validateName } from "@vmcp-status/k8s"
import { Effect, Exit } from "effect"
import {
  type CliIo,
  type Command,
  defaultIo,
  ExitCode,
  loadOrReport,
  usageError,
  writeLine
} from "./CommandLine.ts"
import { decodeConfig, type VmcpConfig } from "./Config.ts"
import { ManifestDefaults, makeManifests, manifestsYaml } from "./Manifests.ts"
import { serve } from "./Serve.ts"
import { status } from "./StatusCommand.ts"
import { paintFor } from "./Terminal.ts"

const validate: Command = {
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
    const config = await loadOrReport(file, io)
    if (typeof config === "number") return config
    if (values.quiet === true) return ExitCode.ok
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
}

const manifestsHelp = `Usage: vmcp manifests --name <name> --namespace <namespace> [options]

Prints the Kubernetes objects that run vmcp as YAML (pipe it to \`kubectl apply -f -\`):
ServiceAccount, Role and RoleBinding with the least privilege (get on the one VirtualMCPServer
and patch on its /status, by resourceNames; Events create,patch; Lease verbs only with leader
election), ConfigMap with the config, Deployment (non-root, read-only root filesystem, probes,
VMCP_NAME / VMCP_NAMESPACE) and Service.

Options:
  --name <name>           the VirtualMCPServer's name, also used for every object (default: $VMCP_NAME)
  --namespace <ns>        the namespace (default: $VMCP_NAMESPACE)
  --replicas <n>          replicas of the Deployment; more than 1 turns on leader election (default 1)
  --with-crd              also print the VirtualMCPServer CRD and the object (standalone, no operator)
  --image <image>         the container image (default ${ManifestDefaults.image})
  -c, --config <file>     the config to put in the ConfigMap (default: an empty config)
  -h, --help              this help`

const manifests: Command = {
  summary: "print the Kubernetes manifests (RBAC included) to run vmcp",
  help: manifestsHelp,
  options: {
    name: { type: "string" },
    namespace: { type: "string" },
    replicas: { type: "string" },
    "with-crd": { type: "boolean" },
    image: { type: "string" },
    config: { type: "string", short: "c" }
  },
  run: async (values, io) => {
    const name = (values.name as string | undefined) ?? io.env.VMCP_NAME
    const namespace = (values.namespace as string | undefined) ?? io.env.VMCP_NAMESPACE
    if (name === undefined || namespace === undefined)
      return usageError(io, "--name and --namespace are required", manifestsHelp)
    const checked = Effect.runSyncExit(
      Effect.all([validateName("--name", name, "subdomain"), validateName("--namespace", namespace, "label")])
    )
    if (Exit.isFailure(checked)) {
      const reason = checked.cause.reasons.find((r) => r._tag === "Fail")
      return usageError(io, reason?._tag === "Fail" ? reason.error.message : "invalid name", manifestsHelp)
    }
    const replicasText = (values.replicas as string | undefined) ?? "1"
    const replicas = Number(replicasText)
    if (!Number.isInteger(replicas) || replicas < 1)
      return usageError(
        io,
        `--replicas must be an integer >= 1, got ${JSON.stringify(replicasText)}`,
        manifestsHelp
      )
    const file = values.config as string | undefined
    let configText: string | undefined
    let config: VmcpConfig
    if (file !== undefined) {
      const loaded = await loadOrReport(file, io)
      if (typeof loaded === "number") return loaded
      config = loaded
      configText = readFileSync(file, "utf8")
    } else {
      config = Effect.runSync(Effect.orDie(decodeConfig({ name }, "(default)")))
    }
    const objects = makeManifests({
      name,
      namespace,
      replicas,
      withCrd: values["with-crd"] === true,
      config,
      ...(configText === undefined ? {} : { configText }),
      ...(values.image === undefined ? {} : { image: values.image as string })
    })
    io.stdout.write(manifestsYaml(objects))
    return ExitCode.ok
  }
}

const commands: Record<string, Command> = { serve, status, validate, manifests }

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
