import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import type { RuntimeStatus } from "@vmcp-status/core"
import { type McpEndpoint, rpcForbidden } from "../gateway/McpEndpoint.ts"
import type { Readiness } from "../status/Readiness.ts"
import { RECHECK_ROUTE, type RecheckOutcome } from "../status/Recheck.ts"
import type { StatusFeed } from "../status/StatusFeed.ts"
import { serveStatusPage } from "../status/StatusPage.ts"
import { makeStatusStreams } from "../status/StatusStream.ts"
import type { Authenticator, AuthFailureReason } from "./Auth.ts"
import { Paths } from "./Paths.ts"
import { checkRequest, makeRequestPolicy } from "./RequestPolicy.ts"

export { Paths }

/**
 * What one listener serves. `all`: everything on one port (`auth.mode: none`, the default);
 * `mcp`: `/mcp`, the protected-resource metadata and the probes; `admin`: the probes, `/status`
 * and `/metrics`.
 */
export type ListenerRole = "all" | "mcp" | "admin"

/** What the HTTP server shows besides MCP. */
export interface HttpServerOptions {
  readonly host: string
  readonly port: number
  /** Served at `/mcp` (roles `all` and `mcp`). */
  readonly endpoint?: McpEndpoint
  /** What this listener serves (default `all`). */
  readonly role?: ListenerRole
  /** Checks every request to `/mcp` before the endpoint sees it; absent, `/mcp` is open (`auth.mode: none`). */
  readonly auth?: Authenticator | undefined
  /** Told the reason of every refused `/mcp` request (never the token), for a counted log line. */
  readonly onAuthFailure?: (reason: AuthFailureReason) => void
  /** Ready for traffic, or why not (see `readiness`); `/readyz` answers 200 or 503 with it as JSON. */
  readonly ready: () => Readiness | boolean
  /** Origins served besides loopback ones (exact, e.g. `https://console.example`); `listen.allowedOrigins`. */
  readonly allowedOrigins?: ReadonlyArray<string> | undefined
  /** Off loopback: the `Host` values served (probe paths exempt); unset, any. `listen.allowedHosts`. */
  readonly allowedHosts?: ReadonlyArray<string> | undefined
  /** The current status, if any. */
  readonly status: () => RuntimeStatus | undefined
  /** The statuses with their history: adds `history` to `/status`, serves `/` and `/status/stream`. */
  readonly feed?: StatusFeed | undefined
  /** A `/metrics` handler; 404 when absent. */
  readonly metrics?: (req: IncomingMessage, res: ServerResponse) => void
  /** Serves `POST /backends/<name>/recheck` (see `makeRecheck`); absent: 404. */
  readonly recheck?: (name: string) => Promise<RecheckOutcome>
  /**
   * A server already listening (`listenEarly`) to take over instead of binding `host:port`: its
   * request handlers are replaced by this one's.
   */
  readonly server?: Server | undefined
}

/** A listening server. */
export interface HttpServer {
  readonly server: Server
  readonly port: number
  /** e.g. `http://127.0.0.1:4483` */
  readonly url: string
  /** Stops accepting connections and closes idle ones; open requests may finish. */
  readonly stopAccepting: () => void
  /** Closes every connection. */
  readonly close: () => Promise<void>
}

/**
 * The status as `/status` shows it: no backend URLs (they may be internal addresses or carry
 * credentials even when redacted).
 *
 * @example
 * ```ts
 * import { deriveStatus } from "@vmcp-status/core"
 * import { publicStatus } from "@vmcp-status/vmcp"
 *
 * publicStatus(deriveStatus({ backends: [], initialRoundComplete: true, now: "2026-11-27T23:00:00Z" }))
 * ```
 */
export const publicStatus = (status: RuntimeStatus): RuntimeStatus => ({
  ...status,
  backends: status.backends.map(({ url: _url, ...backend }) => backend)
})

