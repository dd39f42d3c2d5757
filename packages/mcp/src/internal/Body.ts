/** The MCP SDK's bound on a request body it reads itself (4 MiB); the same bound here. */
export const MAX_BODY_BYTES = 4 * 1024 * 1024

export type ReadBody =
  | { readonly tooLarge: false; readonly request: Request; readonly parsedBody: unknown }
  | { readonly tooLarge: true; readonly message: string }

const tooLarge = (): ReadBody => ({
  tooLarge: true,
  message: `Payload Too Large: the request body exceeds ${MAX_BODY_BYTES} bytes`
})

/**
 * Reads a POST body once, at most `MAX_BODY_BYTES`: a `clone()` would keep a second copy of every
 * body until the request is gone. A body that is not JSON goes back into a fresh request for the
 * SDK to answer (its era check and its parse error).
 */
export const readBody = async (request: Request): Promise<ReadBody> => {
  if (Number(request.headers.get("content-length")) > MAX_BODY_BYTES) return tooLarge()
  const chunks: Array<Uint8Array> = []
  let size = 0
  if (request.body !== null) {
    for await (const chunk of request.body) {
      size += chunk.byteLength
      if (size > MAX_BODY_BYTES) return tooLarge()
      chunks.push(chunk)
    }
  }
  const text = Buffer.concat(chunks).toString("utf8")
  try {
    return { tooLarge: false, request, parsedBody: JSON.parse(text) as unknown }
  } catch {
    return {
      tooLarge: false,
      request: new Request(request.url, { method: "POST", headers: request.headers, body: text }),
      parsedBody: undefined
    }
  }
}
