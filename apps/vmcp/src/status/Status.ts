import {
  type BackendHealthReport,
  Publisher,
  type ReporterSource,
  type RuntimeStatus,
  withHistoryFields
} from "@vmcp-status/core"
import { type CustomBackend, type HealthChecker, publishHealth } from "@vmcp-status/health"
import { BackendRestarting } from "@vmcp-status/mcp"
import type { PrometheusReporter } from "@vmcp-status/prometheus"
import * as Effect from "effect/Effect"
import type { VmcpConfig } from "../Config.ts"
import type { BackendConnection } from "../gateway/BackendConnection.ts"
import type { Gateway } from "../gateway/Gateway.ts"
import type { ServerEvents } from "../server/Events.ts"
import type { StatusFeed } from "./StatusFeed.ts"

/** How often a backend's lists are fetched again without a `list_changed` (5 min, docs/behaviours.md#discovery). */
export const DISCOVERY_INTERVAL_MS = 300_000

/** The status side of the running server. */
export interface StatusRuntime {
  /** The newest status (what `/status` shows). */
  readonly current: () => RuntimeStatus | undefined
  /** True once every backend has been probed once (what `/readyz` waits for). */
  readonly initialRoundComplete: () => boolean
  readonly publisher: Publisher.Publisher
  readonly checker: HealthChecker.HealthChecker
  /**
   * Probes a backend now (see `HealthChecker.recheck`) and resolves with its report, redacted
   * like every status; `undefined` for an unknown backend.
   */
  readonly recheck: (name: string) => Promise<BackendHealthReport | undefined>
  /** Stops probing, publishes the final status (`ShuttingDown`) and stops every reporter (bounded). */
  readonly finish: Effect.Effect<void>
}

/**
 * A health check over the gateway's own session with the backend (so a stdio backend runs
 * once): MCP `ping`, plus a discovery (`tools/list`, and `resources/list`,
 * `resources/templates/list`, `prompts/list` for the kinds the backend advertises) when the
 * session is new and every `DISCOVERY_INTERVAL_MS`; the session itself discovers again after a
 * `list_changed` of any kind. What is found feeds the gateway's tables and the backend's counts
 * in the status. While the session starts, the probe waits for it at most half its time and then
 * reports it pending ("starting"); it never closes a session.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import { HealthChecker } from "@vmcp-status/health"
 * import { decodeConfig, healthCheckFor, makeBackendConnection, makeGateway } from "@vmcp-status/vmcp"
 *
 * const program = Effect.scoped(Effect.gen(function* () {
 *   const config = yield* decodeConfig({ backends: [] }, "inline")
 *   const gateway = makeGateway(config, config.backends.map((b) => makeBackendConnection(b)))
 *   yield* HealthChecker.make({ backends: gateway.connections.map((c) => healthCheckFor(c, gateway, 10_000)) })
 * }))
 * ```
 */
export const healthCheckFor = (
  connection: BackendConnection,
  gateway: Gateway,
  timeoutMs: number
): CustomBackend => {
  let discoveredGeneration = -1
  let discoveredAt = 0
  return {
    name: connection.name,
    transport: connection.transport,
    ...(connection.transport === "stdio" ? {} : { url: connection.displayUrl }),
    check: async ({ signal }) => {
      const phase = connection.lifecycle().phase
      if (phase === "idle" || phase === "starting") {
        // A start is never cut short by a probe: waited for up to half the probe's time, then
        // reported as pending (`unknown`, "starting") unless the backend is crash-looping.
        const waited = await waitForStart(connection, timeoutMs / 2, signal)
        if (waited === "still starting") {
          if (connection.lifecycle().startingCleanly) return { pending: "starting" }
          throw new BackendRestarting(connection.name, "restarting after repeated exits")
        }
      }
      await connection.ping({ timeoutMs, signal })
      const now = Date.now()
      if (connection.generation() !== discoveredGeneration || now - discoveredAt >= DISCOVERY_INTERVAL_MS) {
        const generation = connection.generation()
        await connection.discover({ timeoutMs, signal })
        discoveredGeneration = generation
        discoveredAt = now
        gateway.refresh()
      }
      return {
        toolCount: connection.tools().length,
        resourceCount: connection.resources().length,
        resourceTemplateCount: connection.resourceTemplates().length,
        promptCount: connection.prompts().length
      }
    }
  }
}

const STILL_STARTING = new Error("still starting")

/** Waits for the session's start (starting it if idle) at most `budgetMs`; a failed start rejects. */
const waitForStart = async (
  connection: BackendConnection,
  budgetMs: number,
  signal: AbortSignal
): Promise<"ready" | "still starting"> => {
  const wait = new AbortController()
  const timer = setTimeout(() => wait.abort(STILL_STARTING), budgetMs)
  const onAbort = () => wait.abort(signal.reason)
  signal.addEventListener("abort", onAbort, { once: true })
  try {
    await connection.started(wait.signal)
    return "ready"
  } catch (error) {
    if (error === STILL_STARTING) return "still starting"
    throw error
  } finally {
    clearTimeout(timer)
    signal.removeEventListener("abort", onAbort)
  }
}

/**
 * A backend report with what its session knows: the restarts and the last exit, only once there
 * is something to say (a backend never lost reports neither, so steady state is unchanged).
 */
const withLifecycle = (backend: BackendHealthReport, connection: BackendConnection | undefined) => {
  if (connection === undefined) return backend
  const { restarts, lastExit } = connection.lifecycle()
  if (restarts === 0 && lastExit === undefined) return backend
  return { ...backend, restarts, ...(lastExit === undefined ? {} : { lastExit }) }
}