/**
 * The URL of `/mcp` as this request reached it, for the protected-resource metadata when
 * `auth.oidc.resource` is unset: the `Host` header, https when a proxy says so.
 */
const resourceOf = (req: IncomingMessage): string => {
  const forwarded = req.headers["x-forwarded-proto"]
  const proto = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(",")[0]?.trim()
  return `${proto === "https" ? "https" : "http"}://${req.headers.host ?? "localhost"}${Paths.mcp}`
}

const text = (res: ServerResponse, status: number, body: string) => {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" })
  res.end(`${body}\n`)
}

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" })
  res.end(`${JSON.stringify(body)}\n`)
}

const serveRecheck = async (
  res: ServerResponse,
  name: string,
  recheck: (name: string) => Promise<RecheckOutcome>
): Promise<void> => {
  try {
    const outcome = await recheck(name)
    if (outcome._tag === "Checked") return json(res, 200, outcome.report)
    if (outcome._tag === "UnknownBackend")
      return json(res, 404, { error: `no backend named ${JSON.stringify(name)}`, backends: outcome.known })
    res.setHeader("retry-after", String(Math.ceil(outcome.retryAfterMs / 1000)))
    return json(res, 429, {
      error: `backend ${JSON.stringify(name)} was rechecked less than ${Math.ceil(outcome.retryAfterMs / 1000)} s ago; retry then`
    })
  } catch {
    // The checker stopped (shutdown): nothing was probed.
    return json(res, 503, { error: "the server is stopping" })
  }
}

/**
 * Starts the HTTP server: MCP at `/mcp`, `/healthz` (the process serves), `/readyz` (ready
 * for traffic), `/status` (the RuntimeStatus as JSON) and `/metrics`. Bound to loopback unless
 * told otherwise. Every route checks `Origin` and `Host` first (`checkRequest`, DNS rebinding):
 * a refused request gets 403, with a JSON-RPC error body on `/mcp`.
 *
 * @example
 * ```ts
 * import { makeMcpEndpoint, startHttpServer } from "@vmcp-status/vmcp"
 *
 * const endpoint = makeMcpEndpoint({ name: "vmcp", version: "0.1.0", router: { tools: () => [], call: async () => ({ content: [] }) } })
 * const http = await startHttpServer({ host: "127.0.0.1", port: 0, endpoint, ready: () => true, status: () => undefined })
 * await http.close()
 * ```
 */
