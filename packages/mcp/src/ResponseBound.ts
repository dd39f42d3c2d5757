/** The `code` of the error a cut-off response ends in; `categorize` maps it to `response_too_large`. */
export const RESPONSE_TOO_LARGE = "RESPONSE_TOO_LARGE"

/** The JSON-RPC error code of the answer that replaces a cut-off streamed (SSE) response. */
export const RESPONSE_TOO_LARGE_RPC_CODE = -32001

const formatBytes = (bytes: number): string =>
  bytes % (1024 * 1024) === 0
    ? `${bytes / (1024 * 1024)} MiB`
    : bytes % 1024 === 0
      ? `${bytes / 1024} KiB`
      : `${bytes} bytes`

/**
 * A backend's response (one JSON-RPC message) was larger than the bound; it was cut off unread.
 *
 * @example
 * ```ts
 * import { ResponseTooLargeError } from "@vmcp-status/mcp"
 *
 * const error = new ResponseTooLargeError(1024 * 1024)
 * console.log(error.code, error.message) // RESPONSE_TOO_LARGE the backend's response exceeded limits.maxResponseBytes (1 MiB) ...
 * ```
 */
export class ResponseTooLargeError extends Error {
  readonly code = RESPONSE_TOO_LARGE
  constructor(readonly limitBytes: number) {
    super(
      `the backend's response exceeded limits.maxResponseBytes (${formatBytes(limitBytes)}) and was cut off; raise the limit or ask for less`
    )
    this.name = "ResponseTooLargeError"
  }
}

/**
 * The JSON-RPC error that answers a request whose streamed (SSE) response was cut off: what the
 * SDK client throws for it (a `ProtocolError`), with `data.code` `RESPONSE_TOO_LARGE`.
 *
 * @example
 * ```ts
 * import { responseTooLargeRpcError } from "@vmcp-status/mcp"
 *
 * const { code, message, data } = responseTooLargeRpcError(16 * 1024 * 1024)
 * console.log(code, data) // -32001 { code: "RESPONSE_TOO_LARGE", limitBytes: 16777216 }
 * ```
 */
export const responseTooLargeRpcError = (
  limitBytes: number
): {
  readonly code: number
  readonly message: string
  readonly data: { readonly code: string; readonly limitBytes: number }
} => ({
  code: RESPONSE_TOO_LARGE_RPC_CODE,
  message: new ResponseTooLargeError(limitBytes).message,
  data: { code: RESPONSE_TOO_LARGE, limitBytes }
})
