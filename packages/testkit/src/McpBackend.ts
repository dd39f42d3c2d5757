import { createServer, type Server as HttpServer } from "node:http"
import type { AddressInfo } from "node:net"
import { setTimeout as delay } from "node:timers/promises"
import { toNodeHandler } from "@modelcontextprotocol/node"
import { ProtocolErrorCode } from "@modelcontextprotocol/server"
import { type ListChangedKind, type McpHttpServing, makeMcpHttpServing } from "@vmcp-status/mcp"
import { Effect, type Scope } from "effect"
import { McpBackendError } from "./Errors.ts"
import {
  type FixturePrompt,
  type FixtureResource,
  type FixtureTool,
  jsonRpcError,
  makeToolServer
} from "./internal/toolServer.ts"

export type { FixturePrompt, FixtureResource, FixtureTool } from "./internal/toolServer.ts"

/**
 * What an MCP backend fixture does with the next request:
 * - `up`: serves MCP normally;
 * - `down`: the port is closed (connections refused, sessions gone); `up` reopens the same port;
 * - `slow`: waits `delayMs` before handling each HTTP request;
 * - `failing`: answers every JSON-RPC request (or only those whose method is in `methods`)
 *   with a JSON-RPC error, default code -32603;
 * - `auth`: answers 401 with a `WWW-Authenticate: Bearer` challenge unless the request carries
 *   `Authorization: Bearer <token>`, then serves normally;
 * - `rate-limited`: answers 429 with `Retry-After: <retryAfterSeconds>` (default 1).
 */
export type McpBackendMode =
  | { readonly kind: "up" }
  | { readonly kind: "down" }
  | { readonly kind: "slow"; readonly delayMs: number }
  | {
      readonly kind: "failing"
      readonly code?: number
      readonly message?: string
      readonly methods?: ReadonlyArray<string>
    }
  | { readonly kind: "auth"; readonly token: string }
  | { readonly kind: "rate-limited"; readonly retryAfterSeconds?: number }

/** Options of `startMcpBackend` / `McpBackend.make`. */
export interface McpBackendOptions {
  /** `serverInfo.name`; default `"fixture"`. */
  readonly name?: string
  readonly version?: string
  /** The initial tool set; default one tool named `echo`. */
  readonly tools?: ReadonlyArray<FixtureTool>
  /** The initial mode; default `up`. */
  readonly mode?: McpBackendMode
  /** Prompts: given (even empty), the fixture advertises the `prompts` capability. */
  readonly prompts?: ReadonlyArray<FixturePrompt>
  /** Resources: given (even empty), the fixture advertises the `resources` capability. */
  readonly resources?: ReadonlyArray<FixtureResource>
}

/** A running MCP backend fixture, driven with Promises. */
export interface McpBackendHandle {
  /** The Streamable HTTP endpoint, `http://127.0.0.1:<port>/mcp`; stable across down/up. */
  readonly url: string
  readonly port: number
  readonly mode: () => McpBackendMode
  /** Switches the mode; resolves once the port is closed (`down`) or listening again. */
  readonly setMode: (mode: McpBackendMode | "up" | "down") => Promise<void>
  /** Adds (or replaces) a tool and sends `notifications/tools/list_changed` to every session. */
  readonly addTool: (tool: FixtureTool) => Promise<void>
  /** Removes a tool and sends `notifications/tools/list_changed` to every session. */
  readonly removeTool: (name: string) => Promise<void>
  readonly tools: () => ReadonlyArray<FixtureTool>
  /** Adds (or replaces) a prompt and sends `notifications/prompts/list_changed` (needs `prompts` at start). */
  readonly addPrompt: (prompt: FixturePrompt) => Promise<void>
  /** Removes a prompt and sends `notifications/prompts/list_changed`. */
  readonly removePrompt: (name: string) => Promise<void>
  /** Adds (or replaces) a resource and sends `notifications/resources/list_changed` (needs `resources` at start). */
  readonly addResource: (resource: FixtureResource) => Promise<void>
  /** Removes a resource by URI and sends `notifications/resources/list_changed`. */
  readonly removeResource: (uri: string) => Promise<void>
  /** JSON-RPC requests received, by method (`initialize`, `ping`, `tools/list`, ...), any mode. */
  readonly requestCounts: () => Readonly<Record<string, number>>
  /** Open 2025-era sessions. */
  readonly sessionCount: () => number
  /** Closes the port and every session. Idempotent. */
  readonly close: () => Promise<void>
}

const MCP_PATH = "/mcp"
const DEFAULT_TOOLS: ReadonlyArray<FixtureTool> = [{ name: "echo", description: "Answers with a fixed text" }]

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } })

