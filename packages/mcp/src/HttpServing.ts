import { AsyncLocalStorage } from "node:async_hooks"
import { randomUUID } from "node:crypto"
import type { IncomingMessage, ServerResponse } from "node:http"
import { toNodeHandler } from "@modelcontextprotocol/node"
import {
  type AuthInfo,
  createMcpHandler,
  isInitializeRequest,
  isLegacyRequest,
  McpServer,
  ProtocolErrorCode,
  type RequestId,
  type Server,
  SUPPORTED_PROTOCOL_VERSIONS,
  WebStandardStreamableHTTPServerTransport
} from "@modelcontextprotocol/server"
import { clientIdentity } from "./ClientIdentity.ts"
import { readBody, readText, unparsedRequest } from "./internal/Body.ts"
import { cleanPostHeaders, directMessage, errorOf } from "./internal/DirectCall.ts"
import { trackInFlight } from "./internal/InFlight.ts"
import { type EvictionReason, makeSessionTable, type SessionClock } from "./internal/SessionTable.ts"

export type { EvictionReason, SessionClock } from "./internal/SessionTable.ts"
export { manualSessionClock, systemClock } from "./internal/SessionTable.ts"

/** A list whose change is announced with `notifications/<kind>/list_changed`. */
export type ListChangedKind = "tools" | "resources" | "prompts"

/**
 * What a server is built for. `2025`: one session (`initialize`, `Mcp-Session-Id`), the server
 * lives as long as the session; `2026-07`: one request of a 2026-07-28 client (no session).
 */
export type ServingContext =
  | {
      readonly era: "2025"
      /** The `Mcp-Session-Id` the session will have. */
      readonly sessionId: string
      /** The client identity of the `initialize` request (see `clientIdentity`). */
      readonly client: string
      readonly authInfo: AuthInfo | undefined
    }
  | {
      readonly era: "2026-07"
      readonly client: string
      readonly authInfo: AuthInfo | undefined
    }

/** What a direct handler (`McpHttpServingOptions.direct`) is given with a request's params. */
export interface DirectCallContext {
  /** Aborted when the client cancels the request, its connection closes, or the session ends. */
  readonly signal: AbortSignal
  /** The session the request came on (its client identity is that of its `initialize`). */
  readonly serving: Extract<ServingContext, { readonly era: "2025" }>
  /** Authentication of this request (`req.auth`), as the SDK handler's `ctx.http.authInfo`. */
  readonly authInfo: AuthInfo | undefined
  /** The JSON-RPC id of the request. */
  readonly requestId: RequestId
}

/**
 * Answers one request method without the SDK's transport and server. Its result is written as
 * the JSON-RPC `result` as it is (no result schema check: return a valid one). Throw the SDK's
 * `ProtocolError` for a JSON-RPC error (code, message and data reach the client as the SDK
 * answers them); any other error is answered `-32603 internal error`.
 */
export type DirectHandler = (
  params: Readonly<Record<string, unknown>>,
  context: DirectCallContext
) => Promise<unknown>

/** Options of `makeMcpHttpServing`. */
export interface McpHttpServingOptions {
  /** A fresh server for a 2025 session or a 2026-07 request; the same definitions serve both eras. */
  readonly createServer: (context: ServingContext) => McpServer | Server | Promise<McpServer | Server>
  /** Open 2025 sessions kept at most (default 1000); past it the client holding the most loses its least recently used one. */
  readonly maxSessions?: number
  /** Open 2025 sessions of one client identity (default `maxSessions`); past it that client loses its least recently used one. */
  readonly maxSessionsPerClient?: number
  /** A session without a request for this long is closed (default 30 min); one with a request in flight is not idle. */
  readonly sessionIdleMs?: number
  /** Who a request comes from, for `maxSessionsPerClient` (default `clientIdentity`: the authenticated subject, else the remote address). */
  readonly clientIdentity?: (req: IncomingMessage) => string
  /** Time for idle expiry (default `systemClock`). */
  readonly clock?: SessionClock
  /** Told of every session the bounds closed (not of those ended by `DELETE`). */
  readonly onSessionEvicted?: (sessionId: string, reason: EvictionReason) => void
  /**
   * Methods answered on a lean path by `handle` (the `node:http` face), by method name. Taken
   * only by a clean request: a POST on an open 2025 session with the headers the SDK requires
   * (`Accept` both types, JSON `Content-Type`, a supported `MCP-Protocol-Version` if any, a
   * declared `Content-Length` within 4 MiB), whose body is one JSON-RPC request (no batch) with a
   * string or integer id, a method here and params an object (`tools/call`: `name` a string,
   * `arguments` an object or absent, no `task`). It is answered with one `application/json`
   * write; the session counts it in flight and it is aborted by `notifications/cancelled` (then
   * answered 202), by the connection closing or by the session ending. Anything else goes the SDK
   * path as without this option, so every refusal stays the SDK's. 2026-07-28 requests and the
   * `fetch` face always go the SDK path (its header mirroring rules stay in one place).
   */
  readonly direct?: { readonly [method: string]: DirectHandler }
}