/** Options of `startStatus`. */
export interface StatusOptions {
  readonly config: VmcpConfig
  readonly gateway: Gateway
  /**
   * The server's event bus: a session lost or starting derives the status again at once, and
   * every derived status is published on it (`StatusDerived`) for routing and metrics.
   */
  readonly events: ServerEvents
  readonly reporters: ReadonlyArray<ReporterSource>
  readonly prometheus?: PrometheusReporter | undefined
  /** Gets every status (redacted) before the reporters do: the history and the live views. */
  readonly feed?: StatusFeed | undefined
  /** The time `finish` gives reporters for the final status (default 3 s). */
  readonly stopTimeoutMs?: number
}

/**
 * Starts the status pipeline in the current scope: the publisher with the reporters (a
 * required reporter that cannot start fails this), the health checker probing every backend
 * through the gateway's sessions, and the wiring between them: every health snapshot becomes a
 * `RuntimeStatus`, marks backends routable or not in the gateway (hiding or showing their
 * tools), and goes to the publisher.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import { decodeConfig, makeBackendConnection, makeGateway, startStatus } from "@vmcp-status/vmcp"
 *
 * const program = Effect.scoped(Effect.gen(function* () {
 *   const config = yield* decodeConfig({ backends: [] }, "inline")
 *   const gateway = makeGateway(config, config.backends.map((b) => makeBackendConnection(b)))
 *   const status = yield* startStatus({ config, gateway, reporters: [] })
 *   yield* status.finish
 * }))
 * ```
 */
export const startStatus = Effect.fnUntraced(function* (options: StatusOptions) {
  const { config, gateway } = options
  const publisher = yield* Publisher.make({
    reporters: options.reporters,
    interval: config.status.interval,
    stopTimeout: options.stopTimeoutMs ?? 3_000
  })
  const prometheus = options.prometheus
  if (prometheus !== undefined) {
    yield* prometheus.observePublisher(publisher)
    yield* options.events.on(["StatusDerived"], ({ status }) =>
      Effect.sync(() => prometheus.recordStatus(status))
    )
  }
  let latest: RuntimeStatus | undefined
  let roundComplete = false
  let finished = false
  // Each backend's message passes its own redactor before any reporter or `/status` sees it.
  const byName = new Map(gateway.connections.map((c) => [c.name, c]))
  const redactedBackend = (b: BackendHealthReport): BackendHealthReport => {
    const connection = byName.get(b.name)
    const redact = connection?.redact
    return withLifecycle(
      redact === undefined || b.message === "" ? b : { ...b, message: redact(b.message) },
      connection
    )
  }
  const redacted = (status: RuntimeStatus): RuntimeStatus => ({
    ...status,
    backends: status.backends.map(redactedBackend)
  })
  /** The newest status from health, decorated again when a session is lost or restarted. */
  let latestRaw: RuntimeStatus | undefined
  const sink = {
    update: (raw: RuntimeStatus) =>
      Effect.suspend(() => {
        if (finished) return Effect.void
        latestRaw = raw
        const plain = redacted(raw)
        options.feed?.publish(plain)
        // The history's transition fields go to every reporter (the custom resource too): they
        // change only when health does, so they cost no writes in steady state.
        const status = options.feed === undefined ? plain : withHistoryFields(plain, options.feed.history())
        latest = status
        // Ready for traffic once every backend has been probed at least once.
        if (
          !roundComplete &&
          status.phase !== "Pending" &&
          status.backends.every((b) => b.lastCheckTime !== undefined)
        )
          roundComplete = true
        // Routing (which backends are routable) and metrics (every probe reaches the latency
        // histogram, not only those current at a report) follow from the bus.
        options.events.publish({ _tag: "StatusDerived", status })
        return publisher.update(status)
      })
  }
  // A restart shows in the status (restarts, lastExit) at once, not at the next probe.
  yield* options.events.on(["Lost", "Starting"], () =>
    latestRaw === undefined ? Effect.void : sink.update(latestRaw)
  )
  const checker = yield* publishHealth(sink, {
    backends: gateway.connections.map((c) => healthCheckFor(c, gateway, config.health.timeout)),
    interval: config.health.interval,
    timeout: config.health.timeout,
    slowThreshold: Math.min(config.health.slowThreshold, config.health.timeout - 1),
    unhealthyAfter: config.health.unhealthyThreshold,
    circuitBreaker: {
      failureThreshold: config.health.circuitBreaker.failureThreshold,
      openDuration: config.health.circuitBreaker.openDuration,
      maxOpenDuration: Math.max(
        config.health.circuitBreaker.maxOpenDuration,
        config.health.circuitBreaker.openDuration
      )
    },
    discoveryInterval: DISCOVERY_INTERVAL_MS
  })
  // A backend's new lists (after its `list_changed`) are counted in the status at once: the
  // backend is probed now (its counts come from the lists its session just fetched), not at the
  // next interval. Forked, so one slow probe does not hold back another backend's.
  yield* options.events.on(["ListsChanged"], ({ backend }) =>
    Effect.asVoid(Effect.forkChild(checker.recheck(backend)))
  )
  const finish = Effect.gen(function* () {
    if (finished) return
    yield* checker.stop
    finished = true
    // The publisher derives the final status (`ShuttingDown`) and hands it to every reporter;
    // `/status`, the stream and the page show the same one.
    yield* publisher.stop
    const final = yield* publisher.current
    if (final !== undefined) {
      latest = final
      options.feed?.publish(final)
      options.events.publish({ _tag: "StatusDerived", status: final })
    }
  })
  const runtime: StatusRuntime = {
    current: () => latest,
    initialRoundComplete: () => roundComplete,
    publisher,
    checker,
    recheck: (name) =>
      Effect.runPromise(checker.recheck(name)).then((report) =>
        report === undefined ? undefined : redactedBackend(report)
      ),
    finish
  }
  return runtime
})
