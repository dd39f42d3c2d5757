import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { localhostHostValidation } from "@modelcontextprotocol/node"
import type { RuntimeStatus } from "@vmcp-status/core"
import type { McpEndpoint } from "./McpEndpoint.ts"

/** The paths the server answers. */
export const Paths = {
  mcp: "/mcp",
  healthz: "/healthz",
  readyz: "/readyz",
  status: "/status",
  metrics: "/metrics"
} as const

/** What the HTTP server shows besides MCP. */
export interface HttpServerOptions {
  readonly host: string
  readonly port: number
  readonly endpoint: McpEndpoint
  /** Ready for traffic: after the first health round, until shutdown starts. */
  readonly ready: () => boolean
  /** The current status, if any. */
  readonly status: () => RuntimeStatus | undefined
  /** A `/metrics` handler; 404 when absent. */
  readonly metrics?: (req: IncomingMessage, res: ServerResponse) => void
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

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1"])

const text = (res: ServerResponse, status: number, body: string) => {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" })
  res.end(`${body}\n`)
}

/**
 * Starts the HTTP server: MCP at `/mcp`, `/healthz` (the process serves), `/readyz` (ready
 * for traffic), `/status` (the RuntimeStatus as JSON) and `/metrics`. Bound to loopback unless
 * told otherwise; on loopback the `Host` header is checked against DNS rebinding.
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
  const checkHost = LOOPBACK.has(options.host) ? localhostHostValidation() : undefined
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://localhost").pathname
    switch (path) {
      case Paths.mcp:
        if (checkHost !== undefined && !checkHost(req, res)) return
        void options.endpoint.handle(req, res)
        return
      case Paths.healthz:
        return text(res, 200, "ok")
      case Paths.readyz:
        return options.ready() ? text(res, 200, "ready") : text(res, 503, "not ready")
      case Paths.status: {
        const status = options.status()
        if (status === undefined) return text(res, 503, "no status yet")
        res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" })
        res.end(`${JSON.stringify(publicStatus(status), null, 2)}\n`)
        return
      }
      case Paths.metrics:
        if (options.metrics !== undefined) return options.metrics(req, res)
        return text(res, 404, "metrics are not enabled")
      default:
        return text(res, 404, `not found: MCP is served at ${Paths.mcp}`)
    }
  })
  return new Promise((resolve, reject) => {
    server.once("error", reject)
    server.listen(options.port, options.host, () => {
      server.off("error", reject)
      const port = (server.address() as AddressInfo).port
      const host = options.host.includes(":") ? `[${options.host}]` : options.host
      let closing: Promise<void> | undefined
      resolve({
        server,
        port,
        url: `http://${host}:${port}`,
        stopAccepting: () => {
          server.close()
          server.closeIdleConnections()
        },
        close: () => {
          closing ??= new Promise<void>((done) => {
            server.close(() => done())
            server.closeAllConnections()
          })
          return closing
        }
      })
    })
  })
}
