/** The MCP SDK's bound on a request body it reads itself (4 MiB); the same bound here. */
export const MAX_BODY_BYTES = 4 * 1024 * 1024

export type ReadBody =
  | { readonly tooLarge: false; readonly request: Request; readonly parsedBody: unknown }
  | { readonly tooLarge: true; readonly message: string }

/** A body read whole: its text, and its JSON value unless `text` is not JSON. */
export type ReadText =
  | {
      readonly tooLarge: false
      readonly text: string
      readonly parsed: boolean
      readonly parsedBody: unknown
    }
  | { readonly tooLarge: true; readonly message: string }

const tooLarge = () => ({
  tooLarge: true as const,
  message: `Payload Too Large: the request body exceeds ${MAX_BODY_BYTES} bytes`
})

/**
 * Reads chunks up to `MAX_BODY_BYTES` (a declared length over it is refused unread) and parses the
 * text once. The one reader behind both faces of the serving (web `Request`, `node:http`).
 */
export const readText = async (
  chunks: AsyncIterable<Uint8Array> | null,
  declaredLength: string | null | undefined
): Promise<ReadText> => {
  if (Number(declaredLength) > MAX_BODY_BYTES) return tooLarge()
  const read: Array<Uint8Array> = []
  let size = 0
  if (chunks !== null) {
    for await (const chunk of chunks) {
      size += chunk.byteLength
      if (size > MAX_BODY_BYTES) return tooLarge()
      read.push(chunk)
    }
  }
  const text = Buffer.concat(read).toString("utf8")
  try {
    return { tooLarge: false, text, parsed: true, parsedBody: JSON.parse(text) as unknown }
  } catch {
    return { tooLarge: false, text, parsed: false, parsedBody: undefined }
  }
}

/**
 * Reads a POST body once, at most `MAX_BODY_BYTES`: a `clone()` would keep a second copy of every
 * body until the request is gone. A body that is not JSON goes back into a fresh request for the
 * SDK to answer (its era check and its parse error).
 */
export const readBody = async (request: Request): Promise<ReadBody> => {
  const read = await readText(request.body, request.headers.get("content-length"))
  if (read.tooLarge) return read
  if (read.parsed) return { tooLarge: false, request, parsedBody: read.parsedBody }
  return { tooLarge: false, request: unparsedRequest(request, read.text), parsedBody: undefined }
}

/** The request again, with a body already read that is not JSON: the SDK answers its parse error. */
export const unparsedRequest = (request: Request, text: string): Request =>
  new Request(request.url, { method: "POST", headers: request.headers, body: text })
