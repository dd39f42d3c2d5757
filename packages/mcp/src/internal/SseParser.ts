/**
 * A server-sent events parser on Buffers (the WHATWG event stream format): lines end in LF, CRLF
 * or CR; `data` lines are joined with LF; a blank line dispatches the event. Only `event` and
 * `data` matter here (`id` and `retry` serve resumption, which the direct call path does not do).
 * The size of each event (its bytes up to and including the blank line) is bounded: a stream may
 * carry many small events, but no single one larger than `maxEventBytes`.
 */

const LF = 10
const CR = 13
const COLON = 58
const SPACE = 32

/** One dispatched event: its type (`message` when none was given) and its data. */
export interface SseEvent {
  readonly event: string
  readonly data: string
}

export interface SseParser {
  /** Feeds a chunk; returns false once the current event has grown past the bound (stop reading then). */
  readonly push: (chunk: Buffer) => boolean
}

export const makeSseParser = (maxEventBytes: number, onEvent: (event: SseEvent) => void): SseParser => {
  /** The unfinished line's pieces (it continues in the next chunk). */
  let partial: Array<Buffer> = []
  let partialBytes = 0
  /** Bytes of the current event's finished lines. */
  let eventBytes = 0
  let eventType = ""
  let data: Array<string> = []
  /** The last chunk ended in CR: a LF at the start of the next one belongs to that line end. */
  let afterCr = false
  let first = true

  const line = (buf: Buffer, from: number, end: number) => {
    let start = from
    if (first) {
      first = false
      // A UTF-8 byte order mark at the very start is not part of the first line.
      if (end - start >= 3 && buf[start] === 0xef && buf[start + 1] === 0xbb && buf[start + 2] === 0xbf)
        start += 3
    }
    if (start === end) {
      if (data.length > 0) onEvent({ event: eventType === "" ? "message" : eventType, data: data.join("\n") })
      eventType = ""
      data = []
      eventBytes = 0
      return
    }
    if (buf[start] === COLON) return
    const colon = buf.indexOf(COLON, start)
    const nameEnd = colon === -1 || colon >= end ? end : colon
    let valueStart = nameEnd === end ? end : nameEnd + 1
    if (valueStart < end && buf[valueStart] === SPACE) valueStart++
    const nameLength = nameEnd - start
    // Only two field names matter; compare bytes rather than decode every name.
    if (nameLength === 4 && buf.toString("latin1", start, nameEnd) === "data")
      data.push(buf.toString("utf8", valueStart, end))
    else if (nameLength === 5 && buf.toString("latin1", start, nameEnd) === "event")
      eventType = buf.toString("utf8", valueStart, end)
  }

  const push = (chunk: Buffer): boolean => {
    let pos = 0
    if (afterCr && chunk.length > 0) {
      afterCr = false
      if (chunk[0] === LF) {
        pos = 1
        eventBytes += 1
      }
    }
    while (pos < chunk.length) {
      const lf = chunk.indexOf(LF, pos)
      const cr = chunk.indexOf(CR, pos)
      const end = lf === -1 ? cr : cr === -1 ? lf : Math.min(lf, cr)
      if (end === -1) {
        partial.push(chunk.subarray(pos))
        partialBytes += chunk.length - pos
        break
      }
      let next = end + 1
      if (chunk[end] === CR) {
        if (end + 1 < chunk.length) {
          if (chunk[end + 1] === LF) next++
        } else afterCr = true
      }
      eventBytes += partialBytes + (next - pos)
      if (eventBytes > maxEventBytes) return false
      if (partial.length === 0) line(chunk, pos, end)
      else {
        partial.push(chunk.subarray(pos, end))
        const whole = Buffer.concat(partial, partialBytes + (end - pos))
        partial = []
        partialBytes = 0
        line(whole, 0, whole.length)
      }
      pos = next
    }
    return eventBytes + partialBytes <= maxEventBytes
  }

  return { push }
}
