import { AsyncLocalStorage } from "node:async_hooks"
import { randomUUID } from "node:crypto"
import type { IncomingMessage, ServerResponse } from "node:http"
import { toNodeHandler } from "@modelcontextprotocol/node"
import {
  type CallToolResult,
  type CompleteRequest,
  type CompleteResult,
  createMcpHandler,
  type GetPromptResult,
  isInitializeRequest,
  isLegacyRequest,
  ProtocolError,
  ProtocolErrorCode,
  type ReadResourceResult,
  Server,
  type ServerCapabilities,
  WebStandardStreamableHTTPServerTransport
} from "@modelcontextprotocol/server"
import { LimitDefaults } from "../Config.ts"
import type {
  ListKind,
  RoutedPrompt,
  RoutedResource,
  RoutedResourceTemplate,
  RoutedTool
} from "./Aggregation.ts"
import { makeByteBudget, makeCallLimiter } from "./CallLimiter.ts"
import { clientIdentity } from "./ClientIdentity.ts"
import { makeSessionTable, type SessionClock } from "./SessionTable.ts"

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

interface Session {
  readonly transport: WebStandardStreamableHTTPServerTransport
  readonly server: Server
  /** The client's GET stream is open, so notifications reach it. */
  listening: boolean
  /** Lists that changed before the GET stream opened: announced once it does. */
  readonly pending: Set<ListKind>
}

const send = (server: Server, kind: ListKind): Promise<void> =>
  kind === "tools"
    ? server.sendToolListChanged()
    : kind === "resources"
      ? server.sendResourceListChanged()
      : server.sendPromptListChanged()

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } })

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
 * Reads a POST body once: a `clone()` would keep a second copy of every body (up to 4 MiB) until
 * the request is gone. Unparsable text goes back into a fresh request for the SDK to answer.
 */
const withParsedBody = async (request: Request): Promise<{ request: Request; parsedBody: unknown }> => {
  if (request.method !== "POST") return { request, parsedBody: undefined }
  const text = await request.text()
  try {
    return { request, parsedBody: JSON.parse(text) as unknown }
  } catch {
    return {
      request: new Request(request.url, { method: "POST", headers: request.headers, body: text }),
      parsedBody: undefined
    }
  }
}

