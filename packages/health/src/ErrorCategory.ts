import * as Predicate from "effect/Predicate"

/**
 * Why a probe failed, as reports show it: a category, never the raw error (which may carry
 * URLs, headers or tokens).
 *
 * - `timeout`: no answer within the probe timeout;
 * - `connection_refused`: nothing listens on the port;
 * - `connection_reset`: the connection or the session dropped mid-request;
 * - `dns_failure`: the host name does not resolve;
 * - `tls_error`: the TLS handshake or the certificate failed;
 * - `auth_failed`: the backend answered 401 or 403;
 * - `rate_limited`: the backend answered 429 (it is up, but throttling us);
 * - `http_error`: any other unexpected HTTP status;
 * - `protocol_error`: the backend answered with a JSON-RPC error or an invalid MCP message;
 * - `response_too_large`: the backend's answer was larger than the client's bound and was cut off
 *   (an error or JSON-RPC error data whose `code` is `RESPONSE_TOO_LARGE`);
 * - `process_exited`: a stdio backend's process exited or could not be started;
 * - `probe_error`: anything else (e.g. a custom probe threw).
 */
export type ErrorCategory =
  | "timeout"
  | "connection_refused"
  | "connection_reset"
  | "dns_failure"
  | "tls_error"
  | "auth_failed"
  | "rate_limited"
  | "http_error"
  | "protocol_error"
  | "response_too_large"
  | "process_exited"
  | "probe_error"

/** A categorized probe failure: `detail` is short, fixed text (an HTTP status, a JSON-RPC code), never raw error text. */
export interface ProbeFailure {
  readonly category: ErrorCategory
  readonly detail: string
}

const NETWORK_CODES: Record<string, ErrorCategory> = {
  ECONNREFUSED: "connection_refused",
  ECONNRESET: "connection_reset",
  EPIPE: "connection_reset",
  ECONNABORTED: "connection_reset",
  UND_ERR_SOCKET: "connection_reset",
  UND_ERR_CLOSED: "connection_reset",
  ENOTFOUND: "dns_failure",
  EAI_AGAIN: "dns_failure",
  ETIMEDOUT: "timeout",
  UND_ERR_CONNECT_TIMEOUT: "timeout",
  UND_ERR_HEADERS_TIMEOUT: "timeout",
  ENOENT: "process_exited",
  EACCES: "process_exited"
}

const field = (value: unknown, key: string): unknown =>
  Predicate.isObject(value) && key in value ? (value as Record<string, unknown>)[key] : undefined

/** The error itself, its `cause` chain and the members of aggregate errors, breadth first, bounded. */
const related = (error: unknown): ReadonlyArray<unknown> => {
  const out: Array<unknown> = []
  const queue: Array<unknown> = [error]
  while (queue.length > 0 && out.length < 16) {
    const next = queue.shift()
    if (next === undefined || next === null || out.includes(next)) continue
    out.push(next)
    queue.push(field(next, "cause"))
    const errors = field(next, "errors")
    if (Array.isArray(errors)) queue.push(...errors)
  }
  return out
}

/** Maps an HTTP status to a category: 401/403 `auth_failed`, 429 `rate_limited`, others `http_error`. */
export const categorizeStatus = (status: number): ProbeFailure => {
  if (status === 401 || status === 403) return { category: "auth_failed", detail: `HTTP ${status}` }
  if (status === 429) return { category: "rate_limited", detail: "HTTP 429" }
  return { category: "http_error", detail: `HTTP ${status}` }
}

const httpStatus = (error: unknown): number | undefined => {
  const status = field(error, "status") ?? field(field(error, "data"), "status")
  return Predicate.isNumber(status) && status >= 100 && status < 600 ? status : undefined
}

/**
 * Classifies anything a probe can throw (SDK errors, `fetch` errors, Node system errors) into a
 * `ProbeFailure`. Only fixed text goes into `detail`.
 *
 * @example
 * ```ts
 * import { categorize } from "@vmcp-status/health"
 *
 * categorize(Object.assign(new Error("connect ECONNREFUSED 10.0.0.1:80"), { code: "ECONNREFUSED" }))
 * // { category: "connection_refused", detail: "connection refused" }
 * ```
 */
export const categorize = (error: unknown): ProbeFailure => {
  const chain = related(error)
  for (const e of chain) {
    const status = httpStatus(e)
    if (status !== undefined) return categorizeStatus(status)
  }
  for (const e of chain)
    if (field(e, "code") === "RESPONSE_TOO_LARGE" || field(field(e, "data"), "code") === "RESPONSE_TOO_LARGE")
      return { category: "response_too_large", detail: "response too large" }
  for (const e of chain) {
    const code = field(e, "code")
    if (Predicate.isString(code)) {
      const category = NETWORK_CODES[code]
      if (category !== undefined) return { category, detail: code }
      if (/CERT|TLS|SSL|SELF_SIGNED/.test(code)) return { category: "tls_error", detail: code }
      if (code === "REQUEST_TIMEOUT") return { category: "timeout", detail: "request timed out" }
      // A session whose start (spawn/connect and `initialize`) outlasted its start timeout.
      if (code === "START_TIMEOUT") return { category: "timeout", detail: "start timed out" }
      if (code === "CONNECTION_CLOSED" || code === "NOT_CONNECTED" || code === "SEND_FAILED")
        return { category: "connection_reset", detail: "connection closed" }
      if (code === "INVALID_RESULT") return { category: "protocol_error", detail: "invalid result" }
      // A session owner (e.g. a gateway restarting a stdio process) says its process exited.
      if (code === "PROCESS_EXITED") return { category: "process_exited", detail: "process exited" }
    }
    // JSON-RPC error answers: the SDK's ProtocolError, or any error carrying a reserved JSON-RPC code.
    if (
      Predicate.isNumber(code) &&
      (field(e, "name") === "ProtocolError" || (code <= -32000 && code >= -32768))
    )
      return { category: "protocol_error", detail: `JSON-RPC error ${code}` }
  }
  for (const e of chain) {
    const message = field(e, "message")
    if (Predicate.isString(message) && /^Not connected$/i.test(message))
      return { category: "connection_reset", detail: "connection closed" }
    if (field(e, "name") === "TimeoutError") return { category: "timeout", detail: "request timed out" }
  }
  return { category: "probe_error", detail: "probe failed" }
}
