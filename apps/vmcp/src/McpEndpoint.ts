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
import type {
  ListKind,
  RoutedPrompt,
  RoutedResource,
  RoutedResourceTemplate,
  RoutedTool
} from "./Aggregation.ts"

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
  /** Open 2025-era sessions kept at most; past it the least recently used one is closed (default 1000). */
  readonly maxSessions?: number
}): McpEndpoint => {
  const { router } = options
  const maxSessions = options.maxSessions ?? 1000
  // In order of last use: clients that vanish without DELETE cannot grow it without bound.
  const sessions = new Map<string, Session>()

  const makeServer = (): Server => {
    const capabilities = capabilitiesOf(router.offered?.())
    const server = new Server({ name: options.name, version: options.version }, { capabilities })
    server.setRequestHandler("tools/list", () => ({ tools: router.tools().map((t) => t.tool) }))
    server.setRequestHandler("tools/call", (request, ctx) => {
      if (!router.tools().some((t) => t.name === request.params.name))
        throw new ProtocolError(
          ProtocolErrorCode.InvalidParams,
          `Tool ${request.params.name} not found or its backend is unavailable`
        )
      return router.call(request.params.name, request.params.arguments, ctx.mcpReq.signal)
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
        catalog.readResource(request.params.uri, ctx.mcpReq.signal)
      )
    }
    if (capabilities.prompts !== undefined) {
      server.setRequestHandler("prompts/list", () => ({ prompts: catalog.prompts().map((p) => p.prompt) }))
      server.setRequestHandler("prompts/get", (request, ctx) =>
        catalog.getPrompt(request.params.name, request.params.arguments, ctx.mcpReq.signal)
      )
    }
    if (capabilities.completions !== undefined)
      server.setRequestHandler("completion/complete", (request, ctx) =>
        catalog.complete(request.params, ctx.mcpReq.signal)
      )
    return server
  }

  const modern = createMcpHandler(() => makeServer(), { legacy: "reject" })

  const legacy = async (request: Request, parsedBody: unknown): Promise<Response> => {
    const sessionId = request.headers.get("mcp-session-id")
    if (sessionId !== null) {
      const session = sessions.get(sessionId)
      if (session === undefined)
        return json(404, rpcError(ProtocolErrorCode.InvalidRequest, "Session not found: initialize again"))
      sessions.delete(sessionId)
      sessions.set(sessionId, session)
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
      const server = makeServer()
      const transport: WebStandardStreamableHTTPServerTransport =
        new WebStandardStreamableHTTPServerTransport({
          sessionIdGenerator: randomUUID,
          onsessioninitialized: (id) => {
            sessions.set(id, { transport, server, listening: false, pending: new Set() })
            for (const [oldest, session] of sessions) {
              if (sessions.size <= maxSessions) break
              sessions.delete(oldest)
              void session.server.close().catch(() => undefined)
            }
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
    fetch: async (request: Request): Promise<Response> => {
      const parsedBody: unknown =
        request.method === "POST"
          ? await request
              .clone()
              .json()
              .catch(() => undefined)
          : undefined
      return (await isLegacyRequest(request, parsedBody))
        ? legacy(request, parsedBody)
        : modern.fetch(request, { parsedBody })
    }
  })

  return {
    handle: async (req, res) => {
      try {
        await node(req as Parameters<typeof node>[0], res)
      } catch {
        if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" })
        res.end(JSON.stringify(rpcError(ProtocolErrorCode.InternalError, "internal error")))
      }
    },
    toolsChanged: () => listChanged("tools"),
    listChanged,
    sessionCount: () => sessions.size,
    close: async () => {
      const open = [...sessions.values()]
      sessions.clear()
      await Promise.allSettled(open.map((s) => s.server.close()))
      await modern.close()
    }
  }
}
