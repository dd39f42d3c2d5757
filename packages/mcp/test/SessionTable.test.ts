import { describe, expect, it } from "vitest"
import {
  type EvictionReason,
  idleSweepInterval,
  makeSessionTable,
  type SessionClock
} from "../src/internal/SessionTable.ts"

const setup = (options: {
  maxSessions: number
  maxSessionsPerClient: number
  busy?: ReadonlySet<string>
}) => {
  let now = 0
  const timers: Array<() => void> = []
  const clock: SessionClock = {
    now: () => now,
    every: (_ms, run) => {
      timers.push(run)
      return () => timers.splice(timers.indexOf(run), 1)
    }
  }
  const evicted: Array<[string, EvictionReason]> = []
  const table = makeSessionTable<string>({
    ...options,
    idleTimeoutMs: 1_000,
    clock,
    busy: (id) => options.busy?.has(id) === true,
    onEvict: (id, _session, reason) => evicted.push([id, reason])
  })
  const at = (ms: number) => {
    now = ms
  }
  const tick = (ms: number) => {
    now += ms
    for (const run of [...timers]) run()
  }
  return { table, evicted, at, tick, timers }
}

describe("the session table", () => {
  it("past a client's bound, drops that client's least recently used session only", () => {
    const { table, evicted, at } = setup({ maxSessions: 100, maxSessionsPerClient: 2 })
    table.add("b1", "bob", "b1")
    at(1)
    table.add("a1", "alice", "a1")
    at(2)
    table.add("a2", "alice", "a2")
    at(3)
    table.use("a1")
    table.add("a3", "alice", "a3")
    expect(evicted).toEqual([["a2", "client-limit"]])
    expect(table.sizeOf("alice")).toBe(2)
    expect(table.use("b1")).toBe("b1")
  })

  it("past the server's bound, drops the oldest session of the client holding the most", () => {
    const { table, evicted, at } = setup({ maxSessions: 4, maxSessionsPerClient: 10 })
    table.add("b1", "bob", "b1")
    at(1)
    table.add("a1", "alice", "a1")
    table.add("a2", "alice", "a2")
    table.add("a3", "alice", "a3")
    at(2)
    table.add("c1", "carol", "c1")
    expect(evicted).toEqual([["a1", "server-limit"]])
    expect(table.size()).toBe(4)
  })

  it("drops sessions idle for the timeout on the clock's timer, never a busy one", () => {
    const { table, evicted, at, tick } = setup({
      maxSessions: 10,
      maxSessionsPerClient: 10,
      busy: new Set(["busy"])
    })
    table.add("idle", "x", "idle")
    table.add("busy", "x", "busy")
    table.add("used", "x", "used")
    at(900)
    table.use("used")
    tick(99)
    expect(evicted).toEqual([])
    tick(1)
    expect(evicted).toEqual([["idle", "idle"]])
    expect(table.size()).toBe(2)
    tick(900)
    expect(evicted).toEqual([
      ["idle", "idle"],
      ["used", "idle"]
    ])
  })

  it("stops its timer on clear and returns the sessions for closing", () => {
    const { table, timers } = setup({ maxSessions: 10, maxSessionsPerClient: 10 })
    table.add("s", "x", "s")
    expect(timers).toHaveLength(1)
    expect(table.clear()).toEqual(["s"])
    expect(timers).toHaveLength(0)
    expect(table.size()).toBe(0)
  })

  it.each([
    [30 * 60_000, 60_000],
    [10_000, 5_000],
    [100, 1_000]
  ])("looks for idle sessions of a %i ms timeout every %i ms", (timeout, interval) => {
    expect(idleSweepInterval(timeout)).toBe(interval)
  })
})
