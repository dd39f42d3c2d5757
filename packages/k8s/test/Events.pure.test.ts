import { describe, expect, it } from "vitest"
import { eventsFor } from "../src/internal/EventRecorder.ts"
import { backend, status, T1 } from "./fixtures.ts"

const ready = status([backend("alpha", "healthy"), backend("beta", "healthy")])
const betaDown = status([backend("alpha", "healthy"), backend("beta", "unhealthy")], {
  now: T1,
  previous: ready
})

describe("eventsFor", () => {
  it("the first status is no transition", () => {
    expect(eventsFor(undefined, ready)).toEqual([])
  })

  it("a backend going down: a Warning for the phase and one for the backend", () => {
    expect(eventsFor(ready, betaDown)).toEqual([
      { type: "Warning", reason: "BecameDegraded", note: `Ready → Degraded: ${betaDown.message}` },
      {
        type: "Warning",
        reason: "BackendUnhealthy",
        note: "backend beta healthy → unhealthy: connection refused"
      }
    ])
  })

  it("recovering: Normal Events", () => {
    const back = status([backend("alpha", "healthy"), backend("beta", "healthy")], { previous: betaDown })
    expect(eventsFor(betaDown, back).map((e) => [e.type, e.reason])).toEqual([
      ["Normal", "BecameReady"],
      ["Normal", "BackendHealthy"]
    ])
  })

  it("a removed backend is Normal; nothing for an unchanged status", () => {
    const fewer = status([backend("alpha", "healthy")], { previous: ready })
    expect(eventsFor(ready, fewer)).toEqual([
      { type: "Normal", reason: "BackendRemoved", note: "backend beta removed from configuration" }
    ])
    expect(eventsFor(ready, ready)).toEqual([])
  })

  it("secrets in backend messages never reach a note", () => {
    const leaky = status(
      [
        backend("alpha", "healthy"),
        backend("beta", "unhealthy", { message: "GET https://u:hunter2@x/?token=abc failed" })
      ],
      { previous: ready }
    )
    const notes = eventsFor(ready, leaky)
      .map((e) => e.note)
      .join("\n")
    expect(notes).not.toContain("hunter2")
    expect(notes).not.toContain("abc")
  })

  it("a restart is a Warning BackendRestarted naming how the process ended, once per restart", () => {
    const crashed = status(
      [
        backend("alpha", "healthy"),
        backend("beta", "healthy", {
          restarts: 1,
          lastExit: { time: "2026-11-25T18:01:00Z", signal: "SIGKILL" }
        })
      ],
      { previous: ready }
    )
    expect(eventsFor(ready, crashed)).toEqual([
      {
        type: "Warning",
        reason: "BackendRestarted",
        note: "backend beta restarted: its process ended (signal SIGKILL)"
      }
    ])
    // The same restart seen again (a tick, a retry) is no new Event.
    expect(eventsFor(crashed, crashed)).toEqual([])
    // The next restart of a crash loop has the same note, so the recorder extends one series.
    const again = status(
      [
        backend("alpha", "healthy"),
        backend("beta", "healthy", {
          restarts: 2,
          lastExit: { time: "2026-11-25T18:02:00Z", signal: "SIGKILL" }
        })
      ],
      { previous: crashed }
    )
    expect(eventsFor(crashed, again)).toEqual(eventsFor(ready, crashed))
  })
})