const jsonRpcRequests = (body: unknown): ReadonlyArray<{ id: unknown; method: string }> =>
  (Array.isArray(body) ? body : [body]).filter(
    (m): m is { id: unknown; method: string } =>
      typeof m === "object" && m !== null && "method" in m && typeof m.method === "string" && "id" in m
  )

const listen = (server: HttpServer, port: number) =>
  new Promise<number>((resolve, reject) => {
    const onError = (error: Error) => reject(error)
    server.once("error", onError)
    server.listen(port, "127.0.0.1", () => {
      server.off("error", onError)
      resolve((server.address() as AddressInfo).port)
    })
  })

const closeServer = (server: HttpServer) =>
  new Promise<void>((resolve) => {
    server.close(() => resolve())
    server.closeAllConnections()
  })

const errorMessage = (error: unknown) => (error instanceof Error ? error.message : String(error))

/**
 * Starts a real MCP server (SDK v2) on `127.0.0.1` that serves Streamable HTTP to 2025-era
 * clients (sessions, `initialize`) and 2026-07-28 clients (per-request, `subscriptions/listen`),
 * and whose behaviour can be switched at run time. The serving is the gateway's own
 * (`makeMcpHttpServing` from @vmcp-status/mcp, default bounds); the modes wrap it.
 *
 * @example
 * ```ts
 * import { startMcpBackend } from "@vmcp-status/testkit"
 *
 * const backend = await startMcpBackend({ tools: [{ name: "search" }] })
 * await backend.setMode({ kind: "rate-limited", retryAfterSeconds: 2 })
 * await backend.setMode("down")
 * await backend.setMode("up") // same port
 * await backend.close()
 * ```
 */
export const startMcpBackend = async (options: McpBackendOptions = {}): Promise<McpBackendHandle> => {
  const info = { name: options.name ?? "fixture", version: options.version ?? "0.0.0" }
  const tools = new Map((options.tools ?? DEFAULT_TOOLS).map((t) => [t.name, t] as const))
  const currentTools = () => [...tools.values()]
  const prompts = new Map((options.prompts ?? []).map((p) => [p.name, p] as const))
  const resources = new Map((options.resources ?? []).map((r) => [r.uri, r] as const))
  const catalog = {
    ...(options.prompts === undefined ? {} : { prompts: () => [...prompts.values()] }),
    ...(options.resources === undefined ? {} : { resources: () => [...resources.values()] })
  }
  const makeServer = () => makeToolServer(info, currentTools, catalog)
  const counts: Record<string, number> = {}
  let mode: McpBackendMode = options.mode ?? { kind: "up" }
  let closed = false
  // Aborted when the port closes, so requests waiting in `slow` mode give up.
  let generation = new AbortController()
  // The sessions and both eras; a new one each time the fixture comes up (a restarted process).
  let serving: McpHttpServing = makeMcpHttpServing({ createServer: makeServer })

  const fetch = async (request: Request): Promise<Response> => {
    if (new URL(request.url).pathname !== MCP_PATH) return json(404, { error: `serve MCP at ${MCP_PATH}` })
    const parsedBody: unknown =
      request.method === "POST"
        ? await request
            .clone()
            .json()
            .catch(() => undefined)
        : undefined
    const rpc = jsonRpcRequests(parsedBody)
    for (const { method } of rpc) counts[method] = (counts[method] ?? 0) + 1
    const current = mode
    switch (current.kind) {
      case "slow": {
        const aborted = await delay(current.delayMs, false, { signal: generation.signal }).catch(() => true)
        if (aborted) return json(503, { error: "fixture went down" })
        break
      }
      case "auth":
        if (request.headers.get("authorization") !== `Bearer ${current.token}`) {
          return json(
            401,
            { error: "invalid_token", error_description: "this fixture requires a bearer token" },
            { "www-authenticate": 'Bearer error="invalid_token"' }
          )
        }
        break
      case "rate-limited": {
        const retryAfter = String(current.retryAfterSeconds ?? 1)
        return json(
          429,
          { error: "rate limited", retryAfterSeconds: Number(retryAfter) },
          { "retry-after": retryAfter }
        )
      }
      case "failing": {
        const failing = rpc.filter((r) => current.methods === undefined || current.methods.includes(r.method))
        if (failing.length > 0) {
          const errors = failing.map((r) =>
            jsonRpcError(
              r.id,
              current.code ?? ProtocolErrorCode.InternalError,
              current.message ?? `fixture failing: ${r.method}`
            )
          )
          return json(200, Array.isArray(parsedBody) ? errors : errors[0])
        }
        break
      }
      default:
        break
    }
    return serving.fetch(request, parsedBody === undefined ? {} : { parsedBody })
  }

  const nodeHandler = toNodeHandler({ fetch })
  const makeHttpServer = () => {
    const server = createServer((req, res) => {
      // Node's IncomingMessage types `method` as optional; a server request always has one.
      nodeHandler(req as Parameters<typeof nodeHandler>[0], res).catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" })
        res.end(JSON.stringify({ error: errorMessage(error) }))
      })
    })
    // Node's default (5 s) races a starved client reusing an idle socket just as the server
    // closes it: the request dies with ECONNRESET. Idle sockets are closed on `down`/`stop` anyway.
    server.keepAliveTimeout = 60_000
    return server
  }

  let http = makeHttpServer()
  const port = await listen(http, 0)
  const url = `http://127.0.0.1:${port}${MCP_PATH}`

  const goDown = async () => {
    generation.abort()
    await serving.close()
    await closeServer(http)
  }

  const goUp = async () => {
    generation = new AbortController()
    serving = makeMcpHttpServing({ createServer: makeServer })
    http = makeHttpServer()
    try {
      await listen(http, port)
    } catch (error) {
      throw new McpBackendError({
        operation: "up",
        message: `could not reopen 127.0.0.1:${port} (${errorMessage(error)}); another process took the port while the fixture was down — stop it or start a new fixture`
      })
    }
  }

  if (mode.kind === "down") await goDown()

  const setMode = async (next: McpBackendMode | "up" | "down") => {
    if (closed)
      throw new McpBackendError({ operation: "setMode", message: "the fixture is closed; start a new one" })
    const target: McpBackendMode = typeof next === "string" ? { kind: next } : next
    const wasDown = mode.kind === "down"
    mode = target
    if (target.kind === "down" && !wasDown) await goDown()
    if (target.kind !== "down" && wasDown) await goUp()
  }

  // While down the serving is closed: there is nobody to tell.
  const notifyChanged = (kind: ListChangedKind) => serving.listChanged(kind)
  const notifyToolsChanged = () => notifyChanged("tools")

  return {
    url,
    port,
    mode: () => mode,
    setMode,
    addTool: async (tool) => {
      tools.set(tool.name, tool)
      await notifyToolsChanged()
    },
    removeTool: async (name) => {
      if (tools.delete(name)) await notifyToolsChanged()
    },
    tools: currentTools,
    addPrompt: async (prompt) => {
      prompts.set(prompt.name, prompt)
      await notifyChanged("prompts")
    },
    removePrompt: async (name) => {
      if (prompts.delete(name)) await notifyChanged("prompts")
    },
    addResource: async (resource) => {
      resources.set(resource.uri, resource)
      await notifyChanged("resources")
    },
    removeResource: async (uri) => {
      if (resources.delete(uri)) await notifyChanged("resources")
    },
    requestCounts: () => ({ ...counts }),
    sessionCount: () => serving.sessionCount(),
    close: async () => {
      if (closed) return
      closed = true
      if (mode.kind !== "down") await goDown()
    }
  }
}