/** Per-request inputs of `McpHttpServing.fetch`. */
export interface ServingRequestOptions {
  /** The request's JSON body, already parsed; otherwise it is read (at most 4 MiB, else 413). */
  readonly parsedBody?: unknown
  /** Validated authentication (pass-through to the server's handlers). */
  readonly authInfo?: AuthInfo
  /** The client identity for `maxSessionsPerClient` (default `"anonymous"`). */
  readonly client?: string
}

/** Streamable HTTP serving for both protocol eras; see `makeMcpHttpServing`. */
export interface McpHttpServing {
  /**
   * The `node:http` handler (`parsedBody`: a body already read, e.g. by `express.json()`; such a
   * request always takes the SDK path, never `direct`).
   */
  readonly handle: (req: IncomingMessage, res: ServerResponse, parsedBody?: unknown) => Promise<void>
  /** The web-standard face of the same serving. */
  readonly fetch: (request: Request, options?: ServingRequestOptions) => Promise<Response>
  /**
   * Announces `notifications/<kind>/list_changed` to every open 2025 session whose server
   * declared `<kind>.listChanged` (a session whose GET stream is not open yet gets it once it
   * opens) and to every 2026-07 `subscriptions/listen` stream that asked for it. Resolves once
   * the open streams were written to.
   */
  readonly listChanged: (kind: ListChangedKind) => Promise<void>
  /** Open 2025 sessions. */
  readonly sessionCount: () => number
  /** Closes every session and `subscriptions/listen` stream; later requests get 503. Idempotent. */
  readonly close: () => Promise<void>
}

/** The MCP SDK's code for an unknown session (its own 404s use it): clients start a new session on the 404. */
export const SESSION_NOT_FOUND_RPC_CODE = -32001

/** The default bounds of `makeMcpHttpServing`. */
export const ServingDefaults = {
  maxSessions: 1000,
  sessionIdleMs: 30 * 60_000
} as const

const ANONYMOUS = "anonymous"

interface Session {
  readonly transport: WebStandardStreamableHTTPServerTransport
  readonly server: Server
  readonly context: Extract<ServingContext, { readonly era: "2025" }>
  /** The protocol versions the session's transport accepts in `MCP-Protocol-Version`. */
  readonly protocolVersions: ReadonlyArray<string>
  /** Direct calls not answered yet, by request id: each ends (aborted) with `why`. */
  readonly direct: Map<RequestId, (why: DirectEnd) => void>
  readonly close: () => Promise<void>
  /** Requests of this session not answered yet: while any, the session is not idle. */
  readonly inFlight: () => number
  /** The client's GET stream is open, so notifications reach it. */
  listening: boolean
  /** Lists that changed before the GET stream opened: announced once it does. */
  readonly pending: Set<ListChangedKind>
}

/** Why a direct call ended before its handler: the client cancelled it, or its session ended. */
type DirectEnd = "cancelled" | "session-closed"

const rpcError = (status: number, code: number, message: string) =>
  Response.json({ jsonrpc: "2.0", id: null, error: { code, message } }, { status })

const lowLevel = (server: McpServer | Server): Server =>
  server instanceof McpServer ? server.server : server

const announce = (server: Server, kind: ListChangedKind): Promise<void> =>
  kind === "tools"
    ? server.sendToolListChanged()
    : kind === "resources"
      ? server.sendResourceListChanged()
      : server.sendPromptListChanged()

