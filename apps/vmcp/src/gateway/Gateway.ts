import {
  type CallToolResult,
  type CompleteRequest,
  ProtocolError,
  ProtocolErrorCode,
  type ReadResourceResult,
  ResourceNotFoundError
} from "@modelcontextprotocol/server"
import { categorize } from "@vmcp-status/health"
import type { VmcpConfig } from "../Config.ts"
import {
  type Aggregated,
  type AggregationInput,
  aggregate,
  changedKinds,
  type ListKind,
  prefixUri,
  routeResource
} from "./Aggregation.ts"
import type { BackendConnection } from "./BackendConnection.ts"
import type { CatalogRouter, OfferedKinds, ToolRouter } from "./McpEndpoint.ts"
import { redactErrorResult } from "./ToolErrors.ts"

/**
 * The aggregating core of the server: the backends, which of them are routable, the tables
 * (tools, resources, resource templates, prompts) built from both, and routing with per-backend
 * timeouts (`tools/call`, `resources/read`, `prompts/get`, `completion/complete`). Health decides
 * routability (`setRoutable`); discovery results (`discover` on a connection) feed the tables
 * (`refresh`). Every change of a client-visible list is announced (`GatewayOptions.announce`).
 */
export interface Gateway extends ToolRouter, CatalogRouter {
  readonly connections: ReadonlyArray<BackendConnection>
  readonly connection: (name: string) => BackendConnection | undefined
  /** Marks a backend routable (healthy or degraded) or not; its entries appear or disappear. */
  readonly setRoutable: (name: string, routable: boolean) => void
  /** Rebuilds the tables from every connection's last discovery. */
  readonly refresh: () => void
  /** Calls in flight now. */
  readonly inFlight: () => number
  /** Refuses new calls from now on and waits (at most `timeoutMs`) for the ones in flight; true if all finished. */
  readonly drain: (timeoutMs: number) => Promise<boolean>
  /** Closes every backend connection (aborting calls still in flight). */
  readonly close: () => Promise<void>
}

const errorResult = (text: string): CallToolResult => ({ content: [{ type: "text", text }], isError: true })

const EMPTY: Aggregated = { tools: [], resources: [], resourceTemplates: [], prompts: [] }

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

/** Options of `makeGateway`. */
export interface GatewayOptions {
  /**
   * Told once per kind whose client-visible list changed (resource templates count as
   * resources); the server publishes it on its event bus (`CatalogChanged`).
   */
  readonly announce?: (kind: ListKind) => void
}

/**
 * Makes the gateway over already-made connections.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import { decodeConfig, makeBackendConnection, makeGateway } from "@vmcp-status/vmcp"
 *
 * const config = Effect.runSync(decodeConfig({}, "inline"))
 * const gateway = makeGateway(config, config.backends.map((b) => makeBackendConnection(b)))
 * ```
 */
