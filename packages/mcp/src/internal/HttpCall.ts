/**
 * `tools/call` to a Streamable HTTP backend without the SDK client's machinery: one POST over
 * `node:http(s)` with a keep-alive agent, the answer (JSON or SSE) parsed once, no schema
 * validation of the result (the gateway passes results through; its own clients validate them).
 * The session itself (initialize, session id, negotiated version, notifications, everything
 * else) stays with the SDK client; this reuses what it negotiated.
 */
import {
  type ClientRequest,
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingMessage,
  type OutgoingHttpHeaders
} from "node:http"
import { Agent as HttpsAgent, request as httpsRequest } from "node:https"
import {
  type CallToolResult,
  type JSONRPCMessage,
  ProtocolError,
  SdkError,
  SdkErrorCode,
  SdkHttpError
} from "@modelcontextprotocol/client"
import { ResponseTooLargeError, responseTooLargeRpcError } from "../ResponseBound.ts"
import { makeSseParser } from "./SseParser.ts"

/** What one call reuses of the SDK session it runs on. */
export interface HttpCallSession {
  /** The session id the server gave at `initialize` (undefined for a stateless server). */
  readonly sessionId: string | undefined
  /** The `mcp-protocol-version` header the SDK transport sends (the negotiated version). */
  readonly protocolVersion: string | undefined
  /**
   * Hands a message from the server that is not our answer (a request or notification on the
   * response stream) to the SDK client, which handles it as if its transport had received it:
   * it answers a request it has no handler for with "method not found", as it always does.
   */
  readonly deliver: (message: JSONRPCMessage) => void
  /** Sends `notifications/cancelled` for a request id (fire and forget), as the SDK client does. */
  readonly cancel: (requestId: string, reason: string) => void
}

export interface HttpCaller {
  readonly callTool: (
    session: HttpCallSession,
    params: { readonly name: string; readonly arguments?: Record<string, unknown> },
    options: { readonly timeoutMs: number; readonly signal?: AbortSignal | undefined }
  ) => Promise<CallToolResult>
  /** Closes the agent's sockets. */
  readonly close: () => void
}

/** The `error` of a JSON-RPC error answer, loosely checked. */
interface RpcError {
  readonly code: number
  readonly message: string
  readonly data?: unknown
}

type Answer = { readonly result: unknown } | { readonly error: RpcError }

/** A request id of our own: a string, so it never equals one of the SDK client's numeric ids. */
let lastId = 0
const nextId = () => `vmcp-${(++lastId).toString(36)}`

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const mediaType = (contentType: string | undefined): string =>
  (contentType ?? "").split(";", 1)[0]!.trim().toLowerCase()

/**
 * Makes the caller for one backend URL: the configured `headers` go with every call (their
 * values are secrets: they never appear in an error), responses are bounded by
 * `maxResponseBytes` (a JSON body by its bytes, an SSE stream per event).
 */