/**
 * Serves MCP over Streamable HTTP to clients of both protocol eras from one server factory.
 * 2025-era clients get a session: `initialize` answers with an `Mcp-Session-Id`, later requests
 * carry it, GET opens the session's notification stream, DELETE ends it, and a request for an
 * unknown (ended, evicted or expired) session gets 404 (JSON-RPC `-32001`), after which the
 * client initializes again. Sessions are bounded per client identity, in all and by idle time.
 * 2026-07-28 clients are served per request (no session), with `subscriptions/listen` for
 * change notifications. Checks neither `Origin` nor `Host`: do that in front. `direct` answers
 * chosen methods of clean 2025-era requests without the SDK's transport and server (one JSON
 * write); every other request goes the SDK path.
 *
 * @example
 * ```ts
 * import { createServer } from "node:http"
 * import { McpServer, ProtocolError, ProtocolErrorCode } from "@modelcontextprotocol/server"
 * import { makeMcpHttpServing } from "@vmcp-status/mcp"
 *
 * const serving = makeMcpHttpServing({
 *   createServer: () => {
 *     const server = new McpServer({ name: "hello", version: "1.0.0" })
 *     server.registerTool("hello", { description: "Says hello" }, () => ({ content: [{ type: "text", text: "hello" }] }))
 *     return server
 *   },
 *   maxSessionsPerClient: 8,
 *   // The same tool on the lean path: clean 2025-era calls skip the SDK's transport and server.
 *   direct: {
 *     "tools/call": async (params) => {
 *       if (params.name !== "hello") throw new ProtocolError(ProtocolErrorCode.InvalidParams, "unknown tool")
 *       return { content: [{ type: "text", text: "hello" }] }
 *     }
 *   }
 * })
 * createServer((req, res) => void serving.handle(req, res)).listen(3000, "127.0.0.1")
 * ```
 */
