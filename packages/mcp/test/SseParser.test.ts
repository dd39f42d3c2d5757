import { describe, expect, it } from "vitest"
import { makeSseParser, type SseEvent } from "../src/internal/SseParser.ts"

/** Parses `text` fed in pieces of `step` bytes; returns the events and whether the bound held. */
const parse = (text: string, step: number, maxEventBytes = 1024) => {
  const events: Array<SseEvent> = []
  const parser = makeSseParser(maxEventBytes, (event) => events.push(event))
  const bytes = Buffer.from(text, "utf8")
  let within = true
  for (let i = 0; i < bytes.length && within; i += step) within = parser.push(bytes.subarray(i, i + step))
  return { events, within }
}

const table: ReadonlyArray<readonly [string, string, ReadonlyArray<SseEvent>]> = [
  ["one message", 'event: message\ndata: {"a":1}\n\n', [{ event: "message", data: '{"a":1}' }]],
  ["no event type means message", "data: x\n\n", [{ event: "message", data: "x" }]],
  ["data lines join with LF", "data: a\ndata: b\n\n", [{ event: "message", data: "a\nb" }]],
  ["CRLF line ends", "data: a\r\ndata: b\r\n\r\n", [{ event: "message", data: "a\nb" }]],
  ["CR line ends", "data: a\rdata: b\r\r", [{ event: "message", data: "a\nb" }]],
  ["no space after the colon", "data:x\n\n", [{ event: "message", data: "x" }]],
  ["only one leading space is stripped", "data:  x\n\n", [{ event: "message", data: " x" }]],
  [
    "comments and id/retry are skipped",
    ": keep-alive\nid: 7\nretry: 100\ndata: x\n\n",
    [{ event: "message", data: "x" }]
  ],
  [
    "an event without data is not dispatched",
    "id: 1\ndata:\n\nevent: ping\n\n",
    [{ event: "message", data: "" }]
  ],
  ["other event types pass with their type", "event: other\ndata: x\n\n", [{ event: "other", data: "x" }]],
  ["an unfinished event is not dispatched", "data: a\n\ndata: b\n", [{ event: "message", data: "a" }]],
  ["a byte order mark at the start", "\uFEFFdata: x\n\n", [{ event: "message", data: "x" }]],
  ["UTF-8 split across chunks", "data: héllo wörld ✓\n\n", [{ event: "message", data: "héllo wörld ✓" }]],
  [
    "two events",
    "event: message\ndata: 1\n\nevent: message\ndata: 2\n\n",
    [
      { event: "message", data: "1" },
      { event: "message", data: "2" }
    ]
  ]
]

describe("the SSE parser", () => {
  it.each(table)("%s, in chunks of any size", (_name, text, expected) => {
    for (const step of [1, 2, 3, 5, 1000]) expect(parse(text, step).events).toEqual(expected)
  })

  it("bounds each event, not the stream: many small events pass, one large one stops it", () => {
    const small = "data: 0123456789\n\n".repeat(100)
    expect(parse(small, 7, 64)).toEqual({ events: expect.any(Array), within: true })
    expect(parse(small, 7, 64).events).toHaveLength(100)
    const large = `data: ${"x".repeat(100)}\n\n`
    for (const step of [1, 7, 1000]) expect(parse(large, step, 64)).toEqual({ events: [], within: false })
  })

  it("an event exactly at the bound passes; one byte more does not", () => {
    const event = "data: xyz\n\n" // 11 bytes
    expect(parse(event, 3, 11).within).toBe(true)
    expect(parse(event, 3, 10).within).toBe(false)
  })
})
