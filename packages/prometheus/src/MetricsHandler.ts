import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import type { Registry } from "prom-client"

const plain = { "Content-Type": "text/plain; charset=utf-8" }

/**
 * A `node:http` request listener serving the registry in the Prometheus text format, with the
 * registry's content type. `GET` and `HEAD` only (405 otherwise). It answers any path: mount
 * it on your own `/metrics` route.
 *
 * @example
 * ```ts
 * import { createServer } from "node:http"
 * import { makePrometheusReporter, metricsHandler } from "@vmcp-status/prometheus"
 *
 * const metrics = makePrometheusReporter()
 * const serveMetrics = metricsHandler(metrics.registry)
 * createServer((req, res) => {
 *   if (req.url === "/metrics") return serveMetrics(req, res)
 *   res.writeHead(404).end()
 * }).listen(8080, "127.0.0.1")
 * ```
 */
export const metricsHandler =
  (registry: Registry) =>
  (req: IncomingMessage, res: ServerResponse): void => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { ...plain, Allow: "GET, HEAD" }).end("method not allowed: use GET\n")
      return
    }
    registry.metrics().then(
      (body) => {
        res.writeHead(200, {
          "Content-Type": registry.contentType,
          "Content-Length": Buffer.byteLength(body),
          "Cache-Control": "no-store"
        })
        res.end(req.method === "HEAD" ? undefined : body)
      },
      // The cause stays out of the response: it is not the scraper's business.
      () => {
        res.writeHead(500, plain).end("collecting metrics failed\n")
      }
    )
  }

/** Options of `serveMetrics`. */
export interface ServeMetricsOptions {
  readonly registry: Registry
  /** The port; 0 picks a free one (see `port` of the result). */
  readonly port: number
  /** The address to bind (default `127.0.0.1`: only this host; use `0.0.0.0` in a pod). */
  readonly host?: string
  /** The path to serve (default `/metrics`); other paths get 404. */
  readonly path?: string
}

/** A running metrics server. */
export interface MetricsServer {
  readonly server: Server
  /** The port it listens on. */
  readonly port: number
  /** e.g. `http://127.0.0.1:9464/metrics` */
  readonly url: string
  /** Stops listening and closes open connections. Idempotent. */
  readonly close: () => Promise<void>
}

/**
 * A small standalone `/metrics` server, bound to `127.0.0.1` unless told otherwise. Rejects
 * when it cannot listen (e.g. the port is taken).
 *
 * @example
 * ```ts
 * import { makePrometheusReporter, serveMetrics } from "@vmcp-status/prometheus"
 *
 * const metrics = makePrometheusReporter()
 * const server = await serveMetrics({ registry: metrics.registry, port: 9464 })
 * // ... later
 * await server.close()
 * ```
 */
export const serveMetrics = (options: ServeMetricsOptions): Promise<MetricsServer> => {
  const host = options.host ?? "127.0.0.1"
  const path = options.path ?? "/metrics"
  const handler = metricsHandler(options.registry)
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost")
    if (url.pathname === path) return handler(req, res)
    res.writeHead(404, plain).end(`not found: metrics are at ${path}\n`)
  })
  return new Promise((resolve, reject) => {
    server.once("error", reject)
    server.listen(options.port, host, () => {
      server.off("error", reject)
      const port = (server.address() as AddressInfo).port
      const shownHost = host.includes(":") ? `[${host}]` : host
      let closing: Promise<void> | undefined
      resolve({
        server,
        port,
        url: `http://${shownHost}:${port}${path}`,
        close: () => {
          closing ??= new Promise<void>((done, fail) => {
            server.close((error) => (error ? fail(error) : done()))
            server.closeAllConnections()
          })
          return closing
        }
      })
    })
  })
}