export const startHttpServer = (options: HttpServerOptions): Promise<HttpServer> => {
  const policy = makeRequestPolicy(options)
  const { feed } = options
  const document = () => {
    const status = options.status()
    if (status === undefined) return undefined
    return feed === undefined
      ? publicStatus(status)
      : { ...publicStatus(status), history: feed.summary(Date.now()) }
  }
  const streams = feed && makeStatusStreams({ document, subscribe: (listener) => feed.subscribe(listener) })
  const role = options.role ?? "all"
  const servesMcp = role !== "admin" && options.endpoint !== undefined
  const servesAdmin = role !== "mcp"
  const serveMcp = async (req: IncomingMessage, res: ServerResponse, endpoint: McpEndpoint) => {
    if (options.auth !== undefined) {
      const outcome = await options.auth.authenticate(req.headers, resourceOf(req))
      if (!outcome.ok) {
        options.onAuthFailure?.(outcome.reason)
        res.writeHead(outcome.status, {
          "content-type": "application/json",
          "cache-control": "no-store",
          ...(outcome.wwwAuthenticate === undefined ? {} : { "www-authenticate": outcome.wwwAuthenticate })
        })
        res.end(`${JSON.stringify(rpcForbidden(outcome.message))}\n`)
        // Drain the unread body, so the connection can serve the client's next request.
        req.resume()
        return
      }
    }
    await endpoint.handle(req, res)
  }
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? "/", "http://localhost").pathname
    const verdict = checkRequest(policy, { path, host: req.headers.host, origin: req.headers.origin })
    if (!verdict.ok) {
      if (path === Paths.mcp) return json(res, 403, rpcForbidden(verdict.message))
      return text(res, 403, verdict.message)
    }
    if (
      servesMcp &&
      options.auth?.metadata !== undefined &&
      (path === Paths.protectedResource || path === `${Paths.protectedResource}${Paths.mcp}`)
    )
      return json(res, 200, options.auth.metadata(resourceOf(req)))
    if (
      !servesAdmin &&
      (path === Paths.status || path === Paths.statusStream || path === Paths.metrics || path === Paths.page)
    )
      return text(res, 404, `not found: ${path} is served on the admin listener (listen.admin)`)
    if (!servesMcp && path === Paths.mcp)
      return text(res, 404, "not found: this is the admin listener; MCP is served on listen.port")
    const recheckOf = RECHECK_ROUTE.exec(path)?.[1]
    if (recheckOf !== undefined) {
      if (!servesAdmin || options.recheck === undefined)
        return text(res, 404, `not found: ${path} is served on the admin listener (listen.admin)`)
      if (req.method !== "POST") {
        res.setHeader("allow", "POST")
        return text(res, 405, "recheck takes POST")
      }
      req.resume()
      void serveRecheck(res, decodeURIComponent(recheckOf), options.recheck)
      return
    }
    switch (path) {
      case Paths.mcp:
        if (options.endpoint !== undefined) void serveMcp(req, res, options.endpoint)
        return
      case Paths.healthz:
        return text(res, 200, "ok")
      case Paths.readyz: {
        const ready = options.ready()
        const answer: Readiness =
          typeof ready !== "boolean" ? ready : ready ? { ready: true } : { ready: false, reason: "not ready" }
        return json(res, answer.ready ? 200 : 503, answer)
      }
      case Paths.status: {
        const body = document()
        if (body === undefined) return text(res, 503, "no status yet")
        res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" })
        res.end(`${JSON.stringify(body, null, 2)}\n`)
        return
      }
      case Paths.statusStream:
        if (streams !== undefined) return streams.handle(req, res)
        return text(res, 404, "the status stream is not enabled")
      case Paths.page:
        if (feed !== undefined) return serveStatusPage(res)
        return text(res, 404, `not found: MCP is served at ${Paths.mcp}`)
      case Paths.metrics:
        if (options.metrics !== undefined) return options.metrics(req, res)
        return text(res, 404, "metrics are not enabled")
      default:
        return text(
          res,
          404,
          servesMcp ? `not found: MCP is served at ${Paths.mcp}` : "not found: this is the admin listener"
        )
    }
  }
  const adopted = options.server
  if (adopted !== undefined) {
    adopted.removeAllListeners("request")
    adopted.on("request", handler)
  }
  const server = adopted ?? createServer(handler)
  return new Promise((resolve, reject) => {
    // Idle keep-alive sockets stay open 65 s, past the 60 s idle timeout of common proxies and
    // load balancers, so the server is never the side that closes a socket a client is about to
    // reuse (Node's 5 s default raced busy clients into ECONNRESET).
    server.keepAliveTimeout = 65_000
    const listening = (): void => {
      const port = (server.address() as AddressInfo).port
      const host = options.host.includes(":") ? `[${options.host}]` : options.host
      let closing: Promise<void> | undefined
      resolve({
        server,
        port,
        url: `http://${host}:${port}`,
        stopAccepting: () => {
          streams?.close()
          server.close()
          server.closeIdleConnections()
        },
        close: () => {
          streams?.close()
          closing ??= new Promise<void>((done) => {
            server.close(() => done())
            server.closeAllConnections()
          })
          return closing
        }
      })
    }
    if (adopted?.listening === true) return listening()
    server.once("error", reject)
    server.listen(options.port, options.host, () => {
      server.off("error", reject)
      listening()
    })
  })
}
