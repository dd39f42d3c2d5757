import { Writable } from "node:stream"
import { makeRedactor, type Redactor, ReporterStartError } from "@vmcp-status/core"
import { createDefaultLogger, resolveFormat } from "@vmcp-status/log"
import { describeSessionEvent } from "@vmcp-status/mcp"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Logger from "effect/Logger"
import * as Schema from "effect/Schema"
import type winston from "winston"
import { adminListen, formatConfigIssue, unauthenticatedExposure, type VmcpConfig } from "../Config.ts"
import { type CliIo, ExitCode } from "../cli/CommandLine.ts"
import { colorsEnabled } from "../cli/Terminal.ts"
import { backendSecrets, makeBackendConnection } from "../gateway/BackendConnection.ts"
import { makeGateway } from "../gateway/Gateway.ts"
import { makeMcpEndpoint } from "../gateway/McpEndpoint.ts"
import { readiness } from "../status/Readiness.ts"
import { makeRecheck } from "../status/Recheck.ts"
import { buildReporters, type ReporterSelection } from "../status/Reporters.ts"
import { type StatusRuntime, startStatus } from "../status/Status.ts"
import { makeStatusFeed } from "../status/StatusFeed.ts"
import { VERSION } from "../Version.ts"
import { type Authenticator, makeAuthenticator, makeAuthFailureLog, TokenFileError } from "./Auth.ts"
import type { EarlyListeners } from "./EarlyListen.ts"
import { makeServerEvents, routeByEvents } from "./Events.ts"
import { type HttpServer, Paths, startHttpServer } from "./HttpServer.ts"
import { ShutdownBudget } from "./ShutdownBudget.ts"

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
  /** Listeners bound already (`listenEarly`, on the config's addresses): taken over, not bound again. */
  readonly listeners?: EarlyListeners | undefined
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
 * import * as Effect from "effect/Effect"
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
    // One bus for the running server: the sessions publish on it, and the log, routing, the
    // endpoint, status derivation and metrics each subscribe (docs/architecture.md#the-reference-app).
    const events = yield* makeServerEvents
    for (const connection of connections) {
      const unsubscribe = connection.subscribe(events.publish)
      yield* Effect.addFinalizer(() => Effect.sync(unsubscribe))
    }
    // Crashes and restarts of backend processes, each on one line (docs/behaviours.md#backend-lifecycle).
    yield* events.on(["Starting", "Started", "Lost"], (event) =>
      Effect.sync(() => {
        const line = describeSessionEvent(event)
        if (line !== undefined) logger.log({ level: line.level, message: line.message, vmcp })
      })
    )
    const gateway = makeGateway(config, connections, {
      announce: (kind) => events.publish({ _tag: "CatalogChanged", kind })
    })
    yield* Effect.addFinalizer(() => Effect.promise(() => gateway.close()))
    const endpoint = makeMcpEndpoint({
      name: config.name,
      version: VERSION,
      router: gateway,
      maxSessions: config.listen.maxSessions,
      limits: config.limits
    })
    yield* Effect.addFinalizer(() => Effect.promise(() => endpoint.close()))
    yield* routeByEvents(events, gateway, endpoint)

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
    // Loaded with the prometheus reporter only (already in memory then).
    const metrics =
      built.prometheus === undefined
        ? {}
        : {
            metrics: (yield* Effect.promise(() => import("@vmcp-status/prometheus"))).metricsHandler(
              built.prometheus.registry
            )
          }
    const http: HttpServer = yield* Effect.tryPromise({
      try: () =>
        startHttpServer({
          host: config.listen.host,
          port: config.listen.port,
          server: options.listeners?.main,
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
          server: options.listeners?.admin,
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
      events,
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
