import { describe, expect, it } from "vitest"
import { makeCallLimiter } from "../src/gateway/CallLimiter.ts"

describe("the call limiter", () => {
  it("refuses past the per-key bound, then past the global one, and frees slots once", () => {
    const limiter = makeCallLimiter({ maxConcurrent: 3, maxPerKey: 2 })
    const a1 = limiter.acquire("a")
    limiter.acquire("a")
    const a3 = limiter.acquire("a")
    expect(a3).toMatchObject({ ok: false, bound: "maxConcurrentCallsPerSession" })
    limiter.acquire("b")
    expect(limiter.acquire("c")).toMatchObject({ ok: false, bound: "maxConcurrentCalls" })
    if (!a1.ok) throw new Error("a1 should have a slot")
    a1.release()
    a1.release()
    expect(limiter.inFlight()).toBe(2)
    expect(limiter.inFlight("a")).toBe(1)
    expect(limiter.acquire("c").ok).toBe(true)
  })
})
