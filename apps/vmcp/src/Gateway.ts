import type { CallToolResult } from "@modelcontextprotocol/server"
import { categorize } from "@vmcp-status/health"
import { aggregateTools, type RoutedTool, sameTools } from "./Aggregation.ts"
import type { BackendConnection } from "./BackendConnection.ts"
import type { VmcpConfig } from "./Config.ts"
import type { ToolRouter } from "./McpEndpoint.ts"
import { redactErrorResult } from "./ToolErrors.ts"

/**
 * The aggregating core of the server: the backends, which of them are routable, the tool
 * table built from both, and call routing with per-backend timeouts. Health decides
 * routability (`setRoutable`); discovery results (`listTools` on a connection) feed the table
 * (`refresh`). Every change of the table is announced through `onToolsChanged`.
 */
export interface Gateway extends ToolRouter {
  readonly connections: ReadonlyArray<BackendConnection>
  readonly connection: (name: string) => BackendConnection | undefined
  /** Marks a backend routable (healthy or degraded) or not; its tools appear or disappear. */
  readonly setRoutable: (name: string, routable: boolean) => void
  /** Rebuilds the table from every connection's last discovered tools. */
  readonly refresh: () => void
  /** Called after the table changed. */
  onToolsChanged: (() => void) | undefined
  /** Calls in flight now. */
  readonly inFlight: () => number
  /** Refuses new calls from now on and waits (at most `timeoutMs`) for the ones in flight; true if all finished. */
  readonly drain: (timeoutMs: number) => Promise<boolean>
  /** Closes every backend connection (aborting calls still in flight). */
  readonly close: () => Promise<void>
}

const errorResult = (text: string): CallToolResult => ({ content: [{ type: "text", text }], isError: true })

/**
 * The category first (`http_error (HTTP 500)`), since the SDK's own text may not name the
 * status; then the backend's text, which may echo the request (URL, headers) back: it reaches
 * the client only redacted with that backend's secrets, and bounded.
 */
const describe = (error: unknown, connection: BackendConnection): string => {
  const failure = categorize(error)
  const category = failure.category === "probe_error" ? "" : `${failure.category} (${failure.detail}): `
  return connection.redact(`${category}${error instanceof Error ? error.message : String(error)}`)
}

/**
 * Makes the gateway over already-made connections.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { decodeConfig, makeBackendConnection, makeGateway } from "@vmcp-status/vmcp"
 *
 * const config = Effect.runSync(decodeConfig({}, "inline"))
 * const gateway = makeGateway(config, config.backends.map((b) => makeBackendConnection(b)))
 * ```
 */
export const makeGateway = (config: VmcpConfig, connections: ReadonlyArray<BackendConnection>): Gateway => {
  const routable = new Map<string, boolean>(connections.map((c) => [c.name, false]))
  const byName = new Map(connections.map((c) => [c.name, c]))
  const callTimeout = new Map(config.backends.map((b) => [b.name, b.callTimeout ?? config.calls.timeout]))
  const controllers = new Set<AbortController>()
  let table: ReadonlyArray<RoutedTool> = []
  let draining = false
  let idle: (() => void) | undefined

  const rebuild = () => {
    const next = aggregateTools(
      connections.map((c) => ({ name: c.name, tools: c.tools(), routable: routable.get(c.name) === true })),
      {
        conflictResolution: config.aggregation.conflictResolution,
        separator: config.aggregation.separator,
        priority: config.aggregation.priority
      }
    )
    if (sameTools(table, next)) return
    table = next
    gateway.onToolsChanged?.()
  }

  const gateway: Gateway = {
    connections,
    connection: (name) => byName.get(name),
    tools: () => table,
    setRoutable: (name, value) => {
      if (!byName.has(name) || routable.get(name) === value) return
      routable.set(name, value)
      rebuild()
    },
    refresh: rebuild,
    onToolsChanged: undefined,
    call: async (name, args, signal) => {
      const route = table.find((t) => t.name === name)
      const connection = route === undefined ? undefined : byName.get(route.backend)
      if (route === undefined || connection === undefined)
        return errorResult(`vmcp: tool ${name} is not available (its backend is unroutable)`)
      if (draining) return errorResult("vmcp: the server is shutting down; retry on another replica")
      const timeoutMs = callTimeout.get(route.backend) ?? config.calls.timeout
      const controller = new AbortController()
      const onAbort = () => controller.abort(signal.reason)
      signal.addEventListener("abort", onAbort, { once: true })
      controllers.add(controller)
      try {
        const result = await connection.callTool(route.backendTool, args, {
          timeoutMs,
          signal: controller.signal
        })
        return redactErrorResult(result, connection.redact)
      } catch (error) {
        return errorResult(
          `vmcp: calling ${route.backendTool} on backend ${route.backend} failed: ${describe(error, connection)}`
        )
      } finally {
        signal.removeEventListener("abort", onAbort)
        controllers.delete(controller)
        if (controllers.size === 0) idle?.()
      }
    },
    inFlight: () => controllers.size,
    drain: (timeoutMs) => {
      draining = true
      if (controllers.size === 0) return Promise.resolve(true)
      return new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), timeoutMs)
        idle = () => {
          clearTimeout(timer)
          resolve(true)
        }
      })
    },
    close: async () => {
      draining = true
      for (const c of controllers) c.abort(new Error("vmcp is stopping"))
      await Promise.allSettled(connections.map((c) => c.close()))
    }
  }
  return gateway
}
