import type { IncomingMessage } from "node:http"
import type { AuthInfo } from "@modelcontextprotocol/server"

/** The subject an authentication layer vouches for: `extra.sub` (a JWT's subject), else `clientId`. */
const subjectOf = (auth: AuthInfo | undefined): string | undefined => {
  if (auth === undefined) return undefined
  const sub = auth.extra?.sub
  if (typeof sub === "string" && sub !== "") return sub
  return auth.clientId !== "" ? auth.clientId : undefined
}

/**
 * Who a request comes from, for the per-client session bound (`maxSessionsPerClient` of `makeMcpHttpServing`). When an
 * authentication layer has set `req.auth` (the MCP SDK's `AuthInfo`, which `toNodeHandler` also
 * forwards to handlers), the authenticated subject (`extra.sub`, else `clientId`; never the
 * token); otherwise the remote address (IPv4-mapped IPv6 as plain IPv4). `X-Forwarded-For` is not
 * trusted: behind a proxy every client has the proxy's address, so raise the bound there or
 * authenticate.
 *
 * @example
 * ```ts
 * import type { IncomingMessage } from "node:http"
 * import { clientIdentity } from "@vmcp-status/mcp"
 *
 * declare const req: IncomingMessage
 * clientIdentity(req) // "addr:127.0.0.1"
 * clientIdentity(Object.assign(req, { auth: { token: "…", clientId: "ci", scopes: [], extra: { sub: "alice" } } })) // "auth:alice"
 * ```
 */
export const clientIdentity = (req: IncomingMessage & { auth?: AuthInfo }): string => {
  const subject = subjectOf(req.auth)
  if (subject !== undefined) return `auth:${subject}`
  const address = req.socket.remoteAddress ?? "unknown"
  return `addr:${address.startsWith("::ffff:") ? address.slice("::ffff:".length) : address}`
}