/** A running MCP backend fixture, driven with Effects. */
export interface McpBackend {
  readonly url: string
  readonly port: number
  readonly mode: Effect.Effect<McpBackendMode>
  readonly setMode: (mode: McpBackendMode | "up" | "down") => Effect.Effect<void, McpBackendError>
  readonly addTool: (tool: FixtureTool) => Effect.Effect<void>
  readonly removeTool: (name: string) => Effect.Effect<void>
  readonly requestCounts: Effect.Effect<Readonly<Record<string, number>>>
  /** The Promise handle underneath, for code that is not Effect. */
  readonly handle: McpBackendHandle
}

const toBackendError = (operation: string) => (error: unknown) =>
  error instanceof McpBackendError ? error : new McpBackendError({ operation, message: errorMessage(error) })

/**
 * An MCP backend fixture whose lifetime is the enclosing `Scope`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { McpBackend } from "@vmcp-status/testkit"
 *
 * const program = Effect.scoped(
 *   Effect.gen(function* () {
 *     const backend = yield* McpBackend.make({ tools: [{ name: "search" }] })
 *     yield* backend.setMode({ kind: "slow", delayMs: 500 })
 *     return backend.url
 *   })
 * )
 * ```
 */
export const make = (
  options: McpBackendOptions = {}
): Effect.Effect<McpBackend, McpBackendError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.tryPromise({ try: () => startMcpBackend(options), catch: toBackendError("start") }),
    (handle) => Effect.promise(() => handle.close())
  ).pipe(
    Effect.map(
      (handle): McpBackend => ({
        url: handle.url,
        port: handle.port,
        mode: Effect.sync(handle.mode),
        setMode: (mode) =>
          Effect.tryPromise({ try: () => handle.setMode(mode), catch: toBackendError("setMode") }),
        addTool: (tool) => Effect.promise(() => handle.addTool(tool)),
        removeTool: (name) => Effect.promise(() => handle.removeTool(name)),
        requestCounts: Effect.sync(handle.requestCounts),
        handle
      })
    )
  )
