import type { IncomingMessage } from "node:http"

const authenticated = new WeakMap<IncomingMessage, string>()

/**
 * Records who authenticated a request (a token's subject, a bearer token's name): the
 * authentication layer calls this before the MCP endpoint sees the request, and session and
 * call bounds then apply per authenticated client instead of per address.
 *
 * @example
 * ```ts
 * import type { IncomingMessage } from "node:http"
 * import { setAuthenticatedClient } from "@vmcp-status/vmcp"
 *
 * declare const req: IncomingMessage
 * setAuthenticatedClient(req, "sub:alice@example.com")
 * ```
 */
export const setAuthenticatedClient = (req: IncomingMessage, subject: string): void => {
  authenticated.set(req, subject)
}

/**
 * Who a request comes from, for the per-client bounds (`limits.maxSessionsPerClient`): the
 * authenticated subject when the request was authenticated (`setAuthenticatedClient`), else the
 * remote address (IPv4-mapped IPv6 as plain IPv4). `X-Forwarded-For` is not trusted: behind a
 * proxy every client has the proxy's address, so raise the bound there or authenticate.
 *
 * @example
 * ```ts
 * import type { IncomingMessage } from "node:http"
 * import { clientIdentity } from "@vmcp-status/vmcp"
 *
 * declare const req: IncomingMessage
 * clientIdentity(req) // "addr:127.0.0.1"
 * ```
 */
export const clientIdentity = (req: IncomingMessage): string => {
  const subject = authenticated.get(req)
  if (subject !== undefined) return `auth:${subject}`
  const address = req.socket.remoteAddress ?? "unknown"
  return `addr:${address.startsWith("::ffff:") ? address.slice("::ffff:".length) : address}`
}
