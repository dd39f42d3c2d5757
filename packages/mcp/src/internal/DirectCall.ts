import type { IncomingHttpHeaders } from "node:http"
import {
  classifyInboundRequest,
  isJsonContentType,
  ProtocolError,
  ProtocolErrorCode,
  type RequestId
} from "@modelcontextprotocol/server"
import { MAX_BODY_BYTES } from "./Body.ts"

const one = (value: string | Array<string> | undefined): string | undefined =>
  Array.isArray(value) ? value.join(", ") : value

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const isRequestId = (value: unknown): value is RequestId =>
  typeof value === "string" || (typeof value === "number" && Number.isSafeInteger(value))

/**
 * The headers of a POST the direct path may take, checked as the SDK's transport checks them
 * (`Accept` naming both types, a JSON `Content-Type`, a supported `MCP-Protocol-Version` if any),
 * plus a declared length within the body bound: a body that could be refused is left to the
 * SDK path, so every refusal stays its answer.
 */
export const cleanPostHeaders = (
  headers: IncomingHttpHeaders,
  protocolVersions: ReadonlyArray<string>
): boolean => {
  const accept = one(headers.accept)
  if (accept === undefined || !accept.includes("application/json") || !accept.includes("text/event-stream"))
    return false
  if (!isJsonContentType(one(headers["content-type"]) ?? null)) return false
  const version = one(headers["mcp-protocol-version"])
  if (version !== undefined && !protocolVersions.includes(version)) return false
  if (headers["content-encoding"] !== undefined) return false
  const length = Number(headers["content-length"])
  return headers["content-length"] !== undefined && Number.isSafeInteger(length) && length <= MAX_BODY_BYTES
}

/** Checks of a method's params beyond "an object" (else the SDK path answers the proper error). */
const paramsFit: { readonly [method: string]: (params: Record<string, unknown>) => boolean } = {
  "tools/call": (params) =>
    typeof params.name === "string" &&
    (params.arguments === undefined || isObject(params.arguments)) &&
    // Task-augmented calls are the SDK's business.
    params.task === undefined
}

const KEYS = new Set(["jsonrpc", "id", "method", "params"])

/** What a clean POST body asks of the direct path. */
export type DirectMessage =
  | {
      readonly kind: "call"
      readonly id: RequestId
      readonly method: string
      readonly params: Record<string, unknown>
    }
  | { readonly kind: "cancel"; readonly requestId: RequestId }

/**
 * A body the direct path answers: one JSON-RPC request (no batch) with a string or integer id,
 * a method in `methods`, params an object that fits the method, classified 2025-era by the SDK's
 * own rule; or `notifications/cancelled` naming a request id. Anything else: undefined.
 */
export const directMessage = (
  body: unknown,
  headers: IncomingHttpHeaders,
  hasMethod: (method: string) => boolean
): DirectMessage | undefined => {
  if (!isObject(body) || body.jsonrpc !== "2.0" || typeof body.method !== "string") return undefined
  for (const key of Object.keys(body)) if (!KEYS.has(key)) return undefined
  const { method, params } = body
  if (!isObject(params)) return undefined
  if (body.id === undefined) {
    if (method !== "notifications/cancelled" || !isRequestId(params.requestId)) return undefined
    return { kind: "cancel", requestId: params.requestId }
  }
  if (!isRequestId(body.id) || !hasMethod(method)) return undefined
  if (paramsFit[method]?.(params) === false) return undefined
  const era = classifyInboundRequest({
    httpMethod: "POST",
    body,
    ...optional("protocolVersionHeader", one(headers["mcp-protocol-version"])),
    ...optional("mcpMethodHeader", one(headers["mcp-method"])),
    ...optional("mcpNameHeader", one(headers["mcp-name"]))
  })
  return era.kind === "legacy" ? { kind: "call", id: body.id, method, params } : undefined
}

const optional = <K extends string>(key: K, value: string | undefined) =>
  (value === undefined ? {} : { [key]: value }) as { readonly [P in K]?: string }

/**
 * The JSON-RPC error a handler's failure is answered with: a `ProtocolError` as the SDK answers it
 * (its code, 2025-era mapped as the SDK maps it, its message and data); anything else -32603
 * `internal error`, never the error's text.
 */
export const errorOf = (error: unknown): { code: number; message: string; data?: unknown } => {
  if (!(error instanceof ProtocolError))
    return { code: ProtocolErrorCode.InternalError, message: "internal error" }
  const code = Number.isSafeInteger(error.code) ? error.code : ProtocolErrorCode.InternalError
  return {
    // The SDK's 2025-era codec answers -32002 (resource not found) as -32602.
    code: code === -32002 ? ProtocolErrorCode.InvalidParams : code,
    message: error.message,
    ...(error.data === undefined ? {} : { data: error.data })
  }
}
