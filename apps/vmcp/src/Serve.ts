import { dirname, resolve } from "node:path"
import { Writable } from "node:stream"
import { makeRedactor, type Redactor, ReporterStartError } from "@vmcp-status/core"
import { createDefaultLogger, resolveFormat } from "@vmcp-status/log"
import { metricsHandler } from "@vmcp-status/prometheus"
import { Cause, Effect, Exit, Logger, Schema } from "effect"
import type winston from "winston"
import { type Authenticator, makeAuthenticator, makeAuthFailureLog, TokenFileError } from "./Auth.ts"
import { backendSecrets, makeBackendConnection } from "./BackendConnection.ts"
import { describeSessionEvent } from "./BackendSession.ts"
import { type CliIo, type Command, ExitCode, loadOrReport, usageError } from "./CommandLine.ts"
import { adminListen, formatConfigIssue, unauthenticatedExposure, type VmcpConfig } from "./Config.ts"
import { makeGateway } from "./Gateway.ts"
import { type HttpServer, Paths, startHttpServer } from "./HttpServer.ts"
import { makeMcpEndpoint } from "./McpEndpoint.ts"
import { readiness } from "./Readiness.ts"
import { makeRecheck } from "./Recheck.ts"
import { buildReporters, type ReporterSelection, selectReporters } from "./Reporters.ts"
import { ShutdownBudget } from "./ShutdownBudget.ts"
import { type StatusRuntime, startStatus } from "./Status.ts"
import { makeStatusFeed } from "./StatusFeed.ts"
import { colorsEnabled } from "./Terminal.ts"
import { VERSION } from "./Version.ts"

export { ShutdownBudget } from "./ShutdownBudget.ts"

/** The HTTP server could not listen; `message` says why and what to change. */
export class ListenError extends Schema.TaggedError<ListenError>()("ListenError", {
  message: Schema.String
}) {}

/** Options of `runServer`. */
export interface ServerOptions {
  readonly config: VmcpConfig
  readonly selection: ReporterSelection
  readonly io: CliIo
  /** The config file's folder: stdio backends run there unless they set `cwd`. */
  readonly configDir?: string
  readonly kubeconfig?: string
  readonly objectName?: string
  readonly objectNamespace?: string
  /** Resolves when the server should stop (default: the first SIGTERM or SIGINT). */
  readonly stopSignal?: Promise<string>
  /** Exit the process if shutdown takes longer than `ShutdownBudget.hardExitMs` (default true). */
  readonly hardExit?: boolean
}

const signals = (): Promise<string> =>
  new Promise((resolve) => {
    const on = (signal: NodeJS.Signals) => {
      process.off("SIGTERM", on)
      process.off("SIGINT", on)
      // A second Ctrl-C means "now".
      process.once("SIGINT", () => process.exit(130))
      resolve(signal)
    }
    process.on("SIGTERM", on)
    process.on("SIGINT", on)
  })

const effectLogger = (logger: winston.Logger) =>
  Logger.make(({ message, logLevel }) => {
    const parts = Array.isArray(message) ? message : [message]
    const text = parts.map((p) => (typeof p === "string" ? p : JSON.stringify(p))).join(" ")
    const level =
      logLevel === "Error" || logLevel === "Fatal" ? "error" : logLevel === "Warn" ? "warn" : "info"
    if (logLevel === "Debug" || logLevel === "Trace") return
    logger.log({ level, message: text })
  })

/**
 * The log's stream behind a filter that removes every backend's known secrets (and the generic
 * patterns) from each write: the last line of defence for text that reaches stdout.
 */
const redactingStream = (target: CliIo["stdout"], redact: Redactor): CliIo["stdout"] =>
  Object.assign(
    new Writable({
      // winston writes one whole entry per call, so a secret is never split across writes.
      write(chunk, _encoding, done) {
        target.write(redact(String(chunk)))
        done()
      }
    }),
    target.isTTY === undefined ? {} : { isTTY: target.isTTY }
  )

/**
 * Runs the server until a stop signal, then shuts down in order: readiness off, in-flight
 * calls drained (bounded), final status published (`ShuttingDown`), backends and listeners
 * closed. Resolves with the exit code.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { defaultIo, loadVmcpConfig, runServer, selectReporters } from "@vmcp-status/vmcp"
 *
 * const config = await Effect.runPromise(loadVmcpConfig("vmcp.yaml"))
 * const selection = selectReporters({ env: process.env })
 * if (typeof selection !== "string") process.exitCode = await runServer({ config, selection, io: defaultIo() })
 * ```
 */
