import {
  isRoutable,
  Publisher,
  type ReporterSource,
  type RuntimeStatus,
  shuttingDown,
  toTimestamp
} from "@vmcp-status/core"
import { type CustomBackend, type HealthChecker, publishHealth } from "@vmcp-status/health"
import type { PrometheusReporter } from "@vmcp-status/prometheus"
import { Clock, Effect } from "effect"
import type { BackendConnection } from "./BackendConnection.ts"
import type { VmcpConfig } from "./Config.ts"
import type { Gateway } from "./Gateway.ts"

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
  /** Stops probing, publishes the final status (`ShuttingDown`) and stops every reporter (bounded). */
  readonly finish: Effect.Effect<void>
}

/**
 * A health check over the gateway's own session with the backend (so a stdio backend runs
 * once): MCP `ping`, plus a discovery (`tools/list`, and `resources/list`,
 * `resources/templates/list`, `prompts/list` for the kinds the backend advertises) when the
 * session is new, after a `list_changed` of any kind, and every `DISCOVERY_INTERVAL_MS`. What is
 * found feeds the gateway's tables and the backend's counts in the status.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
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
  let stale = true
  // Discover at once on `list_changed` rather than at the next probe, so clients see the new
  // tools sooner; a burst of notifications costs at most one `tools/list` in flight plus one.
  let discovering = false
  let again = false
  const discover = (): void => {
    if (discovering) {
      again = true
      return
    }
    discovering = true
    again = false
    void connection
      .discover({ timeoutMs })
      .then(() => {
        stale = again
        discoveredAt = Date.now()
        gateway.refresh()
      })
      .catch(() => undefined)
      .finally(() => {
        discovering = false
        if (again) discover()
      })
  }
  connection.onToolsChanged = () => {
    stale = true
    discover()
  }
  connection.onListChanged = connection.onToolsChanged
  return {
    name: connection.name,
    transport: connection.transport,
    ...(connection.transport === "stdio" ? {} : { url: connection.displayUrl }),
    check: async ({ signal }) => {
      await connection.ping({ timeoutMs, signal })
      const now = Date.now()
      if (
        stale ||
        connection.generation() !== discoveredGeneration ||
        now - discoveredAt >= DISCOVERY_INTERVAL_MS
      ) {
        const generation = connection.generation()
        await connection.discover({ timeoutMs, signal })
        discoveredGeneration = generation
        discoveredAt = now
        stale = false
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

/** Options of `startStatus`. */
export interface StatusOptions {
  readonly config: VmcpConfig
  readonly gateway: Gateway
  readonly reporters: ReadonlyArray<ReporterSource>
  readonly prometheus?: PrometheusReporter | undefined
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
 * import { Effect } from "effect"
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
  if (options.prometheus !== undefined) yield* options.prometheus.observePublisher(publisher)
  let latest: RuntimeStatus | undefined
  let roundComplete = false
  let finished = false
  // Each backend's message passes its own redactor before any reporter or `/status` sees it.
  const redactors = new Map(gateway.connections.map((c) => [c.name, c.redact]))
  const redacted = (status: RuntimeStatus): RuntimeStatus => ({
    ...status,
    backends: status.backends.map((b) => {
      const redact = redactors.get(b.name)
      return redact === undefined || b.message === "" ? b : { ...b, message: redact(b.message) }
    })
  })
  const sink = {
    update: (raw: RuntimeStatus) =>
      Effect.suspend(() => {
        if (finished) return Effect.void
        const status = redacted(raw)
        latest = status
        // Ready for traffic once every backend has been probed at least once.
        if (
          !roundComplete &&
          status.phase !== "Pending" &&
          status.backends.every((b) => b.lastCheckTime !== undefined)
        )
          roundComplete = true
        for (const backend of status.backends) gateway.setRoutable(backend.name, isRoutable(backend.health))
        // Every probe reaches the latency histogram, not only those current at a report.
        options.prometheus?.recordStatus(status)
        return publisher.update(status)
      })
  }
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
  const finish = Effect.gen(function* () {
    if (finished) return
    yield* checker.stop
    const now = yield* Clock.currentTimeMillis
    const final = latest === undefined ? undefined : shuttingDown(latest, toTimestamp(now))
    if (final !== undefined) yield* publisher.update(final)
    finished = true
    if (final !== undefined) latest = final
    yield* publisher.stop
  })
  const runtime: StatusRuntime = {
    current: () => latest,
    initialRoundComplete: () => roundComplete,
    publisher,
    checker,
    finish
  }
  return runtime
})
