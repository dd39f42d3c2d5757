import type { IncomingMessage, ServerResponse } from "node:http"

/** Defaults of `/status/stream`; import them instead of restating the numbers. */
export const StatusStreamDefaults = {
  /** Streams open at once; one more gets 503 with `Retry-After`. */
  maxStreams: 32,
  /** A comment line this often keeps proxies (and their idle timeouts) from closing the stream. */
  heartbeatMs: 15_000,
  /** Statuses published closer together than this go out as one event (the newest). */
  coalesceMs: 100,
  /** What the browser's `EventSource` waits before reconnecting, sent as `retry:`. */
  retryMs: 2_000,
  /** A client that has not read this much of what was sent is too slow and is dropped. */
  maxBufferedBytes: 1_048_576
} as const

/** Options of `makeStatusStreams`. */
export interface StatusStreamOptions {
  /** The document each event carries (what `/status` answers), or `undefined` before the first status. */
  readonly document: () => unknown
  /** Calls the listener on every new status until the returned function is called. */
  readonly subscribe: (listener: () => void) => () => void
  readonly maxStreams?: number
  readonly heartbeatMs?: number
  readonly coalesceMs?: number
}

/** The open `/status/stream` responses. */
export interface StatusStreams {
  /** Answers a GET with an event stream (or 503 when `maxStreams` are open). */
  readonly handle: (req: IncomingMessage, res: ServerResponse) => void
  /** Streams open now. */
  readonly count: () => number
  /** Sends a pending change, then ends every stream and stops listening. */
  readonly close: () => void
}

interface Client {
  readonly res: ServerResponse
  readonly heartbeat: NodeJS.Timeout
}

/**
 * Server-sent events of the status: each stream gets an `event: status` with the current
 * document at once (or as soon as the first status exists) and again after every change
 * (within `coalesceMs`), plus a `: heartbeat` comment every `heartbeatMs`. The document is
 * serialised once per change for every stream. A closed connection is forgotten at once.
 *
 * @example
 * ```ts
 * import { createServer } from "node:http"
 * import { makeStatusFeed, makeStatusStreams } from "@vmcp-status/vmcp"
 *
 * const feed = makeStatusFeed()
 * const streams = makeStatusStreams({ document: () => feed.current(), subscribe: (l) => feed.subscribe(l) })
 * createServer((req, res) => streams.handle(req, res)).listen(0, "127.0.0.1")
 * ```
 */
export const makeStatusStreams = (options: StatusStreamOptions): StatusStreams => {
  const maxStreams = options.maxStreams ?? StatusStreamDefaults.maxStreams
  const heartbeatMs = options.heartbeatMs ?? StatusStreamDefaults.heartbeatMs
  const coalesceMs = options.coalesceMs ?? StatusStreamDefaults.coalesceMs
  const clients = new Set<Client>()
  let unsubscribe: (() => void) | undefined
  let pending: NodeJS.Timeout | undefined

  const event = (): string | undefined => {
    const document = options.document()
    // JSON never holds a raw newline, so the document is one `data:` line.
    return document === undefined ? undefined : `event: status\ndata: ${JSON.stringify(document)}\n\n`
  }
  const drop = (client: Client) => {
    if (!clients.delete(client)) return
    clearInterval(client.heartbeat)
    if (!client.res.writableEnded) client.res.end()
    if (clients.size === 0) {
      unsubscribe?.()
      unsubscribe = undefined
      if (pending !== undefined) clearTimeout(pending)
      pending = undefined
    }
  }
  const send = (client: Client, chunk: string) => {
    if (client.res.writableLength > StatusStreamDefaults.maxBufferedBytes) return drop(client)
    client.res.write(chunk)
  }
  const flush = () => {
    pending = undefined
    const chunk = event()
    if (chunk === undefined) return
    for (const client of [...clients]) send(client, chunk)
  }
  const changed = () => {
    pending ??= setTimeout(flush, coalesceMs)
  }

  return {
    handle: (req, res) => {
      if (req.method !== "GET" && req.method !== "HEAD") {
        res.writeHead(405, { allow: "GET", "content-type": "text/plain; charset=utf-8" })
        res.end("use GET\n")
        return
      }
      if (clients.size >= maxStreams) {
        res.writeHead(503, {
          "content-type": "text/plain; charset=utf-8",
          "cache-control": "no-store",
          "retry-after": "5"
        })
        res.end(`too many status streams open (at most ${maxStreams}); retry later or poll /status\n`)
        return
      }
      res.writeHead(200, {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
        "x-accel-buffering": "no",
        connection: "keep-alive"
      })
      if (req.method === "HEAD") {
        res.end()
        return
      }
      res.socket?.setNoDelay(true)
      const heartbeat = setInterval(() => send(client, ": heartbeat\n\n"), heartbeatMs)
      heartbeat.unref()
      const client: Client = { res, heartbeat }
      clients.add(client)
      unsubscribe ??= options.subscribe(changed)
      res.on("close", () => drop(client))
      res.write(`retry: ${StatusStreamDefaults.retryMs}\n\n`)
      const first = event()
      if (first !== undefined) res.write(first)
    },
    count: () => clients.size,
    close: () => {
      // A change not sent yet (the final `ShuttingDown` status) goes out before the end.
      if (pending !== undefined) {
        clearTimeout(pending)
        flush()
      }
      for (const client of [...clients]) drop(client)
    }
  }
}