export const runServer = async (options: ServerOptions): Promise<number> => {
  const { config, selection, io } = options
  // Checked here too, not only in the config: `--host` may have moved the listener off loopback.
  const exposure = unauthenticatedExposure(config.listen.host, config.auth)
  if (exposure !== undefined) {
    io.stderr.write(`error: ${formatConfigIssue(exposure)}\n`)
    return ExitCode.usage
  }
  let auth: Authenticator | undefined
  try {
    auth = makeAuthenticator(config, options.configDir)
  } catch (error) {
    if (!(error instanceof TokenFileError)) throw error
    io.stderr.write(`error: ${error.message}\n`)
    return ExitCode.usage
  }
  // Listen for signals from the start: a SIGTERM during startup stops the server once it is up.
  const stopSignal = options.stopSignal ?? signals()
  const env = io.env
  const isTTY = io.stdout.isTTY === true
  const redact = makeRedactor({
    secrets: config.backends.flatMap((b) => backendSecrets(b, env)),
    maxLength: Number.POSITIVE_INFINITY
  })
  const stdout = redactingStream(io.stdout, redact)
  const logger = createDefaultLogger({
    format: resolveFormat(config.status.log.format, { isTTY, env }),
    stream: stdout,
    color: colorsEnabled(io.stdout)
  })
  const vmcp = options.objectName ?? env.VMCP_NAME ?? config.name
  const log = (level: "info" | "warn" | "error", message: string) =>
    Effect.sync(() => logger.log({ level, message, vmcp }))

  const program = Effect.gen(function* () {
    yield* log(
      "info",
      `vmcp ${VERSION} starting with ${config.backends.length} backend(s); ${selection.reason}`
    )
    const connections = config.backends.map((b) =>
      makeBackendConnection(b, {
        env,
        maxResponseBytes: config.limits.maxResponseBytes,
        ...(options.configDir === undefined ? {} : { baseDir: options.configDir })
      })
    )
    // Crashes and restarts of backend processes, each on one line (docs/behaviours.md#backend-lifecycle).
    for (const connection of connections)
      connection.subscribe((event) => {
        const line = describeSessionEvent(event)
        if (line !== undefined) logger.log({ level: line.level, message: line.message, vmcp })
      })
    const gateway = makeGateway(config, connections)
    yield* Effect.addFinalizer(() => Effect.promise(() => gateway.close()))
    const endpoint = makeMcpEndpoint({
      name: config.name,
      version: VERSION,
      router: gateway,
      maxSessions: config.listen.maxSessions,
      limits: config.limits
    })
    yield* Effect.addFinalizer(() => Effect.promise(() => endpoint.close()))
    gateway.onListChanged = (kind) => endpoint.listChanged(kind)

    const built = yield* Effect.promise(() =>
      buildReporters(selection, config, {
        env,
        stream: stdout,
        ...(options.kubeconfig === undefined ? {} : { kubeconfig: options.kubeconfig }),
        ...(options.objectName === undefined ? {} : { objectName: options.objectName }),
        ...(options.objectNamespace === undefined ? {} : { objectNamespace: options.objectNamespace })
      })
    )
    // Listen first: a taken port fails startup before any backend or API server is contacted.
    let status: StatusRuntime | undefined
    let stopping = false
    const feed = makeStatusFeed()
    // One limiter for both listeners: a backend is rechecked at most once per interval.
    const recheck = makeRecheck({
      probe: (name) => status?.recheck(name) ?? Promise.resolve(undefined),
      backends: () => config.backends.map((b) => b.name)
    })
    built.prometheus?.observeHistory(() => feed.summary(Date.now()))
    const failures = makeAuthFailureLog((message) => logger.log({ level: "warn", message, vmcp }))
    yield* Effect.addFinalizer(() => Effect.sync(() => failures.close()))
    const ready = () =>
      readiness({
        stopping,
        initialRoundComplete: status?.initialRoundComplete() === true,
        status: status?.current()
      })
    const metrics =
      built.prometheus === undefined ? {} : { metrics: metricsHandler(built.prometheus.registry) }
    const http: HttpServer = yield* Effect.tryPromise({
      try: () =>
        startHttpServer({
          host: config.listen.host,
          port: config.listen.port,
          endpoint,
          // With authentication on, /status and /metrics move to the admin listener only.
          role: auth === undefined ? "all" : "mcp",
          auth,
          onAuthFailure: failures.record,
          ready,
          status: () => status?.current(),
          feed,
          recheck,
          allowedOrigins: config.listen.allowedOrigins,
          allowedHosts: config.listen.allowedHosts,
          ...metrics
        }),
      catch: (error) => {
        const code = (error as NodeJS.ErrnoException).code ?? String(error)
        return new ListenError({
          message: `cannot listen on ${config.listen.host}:${config.listen.port} (${code}): ${
            code === "EADDRINUSE"
              ? "another process uses the port; set listen.port in the config or pass --port"
              : "check listen.host and listen.port"
          }`
        })
      }
    })
    yield* Effect.addFinalizer(() => Effect.promise(() => http.close()))
    const admin = adminListen(config.listen)
    const adminHttp: HttpServer = yield* Effect.tryPromise({
      try: () =>
        startHttpServer({
          host: admin.host,
          port: admin.port,
          role: "admin",
          ready,
          status: () => status?.current(),
          feed,
          recheck,
          allowedOrigins: config.listen.allowedOrigins,
          allowedHosts: config.listen.admin.allowedHosts,
          ...metrics
        }),
      catch: (error) => {
        const code = (error as NodeJS.ErrnoException).code ?? String(error)
        return new ListenError({
          message: `cannot listen on ${admin.host}:${admin.port} for the admin listener (${code}): ${
            code === "EADDRINUSE"
              ? "another process uses the port; set listen.admin.port in the config"
              : "check listen.admin.host and listen.admin.port"
          }`
        })
      }
    })
    yield* Effect.addFinalizer(() => Effect.promise(() => adminHttp.close()))
    const running = yield* startStatus({
      config,
      gateway,
      reporters: built.sources,
      prometheus: built.prometheus,
      feed,
      stopTimeoutMs: ShutdownBudget.finalStatusMs
    })
    status = running
    const adminPaths = `${Paths.healthz}, ${Paths.readyz}, ${Paths.status}${
      built.prometheus === undefined ? "" : `, ${Paths.metrics}`
    }`
    yield* log(
      "info",
      `serving MCP at ${http.url}${Paths.mcp} (auth: ${config.auth.mode}; also ${
        auth === undefined ? adminPaths : `${Paths.healthz}, ${Paths.readyz}`
      }); admin at ${adminHttp.url} (${adminPaths})`
    )

    const signal = yield* Effect.promise(() => stopSignal)
    stopping = true
    if (options.hardExit !== false) {
      hard = setTimeout(() => {
        logger.log({ level: "error", message: "shutdown took too long; exiting now", vmcp })
        process.exit(ExitCode.failure)
      }, ShutdownBudget.hardExitMs)
      hard.unref()
    }
    // The config refuses more than maxDrainMs; the bound here only guards hand-built configs.
    const drainMs = Math.min(config.shutdown.drainTimeout, ShutdownBudget.maxDrainMs)
    yield* log(
      "info",
      `${signal}: shutting down: readiness off, draining ${gateway.inFlight()} call(s) (up to ${drainMs} ms)`
    )
    const drained = yield* Effect.promise(() => gateway.drain(drainMs))
    if (!drained)
      yield* log("warn", `${gateway.inFlight()} call(s) still running after ${drainMs} ms; cutting them`)
    yield* running.finish
    http.stopAccepting()
    adminHttp.stopAccepting()
    yield* log("info", "stopped")
    return ExitCode.ok
  })

  // Armed on the stop signal; covers the closing of listeners and backends too.
  let hard: NodeJS.Timeout | undefined
  const exit = await Effect.runPromiseExit(
    program.pipe(Effect.scoped, Effect.provide(Logger.layer([effectLogger(logger)])))
  )
  if (hard !== undefined) clearTimeout(hard)
  if (Exit.isSuccess(exit)) return exit.value
  const failure = Cause.findErrorOption(exit.cause)
  const error = failure._tag === "Some" ? failure.value : Cause.squash(exit.cause)
  const message =
    error instanceof ReporterStartError
      ? `reporter "${error.reporter}" is required but could not start: ${error.message}`
      : error instanceof ListenError
        ? error.message
        : `vmcp failed: ${redact(error instanceof Error ? error.message : String(error))}`
  await new Promise<void>((resolve) => {
    logger.once("finish", resolve)
    logger.log({ level: "error", message, vmcp })
    logger.end()
  })
  return ExitCode.failure
}

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
    return runServer({
      config,
      selection,
      io,
      configDir: dirname(resolve(file)),
      ...(values.kubeconfig === undefined ? {} : { kubeconfig: values.kubeconfig as string }),
      ...(values.name === undefined ? {} : { objectName: values.name as string }),
      ...(values.namespace === undefined ? {} : { objectNamespace: values.namespace as string })
    })
  }
}