export const makeGateway = (
  config: VmcpConfig,
  connections: ReadonlyArray<BackendConnection>,
  gatewayOptions: GatewayOptions = {}
): Gateway => {
  const routable = new Map<string, boolean>(connections.map((c) => [c.name, false]))
  const byName = new Map(connections.map((c) => [c.name, c]))
  const callTimeout = new Map(config.backends.map((b) => [b.name, b.callTimeout ?? config.calls.timeout]))
  const controllers = new Set<AbortController>()
  const options = {
    conflictResolution: config.aggregation.conflictResolution,
    separator: config.aggregation.separator,
    priority: config.aggregation.priority
  }
  let table: Aggregated = EMPTY
  let draining = false
  let idle: (() => void) | undefined

  const inputs = (): ReadonlyArray<AggregationInput> =>
    connections.map((c) => ({
      name: c.name,
      tools: c.tools(),
      resources: c.resources(),
      resourceTemplates: c.resourceTemplates(),
      prompts: c.prompts(),
      routable: routable.get(c.name) === true,
      offersResources: c.capabilities()?.resources !== undefined
    }))

  const rebuild = () => {
    const next = aggregate(inputs(), options)
    const changed = changedKinds(table, next)
    table = next
    for (const kind of changed) gatewayOptions.announce?.(kind)
  }

  /**
   * Runs one request on a backend with its timeout, aborted with the client's request, counted
   * as in flight (so shutdown drains it). A backend's JSON-RPC error reaches the client with its
   * code and its message redacted (its `data` is dropped); any other failure is an internal error
   * naming the backend, redacted too.
   */
  const forward = async <A>(
    backend: string,
    what: string,
    signal: AbortSignal,
    run: (connection: BackendConnection, options: { timeoutMs: number; signal: AbortSignal }) => Promise<A>
  ): Promise<A> => {
    const connection = byName.get(backend)
    if (connection === undefined || routable.get(backend) !== true)
      throw new ProtocolError(ProtocolErrorCode.InvalidParams, `vmcp: backend ${backend} is unavailable`)
    if (draining)
      throw new ProtocolError(
        ProtocolErrorCode.InternalError,
        "vmcp: the server is shutting down; retry on another replica"
      )
    const timeoutMs = callTimeout.get(backend) ?? config.calls.timeout
    const controller = new AbortController()
    const onAbort = () => controller.abort(signal.reason)
    signal.addEventListener("abort", onAbort, { once: true })
    controllers.add(controller)
    try {
      return await run(connection, { timeoutMs, signal: controller.signal })
    } catch (error) {
      if (error instanceof ProtocolError)
        throw new ProtocolError(error.code, connection.redact(error.message))
      throw new ProtocolError(
        ProtocolErrorCode.InternalError,
        connection.redact(`vmcp: ${what} on backend ${backend} failed: ${describe(error, connection)}`)
      )
    } finally {
      signal.removeEventListener("abort", onAbort)
      controllers.delete(controller)
      if (controllers.size === 0) idle?.()
    }
  }

  const routableOffering = (kind: keyof OfferedKinds): boolean =>
    connections.some((c) => routable.get(c.name) === true && c.capabilities()?.[kind] !== undefined)

  const gateway: Gateway = {
    connections,
    connection: (name) => byName.get(name),
    tools: () => table.tools,
    resources: () => table.resources,
    resourceTemplates: () => table.resourceTemplates,
    prompts: () => table.prompts,
    offered: () => ({
      resources: routableOffering("resources") || table.resources.length + table.resourceTemplates.length > 0,
      prompts: routableOffering("prompts") || table.prompts.length > 0,
      completions: routableOffering("completions")
    }),
    readResource: async (uri, signal) => {
      const route = routeResource(table, inputs(), options, uri)
      if (route === undefined)
        throw new ResourceNotFoundError(uri, `Resource ${uri} not found or its backend is unavailable`)
      const result = await forward(route.backend, `reading ${route.uri}`, signal, (c, o) =>
        c.readResource(route.uri, o)
      ).catch((error: unknown) => {
        // The backend's "not found" (-32002 from older SDKs, -32602 now) names the URI the client asked for.
        if (
          error instanceof ProtocolError &&
          (error.code === ProtocolErrorCode.ResourceNotFound ||
            error.code === ProtocolErrorCode.InvalidParams)
        )
          throw new ResourceNotFoundError(uri, error.message)
        throw error
      })
      return options.conflictResolution === "prefix" ? prefixContents(result, route.backend) : result
    },
    getPrompt: async (name, args, signal) => {
      const route = table.prompts.find((p) => p.name === name)
      if (route === undefined)
        throw new ProtocolError(
          ProtocolErrorCode.InvalidParams,
          `Prompt ${name} not found or its backend is unavailable`
        )
      return forward(route.backend, `getting prompt ${route.backendPrompt}`, signal, (c, o) =>
        c.getPrompt(route.backendPrompt, args, o)
      )
    },
    complete: async (params, signal) => {
      const ref = params.ref
      const route =
        ref.type === "ref/prompt"
          ? table.prompts
              .filter((p) => p.name === ref.name)
              .map((p) => ({ backend: p.backend, ref: { ...ref, name: p.backendPrompt } }))[0]
          : (table.resourceTemplates
              .filter((t) => t.uriTemplate === ref.uri)
              .map((t) => ({ backend: t.backend, ref: { ...ref, uri: t.backendUriTemplate } }))[0] ??
            table.resources
              .filter((r) => r.uri === ref.uri)
              .map((r) => ({ backend: r.backend, ref: { ...ref, uri: r.backendUri } }))[0])
      if (route === undefined)
        throw new ProtocolError(
          ProtocolErrorCode.InvalidParams,
          `${ref.type === "ref/prompt" ? `Prompt ${ref.name}` : `Resource template ${ref.uri}`} not found or its backend is unavailable`
        )
      return forward(route.backend, "completion", signal, (c, o) =>
        c.complete({ ...params, ref: route.ref } as CompleteRequest["params"], o)
      )
    },
    setRoutable: (name, value) => {
      if (!byName.has(name) || routable.get(name) === value) return
      routable.set(name, value)
      rebuild()
    },
    refresh: rebuild,
    call: async (name, args, signal) => {
      const route = table.tools.find((t) => t.name === name)
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

/** In `prefix` mode the contents of a read carry the URIs clients know (`prefixUri`). */
const prefixContents = (result: ReadResourceResult, backend: string): ReadResourceResult => ({
  ...result,
  contents: result.contents.map((c) => ({ ...c, uri: prefixUri(backend, c.uri) }))
})