/**
 * Serves the aggregated tools, resources, resource templates and prompts to MCP clients of both protocol eras: 2025-era clients get a
 * session (`initialize`, `Mcp-Session-Id`, a GET stream for notifications); 2026-07-28 clients
 * are served per request with `subscriptions/listen` for change notifications. `handle` checks
 * neither `Origin` nor `Host`: `startHttpServer` does, on every route, before it calls `handle`.
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
  const identityOf = options.clientIdentity ?? clientIdentity
  // The client identity of the request being handled, across the SDK's handler and our callbacks.
  const requestClient = new AsyncLocalStorage<string>()
  // Bounded per client, over all, and by idle time; clients that vanish without DELETE expire.
  const sessions = makeSessionTable<Session>({
    maxSessions: options.maxSessions ?? 1000,
    maxSessionsPerClient: limits.maxSessionsPerClient ?? LimitDefaults.maxSessionsPerClient,
    idleTimeoutMs: limits.sessionIdleTimeout ?? LimitDefaults.sessionIdleTimeoutMs,
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    busy: (id) => calls.inFlight(`session:${id}`) > 0,
    onEvict: (_id, session) => void session.server.close().catch(() => undefined)
  })

  /** `callKey`: what the per-session bound counts by (the session, or the client per request). */
  const makeServer = (callKey: () => string, touch: () => void = () => undefined): Server => {
    const capabilities = capabilitiesOf(router.offered?.())
    const server = new Server({ name: options.name, version: options.version }, { capabilities })
    // Every request forwarded to a backend counts against the call bounds, refused at once past them.
    const limited = <A>(run: () => Promise<A>): Promise<A> => {
      const slot = calls.acquire(callKey())
      if (!slot.ok)
        throw new ProtocolError(TOO_MANY_CALLS_RPC_CODE, slot.message, { limit: `limits.${slot.bound}` })
      return run().finally(() => {
        slot.release()
        touch()
      })
    }
    server.setRequestHandler("tools/list", () => ({ tools: router.tools().map((t) => t.tool) }))
    server.setRequestHandler("tools/call", (request, ctx) => {
      if (!router.tools().some((t) => t.name === request.params.name))
        throw new ProtocolError(
          ProtocolErrorCode.InvalidParams,
          `Tool ${request.params.name} not found or its backend is unavailable`
        )
      return limited(() => router.call(request.params.name, request.params.arguments, ctx.mcpReq.signal))
    })
    const catalog = router as ToolRouter & CatalogRouter
    if (capabilities.resources !== undefined) {
      server.setRequestHandler("resources/list", () => ({
        resources: catalog.resources().map((r) => r.resource)
      }))
      server.setRequestHandler("resources/templates/list", () => ({
        resourceTemplates: catalog.resourceTemplates().map((t) => t.template)
      }))
      server.setRequestHandler("resources/read", (request, ctx) =>
        limited(() => catalog.readResource(request.params.uri, ctx.mcpReq.signal))
      )
    }
    if (capabilities.prompts !== undefined) {
      server.setRequestHandler("prompts/list", () => ({ prompts: catalog.prompts().map((p) => p.prompt) }))
      server.setRequestHandler("prompts/get", (request, ctx) =>
        limited(() => catalog.getPrompt(request.params.name, request.params.arguments, ctx.mcpReq.signal))
      )
    }
    if (capabilities.completions !== undefined)
      server.setRequestHandler("completion/complete", (request, ctx) =>
        limited(() => catalog.complete(request.params, ctx.mcpReq.signal))
      )
    return server
  }

  const modern = createMcpHandler(
    () => {
      const client = requestClient.getStore() ?? "unknown"
      return makeServer(() => `client:${client}`)
    },
    { legacy: "reject" }
  )

  const legacy = async (request: Request, parsedBody: unknown): Promise<Response> => {
    const sessionId = request.headers.get("mcp-session-id")
    if (sessionId !== null) {
      const session = sessions.use(sessionId)
      if (session === undefined)
        return json(404, rpcError(ProtocolErrorCode.InvalidRequest, "Session not found: initialize again"))
      const response = await session.transport.handleRequest(request, { parsedBody })
      if (request.method === "GET" && response.ok) {
        session.listening = true
        if (session.pending.size > 0) {
          const kinds = [...session.pending]
          session.pending.clear()
          setImmediate(() => {
            for (const kind of kinds) void send(session.server, kind).catch(() => undefined)
          })
        }
      }
      return response
    }
    if (request.method === "POST" && isInitializeRequest(parsedBody)) {
      const client = requestClient.getStore() ?? "unknown"
      let id: string | undefined
      const server = makeServer(
        () => `session:${id}`,
        () => {
          if (id !== undefined) sessions.use(id)
        }
      )
      const transport: WebStandardStreamableHTTPServerTransport =
        new WebStandardStreamableHTTPServerTransport({
          sessionIdGenerator: randomUUID,
          onsessioninitialized: (sessionId) => {
            id = sessionId
            sessions.add(sessionId, client, { transport, server, listening: false, pending: new Set() })
          },
          onsessionclosed: (id) => {
            sessions.delete(id)
          }
        })
      transport.onclose = () => {
        if (transport.sessionId !== undefined) sessions.delete(transport.sessionId)
      }
      await server.connect(transport)
      return transport.handleRequest(request, { parsedBody })
    }
    return json(400, rpcError(ProtocolErrorCode.InvalidRequest, "No valid session ID provided"))
  }

  const listChanged = (kind: ListKind): void => {
    // A 2025-era client opens its GET stream just after `initialize`; a change before that
    // would be lost, so it is announced as soon as the stream opens. A session that was not
    // offered the kind at `initialize` is not told (its client has no handler for it).
    for (const s of sessions.values()) {
      if (kind !== "tools" && s.server.getCapabilities()[kind] === undefined) continue
      if (s.listening) void send(s.server, kind).catch(() => undefined)
      else s.pending.add(kind)
    }
    if (kind === "tools") modern.notify.toolsChanged()
    else if (kind === "resources") modern.notify.resourcesChanged()
    else modern.notify.promptsChanged()
  }

  const node = toNodeHandler({
    fetch: async (incoming: Request): Promise<Response> => {
      const { request, parsedBody } = await withParsedBody(incoming)
      return (await isLegacyRequest(request, parsedBody))
        ? legacy(request, parsedBody)
        : modern.fetch(request, { parsedBody })
    }
  })

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
      try {
        await requestClient.run(identityOf(req), () => node(req as Parameters<typeof node>[0], res))
      } catch {
        if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" })
        res.end(JSON.stringify(rpcError(ProtocolErrorCode.InternalError, "internal error")))
      }
    },
    toolsChanged: () => listChanged("tools"),
    listChanged,
    sessionCount: () => sessions.size(),
    close: async () => {
      const open = sessions.clear()
      await Promise.allSettled(open.map((s) => s.server.close()))
      await modern.close()
    }
  }
}
