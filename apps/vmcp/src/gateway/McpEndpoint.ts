import type { IncomingMessage, ServerResponse } from "node:http"
import {
  type CallToolResult,
  type CompleteRequest,
  type CompleteResult,
  type GetPromptResult,
  ProtocolError,
  ProtocolErrorCode,
  type ReadResourceResult,
  Server,
  type ServerCapabilities
} from "@modelcontextprotocol/server"
import { clientIdentity, makeMcpHttpServing, type SessionClock } from "@vmcp-status/mcp"
import { LimitDefaults } from "../Config.ts"
import type {
  ListKind,
  RoutedPrompt,
  RoutedResource,
  RoutedResourceTemplate,
  RoutedTool
} from "./Aggregation.ts"
import { makeByteBudget, makeCallLimiter } from "./CallLimiter.ts"

/** What the endpoint serves: the current tool table and a way to call a tool. */
export interface ToolRouter {
  readonly tools: () => ReadonlyArray<RoutedTool>
  /** Calls an aggregated tool; throws `ProtocolError` for an unknown tool. */
  readonly call: (
    name: string,
    args: Record<string, unknown> | undefined,
    signal: AbortSignal
  ) => Promise<CallToolResult>
}

/** The kinds besides tools that some routable backend offers now. */
export interface OfferedKinds {
  readonly resources: boolean
  readonly prompts: boolean
  readonly completions: boolean
}

/** What the endpoint serves besides tools: resources, resource templates, prompts and completions. */
export interface CatalogRouter {
  readonly resources: () => ReadonlyArray<RoutedResource>
  readonly resourceTemplates: () => ReadonlyArray<RoutedResourceTemplate>
  readonly prompts: () => ReadonlyArray<RoutedPrompt>
  /** Which capabilities a new server advertises (tools always). */
  readonly offered: () => OfferedKinds
  /** `resources/read`, routed; throws `ProtocolError` (e.g. -32002 for an unknown URI). */
  readonly readResource: (uri: string, signal: AbortSignal) => Promise<ReadResourceResult>
  /** `prompts/get`, routed; throws `ProtocolError` for an unknown prompt. */
  readonly getPrompt: (
    name: string,
    args: Record<string, string> | undefined,
    signal: AbortSignal
  ) => Promise<GetPromptResult>
  /** `completion/complete`, routed by its reference; throws `ProtocolError` for an unknown one. */
  readonly complete: (params: CompleteRequest["params"], signal: AbortSignal) => Promise<CompleteResult>
}

/**
 * The capabilities a new session (2025 era) or request (2026-07 era) is served with: tools
 * always, resources, prompts and completions only while some routable backend offers them,
 * each kind with `listChanged`. Resource subscriptions are not offered.
 *
 * @example
 * ```ts
 * import { capabilitiesOf } from "@vmcp-status/vmcp"
 *
 * capabilitiesOf({ resources: false, prompts: true, completions: false })
 * // { tools: { listChanged: true }, prompts: { listChanged: true } }
 * ```
 */
export const capabilitiesOf = (offered: OfferedKinds | undefined): ServerCapabilities => ({
  tools: { listChanged: true },
  ...(offered?.resources === true ? { resources: { listChanged: true } } : {}),
  ...(offered?.prompts === true ? { prompts: { listChanged: true } } : {}),
  ...(offered?.completions === true ? { completions: {} } : {})
})

/** The aggregated MCP endpoint, served over Streamable HTTP. */
export interface McpEndpoint {
  /** The `node:http` handler for the MCP path. */
  readonly handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>
  /** Announces `notifications/tools/list_changed` to every connected client. */
  readonly toolsChanged: () => void
  /** Announces `notifications/<kind>/list_changed` to every connected client. */
  readonly listChanged: (kind: ListKind) => void
  /** Open 2025-era sessions. */
  readonly sessionCount: () => number
  /** Closes every session. */
  readonly close: () => Promise<void>
}

const rpcError = (code: number, message: string) => ({ jsonrpc: "2.0", id: null, error: { code, message } })

/**
 * The JSON-RPC body of a 403 on the MCP path (a refused `Origin` or `Host`); `-32000`, as the SDK's
 * own validation answers.
 */
