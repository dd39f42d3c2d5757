import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import { Paths } from "./Paths.ts"
import { checkRequest, makeRequestPolicy } from "./RequestPolicy.ts"

/** Where a listener binds, and which requests it accepts (as `startHttpServer` takes them). */
export interface EarlyListenTarget {
  readonly host: string
  readonly port: number
  readonly allowedOrigins?: ReadonlyArray<string> | undefined
  readonly allowedHosts?: ReadonlyArray<string> | undefined
}

/** The listeners bound before the server's modules load; `startHttpServer` adopts them (`server`). */
export interface EarlyListeners {
  readonly main: Server
  readonly admin: Server
  /** Closes whichever listener was not adopted (idempotent). */
  readonly close: () => Promise<void>
}

const RETRY_AFTER_S = "1"

/**
 * What a listener answers until the server takes it over: `/healthz` 200 (the process runs),
 * `/readyz` 503 with reason `starting`, every other path 503 with `retry-after` (a JSON-RPC error
 * on `/mcp`, so an MCP client reads it as one). `Origin` and `Host` are checked as later.
 */
const starting = (target: EarlyListenTarget) => {
  const policy = makeRequestPolicy(target)
  return (req: IncomingMessage, res: ServerResponse): void => {
    const path = new URL(req.url ?? "/", "http://localhost").pathname
    req.resume()
    const verdict = checkRequest(policy, {
      path,
      host: req.headers.host,
      origin: req.headers.origin
    })
    if (!verdict.ok) {
      res.writeHead(403, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" })
      res.end(`${verdict.message}\n`)
      return
    }
    if (path === Paths.healthz) {
      res.writeHead(200, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" })
      res.end("ok\n")
      return
    }
    const headers = {
      "content-type": "application/json",
      "cache-control": "no-store",
      "retry-after": RETRY_AFTER_S
    }
    res.writeHead(503, headers)
    res.end(
      `${JSON.stringify(
        path === Paths.readyz
          ? { ready: false, reason: "starting" }
          : path === Paths.mcp
            ? {
                jsonrpc: "2.0",
                id: null,
                error: { code: -32000, message: "vmcp is starting; retry shortly" }
              }
            : { error: "vmcp is starting; retry shortly" }
      )}\n`
    )
  }
}

/** A listener bound early, with the handler it answers with until it is adopted. */
interface Bound {
  readonly server: Server
  readonly handler: (req: IncomingMessage, res: ServerResponse) => void
}

const bind = (target: EarlyListenTarget): Promise<Bound | undefined> =>
  new Promise((resolve) => {
    const handler = starting(target)
    const server = createServer(handler)
    server.once("error", () => resolve(undefined))
    server.listen(target.port, target.host, () => resolve({ server, handler }))
  })

/** Closes a listener still answering `starting`; one adopted (its handler replaced) is its new owner's. */
const closeServer = ({ server, handler }: Bound): Promise<void> =>
  new Promise((resolve) => {
    if (!server.listening || !server.listeners("request").includes(handler)) return resolve()
    server.close(() => resolve())
    server.closeAllConnections()
  })

/**
 * Binds the main and the admin listener before `vmcp serve` loads the server, the MCP SDK and
 * the reporters (about 0.7 s of module loading), so that `/healthz` answers as soon as the config
 * is read and a taken port is known at once. Until `startHttpServer` adopts a listener it answers
 * as `starting` says. Resolves `undefined` if either cannot bind (nothing is left bound then):
 * the server binds again itself and reports the reason as it always has.
 *
 * @example
 * ```ts
 * import { listenEarly } from "@vmcp-status/vmcp"
 *
 * const early = await listenEarly({ host: "127.0.0.1", port: 4483 }, { host: "127.0.0.1", port: 4484 })
 * // GET http://127.0.0.1:4484/healthz → 200 "ok"; /readyz → 503 {"ready":false,"reason":"starting"}
 * await early?.close()
 * ```
 */
export const listenEarly = async (
  main: EarlyListenTarget,
  admin: EarlyListenTarget
): Promise<EarlyListeners | undefined> => {
  const mainBound = await bind(main)
  if (mainBound === undefined) return undefined
  // Port 0 picks a free port for each; an explicit admin port may be taken.
  const adminBound = await bind(admin)
  if (adminBound === undefined) {
    await closeServer(mainBound)
    return undefined
  }
  return {
    main: mainBound.server,
    admin: adminBound.server,
    close: async () => {
      await Promise.all([closeServer(mainBound), closeServer(adminBound)])
    }
  }
}
