/** A server-sent events reader over plain `fetch`, for tests of `/status/stream`. */

/** One event or comment as received. */
export interface SseMessage {
  /** `status` for an event, `comment` for a `:` line. */
  readonly type: string
  readonly data: string
}

/** An open stream: `next` resolves with the next message that satisfies `predicate`. */
export interface SseReader {
  readonly status: number
  readonly headers: Headers
  readonly next: (predicate?: (message: SseMessage) => boolean) => Promise<SseMessage>
  readonly close: () => void
}

const parse = (block: string): SseMessage | undefined => {
  const lines = block.split("\n")
  if (lines.every((l) => l.startsWith(":")))
    return { type: "comment", data: lines.join("\n").slice(1).trim() }
  let type = "message"
  const data: Array<string> = []
  for (const line of lines) {
    if (line.startsWith("event: ")) type = line.slice(7)
    else if (line.startsWith("data: ")) data.push(line.slice(6))
  }
  return data.length === 0 ? undefined : { type, data: data.join("\n") }
}

export const openSse = async (url: string): Promise<SseReader> => {
  const abort = new AbortController()
  const response = await fetch(url, { signal: abort.signal, headers: { accept: "text/event-stream" } })
  const reader = response.body?.getReader()
  const decoder = new TextDecoder()
  let buffer = ""
  const queue: Array<SseMessage> = []
  const pull = async (): Promise<SseMessage> => {
    for (;;) {
      const queued = queue.shift()
      if (queued !== undefined) return queued
      const split = buffer.indexOf("\n\n")
      if (split !== -1) {
        const message = parse(buffer.slice(0, split))
        buffer = buffer.slice(split + 2)
        if (message !== undefined) queue.push(message)
        continue
      }
      if (reader === undefined) throw new Error("no body")
      const { done, value } = await reader.read()
      if (done) throw new Error("the stream ended")
      buffer += decoder.decode(value, { stream: true })
    }
  }
  return {
    status: response.status,
    headers: response.headers,
    next: async (predicate = () => true) => {
      for (;;) {
        const message = await pull()
        if (predicate(message)) return message
      }
    },
    close: () => abort.abort()
  }
}