export const makeHttpCaller = (options: {
  readonly url: string
  readonly headers?: Readonly<Record<string, string>> | undefined
  readonly maxResponseBytes?: number | undefined
}): HttpCaller => {
  const url = new URL(options.url)
  const https = url.protocol === "https:"
  const agent = https ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true })
  const send = https ? httpsRequest : httpRequest
  const hostname = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname
  const port = url.port === "" ? undefined : Number(url.port)
  const path = `${url.pathname}${url.search}`
  const maxBytes = options.maxResponseBytes ?? Number.POSITIVE_INFINITY
  // The configured headers as the SDK transport sends them (`requestInit.headers`), keys
  // lower-cased so that ours replace theirs; `accept` is merged as the SDK merges it.
  const base: Record<string, string> = {}
  for (const [name, value] of Object.entries(options.headers ?? {})) base[name.toLowerCase()] = value
  const accept = [
    ...new Set([
      ...(base.accept ?? "")
        .split(",")
        .map((s) => s.trim().toLowerCase())
        .filter((s) => s !== ""),
      "application/json",
      "text/event-stream"
    ])
  ].join(", ")

  const callTool: HttpCaller["callTool"] = (session, params, { timeoutMs, signal }) => {
    if (signal?.aborted === true) {
      const reason: unknown = signal.reason
      return Promise.reject(
        reason instanceof SdkError ? reason : new SdkError(SdkErrorCode.RequestTimeout, String(reason))
      )
    }
    const id = nextId()
    const body = Buffer.from(JSON.stringify({ jsonrpc: "2.0", id, method: "tools/call", params }))
    const headers: OutgoingHttpHeaders = {
      ...base,
      "content-type": "application/json",
      accept,
      "content-length": body.length
    }
    if (session.sessionId !== undefined) headers["mcp-session-id"] = session.sessionId
    if (session.protocolVersion !== undefined) headers["mcp-protocol-version"] = session.protocolVersion

    return new Promise<CallToolResult>((resolve, reject) => {
      let settled = false
      let response: IncomingMessage | undefined
      const finish = () => {
        settled = true
        clearTimeout(timer)
        signal?.removeEventListener("abort", onAbort)
      }
      const fail = (error: unknown) => {
        if (settled) return
        finish()
        // Nothing more of this answer is wanted: free the connection (it is not reused).
        req.destroy()
        reject(error)
      }
      const answer = (found: Answer) => {
        if (settled) return
        finish()
        if ("error" in found) {
          const { code, message, data } = found.error
          reject(ProtocolError.fromError(code, message, data))
        } else if (!isObject(found.result))
          reject(
            new SdkError(SdkErrorCode.InvalidResult, "Invalid result for tools/call: not an object", {
              method: "tools/call"
            })
          )
        else if (found.result.content === undefined)
          // As the SDK normalizes a result without content (code that reads a result relies on it).
          resolve({ ...found.result, content: [] } as CallToolResult)
        else if (!Array.isArray(found.result.content))
          reject(
            new SdkError(
              SdkErrorCode.InvalidResult,
              "Invalid result for tools/call: content is not an array",
              {
                method: "tools/call"
              }
            )
          )
        else resolve(found.result as CallToolResult)
        // The rest of the stream (the server ends it after the answer) is read and dropped,
        // so the connection goes back to the agent.
        response?.resume()
      }
      /** Settles on our answer; hands a request or notification to the SDK client; ignores the rest. */
      const handle = (message: unknown): void => {
        if (!isObject(message)) return
        if ("method" in message) {
          session.deliver(message as JSONRPCMessage)
          return
        }
        if (message.id !== id) return
        if ("result" in message) answer({ result: message.result })
        else if (isObject(message.error) && typeof message.error.code === "number")
          answer({
            error: {
              code: message.error.code,
              message: typeof message.error.message === "string" ? message.error.message : "",
              data: message.error.data
            }
          })
        else
          fail(
            new SdkError(
              SdkErrorCode.InvalidResult,
              "Invalid result for tools/call: not a JSON-RPC response",
              {
                method: "tools/call"
              }
            )
          )
      }
      /** Gives up as the SDK client does: the same error, and `notifications/cancelled` to the server. */
      const cancel = (reason: unknown) => {
        if (settled) return
        fail(reason instanceof SdkError ? reason : new SdkError(SdkErrorCode.RequestTimeout, String(reason)))
        session.cancel(id, String(reason))
      }
      const onAbort = () => cancel(signal?.reason)
      const timer = setTimeout(
        () => cancel(new SdkError(SdkErrorCode.RequestTimeout, "Request timed out", { timeout: timeoutMs })),
        timeoutMs
      )
      signal?.addEventListener("abort", onAbort, { once: true })

      let req: ClientRequest
      try {
        req = send({ hostname, port, path, method: "POST", headers, agent }, onResponse)
      } catch (error) {
        // E.g. a header value node:http refuses (its message names the header, never the value).
        finish()
        reject(error)
        return
      }

      function onResponse(res: IncomingMessage) {
        response = res
        const status = res.statusCode ?? 0
        if (status < 200 || status >= 300 || status === 202 || status === 204) {
          res.resume()
          // The status says what went wrong; the body could echo anything, headers are secrets.
          fail(
            new SdkHttpError(
              SdkErrorCode.ClientHttpNotImplemented,
              status >= 200 && status < 300
                ? `Error POSTing to endpoint: HTTP ${status} without a response to tools/call`
                : status === 404 && session.sessionId !== undefined
                  ? "Error POSTing to endpoint: HTTP 404: the session is gone (the next request opens a new one)"
                  : `Error POSTing to endpoint: HTTP ${status}`,
              { status, statusText: res.statusMessage ?? "" }
            )
          )
          return
        }
        const type = mediaType(res.headers["content-type"])
        if (type === "application/json") readJson(res)
        else if (type === "text/event-stream") readSse(res)
        else {
          res.resume()
          fail(
            new SdkError(SdkErrorCode.ClientHttpUnexpectedContent, `Unexpected content type: ${type}`, {
              contentType: type
            })
          )
        }
      }

      const readJson = (res: IncomingMessage) => {
        const declared = Number(res.headers["content-length"])
        if (Number.isFinite(declared) && declared > maxBytes) return fail(new ResponseTooLargeError(maxBytes))
        const chunks: Array<Buffer> = []
        let size = 0
        res.on("data", (chunk: Buffer) => {
          if (settled) return
          size += chunk.length
          if (size > maxBytes) return fail(new ResponseTooLargeError(maxBytes))
          chunks.push(chunk)
        })
        res.on("end", () => {
          if (settled) return
          let parsed: unknown
          try {
            parsed = JSON.parse(Buffer.concat(chunks, size).toString("utf8"))
          } catch (error) {
            return fail(error)
          }
          for (const message of Array.isArray(parsed) ? parsed : [parsed]) handle(message)
          if (!settled) fail(new SdkError(SdkErrorCode.ConnectionClosed, "Connection closed"))
        })
      }

      const readSse = (res: IncomingMessage) => {
        const parser = makeSseParser(maxBytes, (event) => {
          if (settled || event.event !== "message") return
          let message: unknown
          try {
            message = JSON.parse(event.data)
          } catch {
            // The SDK reports an unparsable event and reads on; so does this.
            return
          }
          handle(message)
        })
        res.on("data", (chunk: Buffer) => {
          if (settled) return
          if (!parser.push(chunk)) {
            const { code, message, data } = responseTooLargeRpcError(maxBytes)
            // As the SDK path answers it (`boundedFetch`): a JSON-RPC error for the request.
            fail(ProtocolError.fromError(code, message, data))
          }
        })
        // The stream ended without our answer: what the SDK reports when a connection closes.
        // The stream ends after the answer too: the error (and its stack trace) only when unanswered.
        res.on("end", () => {
          if (!settled) fail(new SdkError(SdkErrorCode.ConnectionClosed, "Connection closed"))
        })
      }

      // Node's own message names the address (as `fetch`'s does not): keep it as the cause only.
      req.on("error", (error: Error & { code?: unknown }) =>
        fail(
          new Error(
            `POSTing to the backend failed${typeof error.code === "string" ? `: ${error.code}` : ""}`,
            {
              cause: error
            }
          )
        )
      )
      // A response cut mid-body (the server went away) fails the call like any transport error.
      req.on("close", () => {
        if (!settled && response !== undefined && !response.complete)
          fail(new SdkError(SdkErrorCode.ConnectionClosed, "Connection closed"))
      })
      req.end(body)
    })
  }

  return { callTool, close: () => agent.destroy() }
}