export const rpcForbidden = (message: string) => rpcError(-32000, message)

/** The JSON-RPC error code of a call refused by a concurrency bound (`limits.maxConcurrentCalls*`). */
export const TOO_MANY_CALLS_RPC_CODE = -32000

/** The endpoint's bounds (the `limits` section; durations in ms). Each defaults to `LimitDefaults`. */
export interface EndpointLimits {
  readonly maxRequestBytesInFlight?: number
  readonly maxConcurrentCalls?: number
  readonly maxConcurrentCallsPerSession?: number
  readonly maxSessionsPerClient?: number
  readonly sessionIdleTimeout?: number
}

/** The bytes a request's body will take: its `content-length`; a chunked POST counts as the SDK's 4 MiB body limit. */
const bodyBytes = (req: IncomingMessage): number => {
  if (req.method !== "POST") return 0
  const declared = Number(req.headers["content-length"])
  return Number.isFinite(declared) && declared >= 0 ? declared : 4 * 1024 * 1024
}

/**
 * Serves the aggregated tools, resources, resource templates and prompts to MCP clients of both
 * protocol eras through `makeMcpHttpServing` (@vmcp-status/mcp): 2025-era clients get a session
 * (`initialize`, `Mcp-Session-Id`, a GET stream for notifications), bounded per client, in all and
 * by idle time; 2026-07-28 clients are served per request with `subscriptions/listen` for change
 * notifications. On top, the request-byte and call bounds of `limits`. A clean 2025-era
 * `tools/call` takes the serving's direct path (one JSON write, no SDK transport or server) with
 * the same code as the SDK server's handler (`callTool`). `handle` checks neither
 * `Origin` nor `Host`: `startHttpServer` does, on every route, before it calls `handle`.
 *
 * @example
 * ```ts
 * import { createServer } from "node:http"
 * import { makeMcpEndpoint } from "@vmcp-status/vmcp"
 *
 * const endpoint = makeMcpEndpoint({ name: "vmcp", version: "0.1.0", router: { tools: () => [], call: async () => ({ content: [] }) } })
 * createServer((req, res) => void endpoint.handle(req, res)).listen(4483, "127.0.0.1")
 * ```
 */
