import { dirname, resolve } from "node:path"
import type { VmcpConfig } from "../Config.ts"
import { Paths } from "../server/Paths.ts"
import { selectReporters } from "../status/Reporters.ts"
import { type Command, loadOrReport, usageError } from "./CommandLine.ts"

const serveHelp = `Usage: vmcp serve [--config <file>] [options]

Starts the Virtual MCP Server: connects to the configured backends (Streamable HTTP or stdio),
serves their tools as one MCP endpoint at ${Paths.mcp} (Streamable HTTP), checks their health, and
reports the status to the log, Kubernetes and Prometheus. The admin listener (listen.admin, default
127.0.0.1 on listen.port + 1) serves ${Paths.healthz}, ${Paths.readyz} (ready after the first health
round while a backend is routable), ${Paths.status} (the status as JSON) and ${Paths.metrics}; with
auth.mode none the main listener serves them too. A request with a foreign Origin (not loopback,
not in listen.allowedOrigins) gets 403; on loopback, so does one whose Host is not a loopback name.

Authentication of ${Paths.mcp}: auth.mode bearer (tokens from auth.bearer.tokenFiles) or oidc (JWTs
of auth.oidc.issuer); with auth.mode none, a listen.host beyond loopback exits 2 unless
auth.allowUnauthenticated is true (or --allow-unauthenticated is given).

Reporters: in a cluster (KUBERNETES_SERVICE_HOST with VMCP_NAME and VMCP_NAMESPACE set) log, k8s
and prometheus, the log as JSON lines; elsewhere log and prometheus. A reporter that cannot start
is skipped with one log line unless it is required.

Options:
  -c, --config <file>            the config file (default: vmcp.yaml)
  --reporters <list>             the reporters to run, e.g. log,k8s,prometheus (env VMCP_REPORTERS)
  --require-reporters <list>     reporters that must start, or vmcp exits 1 (env VMCP_REQUIRED_REPORTERS)
  --kubeconfig <file>            kubeconfig for the k8s reporter outside a cluster (default: KUBECONFIG)
  --name <name>                  the VirtualMCPServer to report on (default: VMCP_NAME)
  --namespace <ns>               its namespace (default: VMCP_NAMESPACE)
  --host <address>               overrides listen.host (default 127.0.0.1)
  --port <port>                  overrides listen.port (0 picks a free port)
  --allow-unauthenticated        sets auth.allowUnauthenticated: serve auth.mode none beyond loopback
  -h, --help                     this help

SIGTERM or SIGINT: readiness off, in-flight calls drained, final status ShuttingDown published,
exit within 10 s.`

/**
 * The server's heaviest dependencies (0.01–0.23 s each on a busy 2-core machine). A module graph
 * loads and runs without giving the event loop a turn (one `import()` of the whole server blocks
 * ~0.7 s), so the early listeners could not answer a probe until it ended; loaded one by one, they
 * answer between two.
 */
const heavyModules: ReadonlyArray<() => Promise<unknown>> = [
  () => import("@modelcontextprotocol/server"),
  () => import("@modelcontextprotocol/node"),
  () => import("@modelcontextprotocol/client"),
  () => import("winston"),
  () => import("@vmcp-status/mcp"),
  () => import("@vmcp-status/health")
]

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve))

const preloadYielding = async (): Promise<void> => {
  for (const load of heavyModules) {
    await load()
    await nextTurn()
  }
}

/** `vmcp serve`. */
export const serve: Command = {
  summary: "run the Virtual MCP Server",
  help: serveHelp,
  options: {
    config: { type: "string", short: "c" },
    reporters: { type: "string" },
    "require-reporters": { type: "string" },
    kubeconfig: { type: "string" },
    name: { type: "string" },
    namespace: { type: "string" },
    host: { type: "string" },
    port: { type: "string" },
    "allow-unauthenticated": { type: "boolean" }
  },
  run: async (values, io) => {
    const file = (values.config as string | undefined) ?? "vmcp.yaml"
    const loaded = await loadOrReport(file, io)
    if (typeof loaded === "number") return loaded
    const selection = selectReporters({
      env: io.env,
      ...(values.reporters === undefined ? {} : { reporters: values.reporters as string }),
      ...(values["require-reporters"] === undefined
        ? {}
        : { required: values["require-reporters"] as string })
    })
    if (typeof selection === "string") return usageError(io, selection, serveHelp)
    const portText = values.port as string | undefined
    const port = portText === undefined ? loaded.listen.port : Number(portText)
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      return usageError(
        io,
        `--port must be a port between 0 and 65535, got ${JSON.stringify(portText)}`,
        serveHelp
      )
    const config: VmcpConfig = {
      ...loaded,
      listen: { ...loaded.listen, host: (values.host as string | undefined) ?? loaded.listen.host, port },
      auth:
        values["allow-unauthenticated"] === true
          ? { ...loaded.auth, allowUnauthenticated: true }
          : loaded.auth
    }
    // Listen before the server, the MCP SDK and the reporters load (they take most of start-up):
    // /healthz answers from here on, /readyz says "starting". Not beyond loopback while the auth
    // check would refuse it; a port that cannot be bound is left to `runServer` to report.
    const { adminListen, unauthenticatedExposure } = await import("../Config.ts")
    const { listenEarly } = await import("../server/EarlyListen.ts")
    const early =
      unauthenticatedExposure(config.listen.host, config.auth) === undefined
        ? await listenEarly(
            { ...config.listen },
            {
              ...adminListen(config.listen),
              allowedOrigins: config.listen.allowedOrigins,
              allowedHosts: config.listen.admin.allowedHosts
            }
          )
        : undefined
    try {
      // The server, the MCP SDK and the reporters load here, not with the command table.
      if (early !== undefined) await preloadYielding()
      const { runServer } = await import("../server/Serve.ts")
      return await runServer({
        config,
        selection,
        io,
        listeners: early,
        configDir: dirname(resolve(file)),
        ...(values.kubeconfig === undefined ? {} : { kubeconfig: values.kubeconfig as string }),
        ...(values.name === undefined ? {} : { objectName: values.name as string }),
        ...(values.namespace === undefined ? {} : { objectNamespace: values.namespace as string })
      })
    } finally {
      await early?.close()
    }
  }
}
