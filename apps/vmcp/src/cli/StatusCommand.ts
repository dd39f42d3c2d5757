import { Paths } from "../server/Paths.ts"
import { type Command, ExitCode } from "./CommandLine.ts"

/** The server `vmcp status` asks without `--url` (the example config's listener). */
export const DEFAULT_URL = "http://127.0.0.1:4483"
/** How often `vmcp status --watch` polls a server without a status stream. */
export const POLL_MS = 1_000

/** `vmcp status --help`. */
export const statusHelp = `Usage: vmcp status [--url <base URL> | --name <object> [--namespace <ns>] [--kubeconfig <file>] | -A]
                   [-o text|wide|json|yaml] [--watch] [--wait [--for <condition>] [--timeout <duration>]]

Prints the status of a running server (its ${Paths.status}) or of a VirtualMCPServer custom resource:
the phase and message, one line per backend (health, tools, why), and the conditions.

Where:
  --url <url>           a server (default ${DEFAULT_URL})
  --name <name>         read the VirtualMCPServer <name> from Kubernetes instead
  --namespace <ns>      its namespace (default: the kubeconfig context's, else default)
  --kubeconfig <file>   default: KUBECONFIG, ~/.kube/config, or the in-cluster account
  -A, --all-namespaces  one line per VirtualMCPServer in every namespace (the fleet view)

What:
  -o, --output <fmt>    text (default), wide (adds circuit, failures, latency, healthy since,
                        availability over 1 h), json or yaml (what the source returned)
  --json                the same as -o json
  -w, --watch           stay and print again on every change (the server's ${Paths.status}/stream,
                        else polling every ${POLL_MS / 1000} s); Ctrl-C stops
  --wait                exit once --for holds (like kubectl wait); with --watch, print while waiting
  --for <condition>     ready (default): phase Ready; healthy: Ready and every backend healthy;
                        backend=<name>: that backend healthy
  --timeout <duration>  how long --wait waits after the first answer (default 60s)
  -h, --help            this help

Exit codes:
  ${ExitCode.ok}  the server is Ready (with --wait: the condition holds; with --watch: stopped by Ctrl-C)
  ${ExitCode.notReady}  the server answered and is not Ready (Pending, Degraded, Failed, or no status yet);
     with --wait: timed out while the source answered
  ${ExitCode.usage}  bad usage
  ${ExitCode.unreachable}  no status: the source cannot be reached (refused, timed out, forbidden) or does
     not serve a vmcp status; with --wait: it never answered before the timeout

Examples:
  vmcp status -o wide
  vmcp status --wait --for=backend=github --timeout 2m
  vmcp status --name vmcp --namespace tools --wait --for=ready
  vmcp status -A`

/** `vmcp status`. */
export const status: Command = {
  summary: "print, watch or wait for the status of a server or of its custom resource",
  help: statusHelp,
  options: {
    url: { type: "string" },
    json: { type: "boolean" },
    output: { type: "string", short: "o" },
    watch: { type: "boolean", short: "w" },
    wait: { type: "boolean" },
    for: { type: "string" },
    timeout: { type: "string" },
    name: { type: "string" },
    namespace: { type: "string", short: "n" },
    kubeconfig: { type: "string" },
    "all-namespaces": { type: "boolean", short: "A" }
  },
  // The sources and views (the Kubernetes package, the status schema) load when it runs.
  run: async (values, io) => (await import("./StatusRun.ts")).runStatus(values, io)
}
