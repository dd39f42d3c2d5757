import { describe, expect, it } from "@effect/vitest"
import { afterProbe, type Breaker, beforeProbe, closedBreaker, openDuration } from "../src/CircuitBreaker.ts"

const settings = { failureThreshold: 5, openMs: 60_000, maxOpenMs: 300_000 }

const failTimes = (breaker: Breaker, n: number, at: number) => {
  let b = breaker
  for (let i = 0; i < n; i++) b = afterProbe(b, false, at, settings)
  return b
}

describe("circuit breaker", () => {
  it("stays closed below the failure threshold and resets on success", () => {
    const b = failTimes(closedBreaker(0), 4, 10)
    expect(b).toMatchObject({ state: "closed", consecutiveFailures: 4, changedAt: 0 })
    expect(afterProbe(b, true, 20, settings)).toMatchObject({ state: "closed", consecutiveFailures: 0 })
  })

  it("opens at the 5th consecutive failure for 60 s and refuses probes until then", () => {
    const b = failTimes(closedBreaker(0), 5, 1_000)
    expect(b).toEqual({
      state: "open",
      consecutiveFailures: 5,
      opened: 1,
      openUntil: 61_000,
      changedAt: 1_000
    })
    expect(beforeProbe(b, 60_999)).toEqual({ allowed: false, breaker: b })
  })

  it("lets one probe through half-open when the open time is over", () => {
    const b = failTimes(closedBreaker(0), 5, 1_000)
    const { allowed, breaker } = beforeProbe(b, 61_000)
    expect(allowed).toBe(true)
    expect(breaker).toMatchObject({ state: "half-open", changedAt: 61_000 })
    expect(beforeProbe(breaker, 61_001).allowed).toBe(true)
  })

  it("closes after a successful half-open probe", () => {
    const half = beforeProbe(failTimes(closedBreaker(0), 5, 0), 60_000).breaker
    expect(afterProbe(half, true, 60_010, settings)).toEqual(closedBreaker(60_010))
  })

  it("re-opens after a failed half-open probe for twice as long, up to the cap", () => {
    let b = failTimes(closedBreaker(0), 5, 0)
    const durations: Array<number> = [b.openUntil - b.changedAt]
    for (let i = 0; i < 5; i++) {
      const half = beforeProbe(b, b.openUntil).breaker
      b = afterProbe(half, false, b.openUntil, settings)
      expect(b.state).toBe("open")
      durations.push(b.openUntil - b.changedAt)
    }
    expect(durations).toEqual([60_000, 120_000, 240_000, 300_000, 300_000, 300_000])
  })

  it("computes the open duration from the number of openings", () => {
    expect([1, 2, 3, 4, 40].map((n) => openDuration(n, settings))).toEqual([
      60_000, 120_000, 240_000, 300_000, 300_000
    ])
  })
})