export const makeMcpHttpServing = (options: McpHttpServingOptions): McpHttpServing => {
  const maxSessions = options.maxSessions ?? ServingDefaults.maxSessions
  const identityOf = options.clientIdentity ?? clientIdentity
  // The client identity of the request being served, for the 2026-07 factory the SDK calls; and
  // a body `handle` read already that is not JSON, for the SDK to answer its parse error.
  const requestClient = new AsyncLocalStorage<{ readonly client: string; readonly unparsed?: string }>()
  const direct = options.direct === undefined ? undefined : new Map(Object.entries(options.direct))
  let closed = false
  const sessions = makeSessionTable<Session>({
    maxSessions,
    maxSessionsPerClient: options.maxSessionsPerClient ?? maxSessions,
    idleTimeoutMs: options.sessionIdleMs ?? ServingDefaults.sessionIdleMs,
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    busy: (_id, session) => session.inFlight() > 0,
    onEvict: (id, session, reason) => {
      void session.close().catch(() => undefined)
      options.onSessionEvicted?.(id, reason)
    }
  })

  const modern = createMcpHandler(
    (ctx) =>
      options.createServer({
        era: "2026-07",
        client: requestClient.getStore()?.client ?? ANONYMOUS,
        authInfo: ctx.authInfo
      }),
    { legacy: "reject" }
  )

  const openSession = async (
    request: Request,
    parsedBody: unknown,
    client: string,
    authInfo: AuthInfo | undefined
  ): Promise<Response> => {
    const sessionId = randomUUID()
    const instance = await options.createServer({ era: "2025", sessionId, client, authInfo })
    const server = lowLevel(instance)
    const requests = new Set<RequestId>()
    const directCalls = new Map<RequestId, (why: DirectEnd) => void>()
    let protocolVersions: ReadonlyArray<string> = SUPPORTED_PROTOCOL_VERSIONS
    const transport: WebStandardStreamableHTTPServerTransport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => sessionId,
      onsessioninitialized: (id) => {
        sessions.add(id, client, {
          transport,
          server,
          context: { era: "2025", sessionId, client, authInfo },
          protocolVersions,
          direct: directCalls,
          close: () => instance.close(),
          inFlight: () => requests.size + directCalls.size,
          listening: false,
          pending: new Set()
        })
      },
      onsessionclosed: (id) => sessions.delete(id)
    })
    transport.onclose = () => {
      if (transport.sessionId !== undefined) sessions.delete(transport.sessionId)
      for (const end of [...directCalls.values()]) end("session-closed")
    }
    // The list the server hands its transport on `connect`: the direct path checks the same one.
    const setVersions = transport.setSupportedProtocolVersions.bind(transport)
    transport.setSupportedProtocolVersions = (versions) => {
      protocolVersions = versions
      setVersions(versions)
    }
    await instance.connect(transport)
    // Answers mark the session used: a long call ends with a fresh idle time.
    trackInFlight(transport, requests, () => sessions.use(sessionId))
    return transport.handleRequest(request, { parsedBody, ...(authInfo === undefined ? {} : { authInfo }) })
  }

  const legacy = async (
    request: Request,
    parsedBody: unknown,
    client: string,
    authInfo: AuthInfo | undefined
  ): Promise<Response> => {
    const sessionId = request.headers.get("mcp-session-id")
    if (sessionId !== null) {
      const session = sessions.use(sessionId)
      if (session === undefined)
        return rpcError(404, SESSION_NOT_FOUND_RPC_CODE, "Session not found: initialize again")
      const response = await session.transport.handleRequest(request, {
        parsedBody,
        ...(authInfo === undefined ? {} : { authInfo })
      })
      if (request.method === "GET" && response.ok) {
        session.listening = true
        if (session.pending.size > 0) {
          const kinds = [...session.pending]
          session.pending.clear()
          // After the stream is handed to the client, not into a response not yet returned.
          setImmediate(() => {
            for (const kind of kinds) void announce(session.server, kind).catch(() => undefined)
          })
        }
      }
      return response
    }
    if (request.method === "POST" && isInitializeRequest(parsedBody))
      return openSession(request, parsedBody, client, authInfo)
    return rpcError(
      400,
      -32000,
      "Bad Request: Mcp-Session-Id header is required; send initialize first to open a session"
    )
  }

  const serve = async (
    incoming: Request,
    requestOptions: { readonly parsedBody?: unknown; readonly authInfo?: AuthInfo } | undefined,
    client: string
  ): Promise<Response> => {
    if (closed) return rpcError(503, -32000, "the MCP server is shutting down")
    try {
      let request = incoming
      let parsedBody = requestOptions?.parsedBody
      const unparsed = requestClient.getStore()?.unparsed
      if (unparsed !== undefined) request = unparsedRequest(incoming, unparsed)
      else if (parsedBody === undefined && incoming.method === "POST") {
        const read = await readBody(incoming)
        if (read.tooLarge) return rpcError(413, -32000, read.message)
        request = read.request
        parsedBody = read.parsedBody
      }
      const authInfo = requestOptions?.authInfo
      return (await isLegacyRequest(request, parsedBody))
        ? await legacy(request, parsedBody, client, authInfo)
        : await modern.fetch(request, {
            ...(parsedBody === undefined ? {} : { parsedBody }),
            ...(authInfo === undefined ? {} : { authInfo })
          })
    } catch {
      // Never the error's text: it may carry what a handler should not show a client.
      return rpcError(500, ProtocolErrorCode.InternalError, "internal error")
    }
  }

  const node = toNodeHandler({
    fetch: (request, requestOptions) =>
      serve(request, requestOptions, requestClient.getStore()?.client ?? ANONYMOUS)
  })

  /**
   * Answers a direct call with one `application/json` write; resolves once it is answered or
   * ended. The session counts it in flight until then.
   */
  const callDirect = (
    session: Session,
    call: { readonly id: RequestId; readonly params: Record<string, unknown> },
    handler: DirectHandler,
    req: IncomingMessage,
    res: ServerResponse
  ): Promise<void> =>
    new Promise<void>((resolve) => {
      const { sessionId } = session.context
      const controller = new AbortController()
      let ended = false
      const end = () => {
        ended = true
        if (session.direct.get(call.id) === stop) session.direct.delete(call.id)
        res.off("close", onClose)
        resolve()
      }
      const answer = (status: number, body: string | undefined) => {
        if (ended) return
        end()
        // An answer marks the session used: a long call ends with a fresh idle time.
        sessions.use(sessionId)
        if (res.destroyed) return
        if (body === undefined) res.writeHead(status).end()
        else
          res.writeHead(status, { "content-type": "application/json", "mcp-session-id": sessionId }).end(body)
      }
      const stop = (why: DirectEnd) => {
        if (ended) return
        controller.abort(
          new Error(why === "cancelled" ? "the client cancelled the request" : "the session ended")
        )
        // The client gave up: no JSON-RPC answer. The session is gone: its 404, as the SDK's.
        if (why === "cancelled") answer(202, undefined)
        else
          answer(
            404,
            JSON.stringify({
              jsonrpc: "2.0",
              id: null,
              error: { code: SESSION_NOT_FOUND_RPC_CODE, message: "Session not found" }
            })
          )
      }
      const onClose = () => {
        if (ended) return
        end()
        controller.abort(new Error("the client closed the connection"))
      }
      session.direct.set(call.id, stop)
      res.once("close", onClose)
      const authInfo = (req as IncomingMessage & { auth?: AuthInfo }).auth
      const context: DirectCallContext = {
        signal: controller.signal,
        serving: session.context,
        authInfo,
        requestId: call.id
      }
      Promise.resolve()
        .then(() => handler(call.params, context))
        .then(
          (result) => answer(200, JSON.stringify({ jsonrpc: "2.0", id: call.id, result })),
          (error: unknown) =>
            answer(200, JSON.stringify({ jsonrpc: "2.0", id: call.id, error: errorOf(error) }))
        )
        // A result that does not serialize (a cycle, a BigInt): an internal error.
        .catch(() => answer(500, JSON.stringify({ jsonrpc: "2.0", id: call.id, error: errorOf(undefined) })))
    })

  /**
   * The lean path (`options.direct`): true if it answered the request. Reads the body only when
   * the headers are clean; a body it does not take is handed on in `handled.body`.
   */
  const tryDirect = async (
    req: IncomingMessage,
    res: ServerResponse,
    handlers: ReadonlyMap<string, DirectHandler>
  ): Promise<
    | { readonly answered: true }
    | { readonly answered: false; readonly body?: { text: string; parsed: boolean; parsedBody: unknown } }
  > => {
    const sessionId = req.headers["mcp-session-id"]
    if (req.method !== "POST" || typeof sessionId !== "string") return { answered: false }
    const found = sessions.use(sessionId)
    if (found === undefined || !cleanPostHeaders(req.headers, found.protocolVersions))
      return { answered: false }
    const read = await readText(req, req.headers["content-length"])
    // Only a body longer than it said: what the web face answers.
    if (read.tooLarge) {
      res
        .writeHead(413, { "content-type": "application/json", connection: "close" })
        .end(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: -32000, message: read.message } }))
      return { answered: true }
    }
    const message = read.parsed
      ? directMessage(read.parsedBody, req.headers, (m) => handlers.has(m))
      : undefined
    // The session may have ended while the body was read; and only an open one is served here.
    const session = closed ? undefined : sessions.use(sessionId)
    if (message === undefined || session === undefined) return { answered: false, body: read }
    if (message.kind === "cancel") {
      const stop = session.direct.get(message.requestId)
      if (stop === undefined) return { answered: false, body: read }
      stop("cancelled")
      res.writeHead(202).end()
      return { answered: true }
    }
    if (session.direct.has(message.id)) return { answered: false, body: read }
    await callDirect(session, message, handlers.get(message.method)!, req, res)
    return { answered: true }
  }

  return {
    handle: async (req, res, parsedBody) => {
      try {
        const client = identityOf(req)
        let body = parsedBody
        let unparsed: string | undefined
        if (direct !== undefined && parsedBody === undefined && !closed) {
          const handled = await tryDirect(req, res, direct)
          if (handled.answered) return
          if (handled.body !== undefined) {
            if (handled.body.parsed) body = handled.body.parsedBody
            else unparsed = handled.body.text
          }
        }
        await requestClient.run(unparsed === undefined ? { client } : { client, unparsed }, () =>
          node(req as Parameters<typeof node>[0], res, body)
        )
      } catch {
        // A stream already under way is only ended: a JSON body inside it would be garbage.
        if (res.headersSent) res.end()
        else
          res.writeHead(500, { "content-type": "application/json" }).end(
            JSON.stringify({
              jsonrpc: "2.0",
              id: null,
              error: { code: ProtocolErrorCode.InternalError, message: "internal error" }
            })
          )
      }
    },
    fetch: (request, requestOptions) => {
      const client = requestOptions?.client ?? ANONYMOUS
      return requestClient.run({ client }, () => serve(request, requestOptions, client))
    },
    listChanged: async (kind) => {
      if (closed) return
      const writes: Array<Promise<void>> = []
      for (const session of sessions.values()) {
        // A session not offered the kind at `initialize` has no handler for its notification.
        if (session.server.getCapabilities()[kind]?.listChanged !== true) continue
        if (session.listening) writes.push(announce(session.server, kind))
        else session.pending.add(kind)
      }
      if (kind === "tools") modern.notify.toolsChanged()
      else if (kind === "resources") modern.notify.resourcesChanged()
      else modern.notify.promptsChanged()
      await Promise.allSettled(writes)
    },
    sessionCount: () => sessions.size(),
    close: async () => {
      if (closed) return
      closed = true
      const open = sessions.clear()
      await Promise.allSettled(open.map((s) => s.close()))
      await modern.close()
    }
  }
}
