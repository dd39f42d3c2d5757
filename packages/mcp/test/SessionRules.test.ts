/** The pure rules of a backend session: restart backoff, the stderr ring, the refresh bound, log lines. */
import { describe, expect, it } from "vitest"
import { describeSessionEvent, refreshDueAt, restartDelayMs } from "../src/index.ts"
import { makeLineRing } from "../src/internal/LineRing.ts"

describe("restartDelayMs", () => {
  it.each([
    [1, 1_000],
    [2, 2_000],
    [3, 4_000],
    [7, 60_000],
    [60, 60_000]
  ])("restart after %i losses in a row waits %i ms (1 s doubling, capped at 60 s)", (attempt, ms) => {
    expect(restartDelayMs(attempt)).toBe(ms)
  })

  it("takes another base and cap", () => {
    expect([1, 2, 3, 4].map((n) => restartDelayMs(n, { baseMs: 50, capMs: 200 }))).toEqual([
      50, 100, 200, 200
    ])
  })
})

describe("makeLineRing", () => {
  it("keeps the last lines, whole, across chunks that split them", () => {
    const ring = makeLineRing(3, 100)
    ring.push("one\ntw")
    ring.push("o\nthree\r\nfour\n")
    expect(ring.lines()).toEqual(["two", "three", "four"])
    ring.push("fi")
    expect(ring.lines()).toEqual(["three", "four", "fi"])
  })

  it("bounds every line and the count, whatever the stream writes", () => {
    const ring = makeLineRing(2, 10)
    ring.push(`${"x".repeat(1_000)}\n`)
    ring.push("y".repeat(1_000_000))
    const lines = ring.lines()
    expect(lines).toHaveLength(2)
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(10)
    expect(lines[0]).toBe(`${"x".repeat(9)}…`)
  })
})

describe("refreshDueAt", () => {
  it.each([
    ["a lone notification: after the quiet", 0, 0, 100],
    ["a short burst: after its last one and the quiet", 0, 300, 400],
    ["a storm: no later than 1 s after its first one", 0, 950, 1_000]
  ])("%s", (_name, firstAt, lastAt, due) => {
    expect(refreshDueAt(firstAt, lastAt, 100, 1_000)).toBe(due)
  })
})

describe("describeSessionEvent", () => {
  it("a loss is a warning naming the backend, how it ended and what happens next; a first start is quiet", () => {
    expect(
      describeSessionEvent({
        _tag: "Lost",
        backend: "files",
        reason: "signal SIGKILL",
        restartInMs: 1_000,
        restarts: 0,
        exit: { time: "2026-11-25T18:00:00Z", signal: "SIGKILL" }
      })
    ).toEqual({
      level: "warn",
      message: "backend files: process ended (signal SIGKILL); restarting in 1 s (restart 1)"
    })
    expect(
      describeSessionEvent({ _tag: "Started", backend: "files", pid: 1, restarts: 0, startMs: 5 })
    ).toBeUndefined()
  })
})
