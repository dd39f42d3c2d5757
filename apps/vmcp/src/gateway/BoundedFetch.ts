import { ResponseTooLargeError, responseTooLargeRpcError } from "@vmcp-status/mcp"

// Defined with the direct tool-call path in @vmcp-status/mcp; still exported from here.
export {
  RESPONSE_TOO_LARGE,
  RESPONSE_TOO_LARGE_RPC_CODE,
  ResponseTooLargeError
} from "@vmcp-status/mcp"

/** A `fetch` as the MCP SDK's HTTP transport takes it. */
export type FetchLike = (url: string | URL, init?: RequestInit) => Promise<Response>

/** The ids of the JSON-RPC requests in a POST body (responses to them are what a cut-off replaces). */
const requestIds = (body: RequestInit["body"]): ReadonlyArray<string | number> => {
  if (typeof body !== "string") return []
  try {
    const parsed: unknown = JSON.parse(body)
    return (Array.isArray(parsed) ? parsed : [parsed]).flatMap((m: unknown) =>
      typeof m === "object" &&
      m !== null &&
      "method" in m &&
      "id" in m &&
      (typeof m.id === "string" || typeof m.id === "number")
        ? [m.id]
        : []
    )
  } catch {
    return []
  }
}

const LF = 10
const CR = 13

/**
 * Counts the bytes of the current SSE event: an event ends at a blank line (`\n\n`, `\r\n\r\n`).
 * Only the size of one event matters: a GET stream may carry many small ones for hours.
 */
const sseCounter = () => {
  let size = 0
  let atLineStart = false
  /** Adds a chunk; returns the size of the longest event seen in it (ended or not). */
  return (chunk: Uint8Array): number => {
    let largest = size
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i]
      if (byte === LF) {
        if (atLineStart) {
          size = 0
          continue
        }
        atLineStart = true
      } else if (byte !== CR) atLineStart = false
      size++
      if (size > largest) largest = size
    }
    return largest
  }
}

const encoder = new TextEncoder()

/** The SSE event that answers each request with the "too large" JSON-RPC error. */
const sseErrorEvents = (ids: ReadonlyArray<string | number>, limitBytes: number): Uint8Array =>
  encoder.encode(
    // The blank line first ends the partial event already passed on (it fails to parse and is dropped).
    `\n\n${ids
      .map(
        (id) =>
          `event: message\ndata: ${JSON.stringify({
            jsonrpc: "2.0",
            id,
            error: responseTooLargeRpcError(limitBytes)
          })}\n\n`
      )
      .join("")}`
  )

/**
 * A signal of this request's own that follows `outer`. The MCP SDK hands every request of a
 * transport the same long-lived signal, and `fetch` adds a listener to it per request that stays
 * until the request is garbage-collected: thousands pile up under load and each add scans them
 * (~0.4 ms of gateway CPU per call, docs/numbers.md "The reference app"). Here `fetch` gets a fresh
 * signal per request, and the one listener on `outer` is removed once the response is read.
 */
const requestSignal = (
  outer: AbortSignal | null | undefined
): { readonly signal: AbortSignal | undefined; readonly release: () => void } => {
  if (outer === undefined || outer === null) return { signal: undefined, release: () => undefined }
  const controller = new AbortController()
  if (outer.aborted) {
    controller.abort(outer.reason)
    return { signal: controller.signal, release: () => undefined }
  }
  const follow = () => controller.abort(outer.reason)
  outer.addEventListener("abort", follow, { once: true })
  return { signal: controller.signal, release: () => outer.removeEventListener("abort", follow) }
}

/**
 * Wraps a `fetch` so that no response message can be larger than `maxBytes`: a JSON body past
 * the bound (by `content-length`, or counted as it streams) fails with `ResponseTooLargeError`;
 * an SSE event past it ends the stream, and the requests of that POST are answered with a
 * JSON-RPC error saying so (the SDK would otherwise wait for an answer until the call timeout).
 * Either way the rest is not read: the connection is cancelled, so memory stays at the bound.
 * Each request gets an abort signal of its own that follows the caller's (see `requestSignal`).
 *
 * @example
 * ```ts
 * import { StreamableHTTPClientTransport } from "@modelcontextprotocol/client"
 * import { boundedFetch } from "@vmcp-status/vmcp"
 *
 * const transport = new StreamableHTTPClientTransport(new URL("http://127.0.0.1:8080/mcp"), {
 *   fetch: boundedFetch(16 * 1024 * 1024)
 * })
 * ```
 */
export const boundedFetch =
  (maxBytes: number, base: FetchLike = (url, init) => fetch(url, init)): FetchLike =>
  async (url, init) => {
    const { signal, release } = requestSignal(init?.signal)
    let response: Response
    try {
      response = await base(url, signal === undefined ? init : { ...init, signal })
    } catch (error) {
      release()
      throw error
    }
    const body = response.body
    if (body === null) {
      release()
      return response
    }
    const sse = (response.headers.get("content-type") ?? "").toLowerCase().includes("text/event-stream")
    const declared = Number(response.headers.get("content-length") ?? Number.NaN)
    const count = sse ? sseCounter() : undefined
    let total = 0
    const reader = body.getReader()
    const over = (chunk: Uint8Array): boolean => {
      if (count !== undefined) return count(chunk) > maxBytes
      total += chunk.byteLength
      return total > maxBytes
    }
    const cut = (controller: ReadableStreamDefaultController<Uint8Array>) => {
      release()
      void reader.cancel().catch(() => undefined)
      if (sse) {
        // The request ids are parsed only now: most responses are never cut.
        const ids = init?.method === "POST" ? requestIds(init.body) : []
        if (ids.length > 0) controller.enqueue(sseErrorEvents(ids, maxBytes))
        controller.close()
      } else controller.error(new ResponseTooLargeError(maxBytes))
    }
    const bounded = new ReadableStream<Uint8Array>({
      start: (controller) => {
        if (!sse && Number.isFinite(declared) && declared > maxBytes) cut(controller)
      },
      pull: async (controller) => {
        try {
          const { done, value } = await reader.read()
          if (done) {
            release()
            return controller.close()
          }
          if (over(value)) return cut(controller)
          controller.enqueue(value)
        } catch (error) {
          release()
          controller.error(error)
        }
      },
      cancel: (reason) => {
        release()
        return reader.cancel(reason)
      }
    })
    return new Response(bounded, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers
    })
  }