export const makeMcpEndpoint = (options: {
  readonly name: string
  readonly version: string
  /** Tools only, or (the gateway) every kind. */
  readonly router: ToolRouter & Partial<CatalogRouter>
  /** Open 2025-era sessions kept at most (default 1000); past it the client with the most loses its least recently used one. */
  readonly maxSessions?: number
  readonly limits?: EndpointLimits
  /** Who a request comes from, for the per-client bounds (default `clientIdentity`). */
  readonly clientIdentity?: (req: IncomingMessage) => string
  /** Time for idle expiry (default the system clock). */
  readonly clock?: SessionClock
}): McpEndpoint => {
  const { router } = options
  const limits = options.limits ?? {}
  const calls = makeCallLimiter({
    maxConcurrent: limits.maxConcurrentCalls ?? LimitDefaults.maxConcurrentCalls,
    maxPerKey: limits.maxConcurrentCallsPerSession ?? LimitDefaults.maxConcurrentCallsPerSession
  })
  const requestBytes = makeByteBudget(limits.maxRequestBytesInFlight ?? LimitDefaults.maxRequestBytesInFlight)

  /**
   * Every request forwarded to a backend counts against the call bounds, refused at once past
   * them. `callKey`: what the per-session bound counts by (the session, or the client per request).
   */
  const limited = <A>(callKey: string, run: () => Promise<A>): Promise<A> => {
    const slot = calls.acquire(callKey)
    if (!slot.ok)
      throw new ProtocolError(TOO_MANY_CALLS_RPC_CODE, slot.message, { limit: `limits.${slot.bound}` })
    return run().finally(slot.release)
  }

  /** `tools/call`, for the SDK server's handler and the serving's direct path alike. */
  const callTool = (
    callKey: string,
    name: string,
    args: Record<string, unknown> | undefined,
    signal: AbortSignal
  ): Promise<CallToolResult> => {
    if (!router.tools().some((t) => t.name === name))
      throw new ProtocolError(
        ProtocolErrorCode.InvalidParams,
        `Tool ${name} not found or its backend is unavailable`
      )
    return limited(callKey, () => router.call(name, args, signal))
  }

  const sessionKey = (sessionId: string) => `session:${sessionId}`

  const makeServer = (callKey: string): Server => {
    const capabilities = capabilitiesOf(router.offered?.())
    const server = new Server({ name: options.name, version: options.version }, { capabilities })
    server.setRequestHandler("tools/list", () => ({ tools: router.tools().map((t) => t.tool) }))
    server.setRequestHandler("tools/call", (request, ctx) =>
      callTool(callKey, request.params.name, request.params.arguments, ctx.mcpReq.signal)
    )
    const catalog = router as ToolRouter & CatalogRouter
    if (capabilities.resources !== undefined) {
      server.setRequestHandler("resources/list", () => ({
        resources: catalog.resources().map((r) => r.resource)
      }))
      server.setRequestHandler("resources/templates/list", () => ({
        resourceTemplates: catalog.resourceTemplates().map((t) => t.template)
      }))
      server.setRequestHandler("resources/read", (request, ctx) =>
        limited(callKey, () => catalog.readResource(request.params.uri, ctx.mcpReq.signal))
      )
    }
    if (capabilities.prompts !== undefined) {
      server.setRequestHandler("prompts/list", () => ({ prompts: catalog.prompts().map((p) => p.prompt) }))
      server.setRequestHandler("prompts/get", (request, ctx) =>
        limited(callKey, () =>
          catalog.getPrompt(request.params.name, request.params.arguments, ctx.mcpReq.signal)
        )
      )
    }
    if (capabilities.completions !== undefined)
      server.setRequestHandler("completion/complete", (request, ctx) =>
        limited(callKey, () => catalog.complete(request.params, ctx.mcpReq.signal))
      )
    return server
  }

  // Sessions (bounded per client, in all and by idle time) and both eras live in the serving;
  // a session with a request in flight is not idle.
  const serving = makeMcpHttpServing({
    createServer: (context) =>
      makeServer(context.era === "2025" ? sessionKey(context.sessionId) : `client:${context.client}`),
    // The common call skips the SDK's transport and server; the serving checked `name` and `arguments`.
    direct: {
      "tools/call": (params, ctx) =>
        callTool(
          sessionKey(ctx.serving.sessionId),
          params.name as string,
          params.arguments as Record<string, unknown> | undefined,
          ctx.signal
        )
    },
    maxSessions: options.maxSessions ?? 1000,
    maxSessionsPerClient: limits.maxSessionsPerClient ?? LimitDefaults.maxSessionsPerClient,
    sessionIdleMs: limits.sessionIdleTimeout ?? LimitDefaults.sessionIdleTimeoutMs,
    clientIdentity: options.clientIdentity ?? clientIdentity,
    ...(options.clock === undefined ? {} : { clock: options.clock })
  })

  const listChanged = (kind: ListKind): void => {
    void serving.listChanged(kind)
  }

  return {
    handle: async (req, res) => {
      // Bodies are read and parsed before any call bound applies: their bytes are bounded here.
      const release = requestBytes.acquire(bodyBytes(req))
      if (release === undefined) {
        const refusal = rpcError(
          TOO_MANY_CALLS_RPC_CODE,
          `vmcp: ${requestBytes.inFlight()} bytes of requests in flight (limits.maxRequestBytesInFlight = ${limits.maxRequestBytesInFlight ?? LimitDefaults.maxRequestBytesInFlight}); retry shortly`
        )
        // Discarded unread (no memory), then answered: a client still sending gets the 503, not a reset.
        req.resume()
        req.once("end", () => {
          res.writeHead(503, { "content-type": "application/json", "retry-after": "1" })
          res.end(JSON.stringify(refusal))
        })
        return
      }
      res.once("close", release)
      await serving.handle(req, res)
    },
    toolsChanged: () => listChanged("tools"),
    listChanged,
    sessionCount: serving.sessionCount,
    close: serving.close
  }
}
