import { describe, expect, it } from "vitest"
import { parseRetryAfter } from "../src/internal/KubeClient.ts"
import { fullBucket, takeToken } from "../src/internal/RateLimiter.ts"

describe("takeToken", () => {
  const options = { ratePerSecond: 5, burst: 10 }
  it("allows a burst, then one token per 200 ms", () => {
    let bucket = fullBucket(options, 0)
    const waits: Array<number> = []
    for (let i = 0; i < 12; i++) {
      const taken = takeToken(bucket, options, 0)
      bucket = taken.bucket
      waits.push(taken.waitMs)
    }
    expect(waits.slice(0, 10)).toEqual(Array(10).fill(0))
    expect(waits[10]).toBe(200)
    expect(takeToken(bucket, options, 200).waitMs).toBe(0)
  })
  it("never holds more than the burst", () => {
    const taken = takeToken({ tokens: 0, at: 0 }, options, 3_600_000)
    expect(taken.bucket.tokens).toBe(9)
  })
})

describe("parseRetryAfter", () => {
  it.each([
    ["3", 3000],
    ["0", 0],
    ["Wed, 25 Nov 2026 18:00:10 GMT", 10_000],
    ["soon", undefined],
    [undefined, undefined]
  ])("%s → %s ms", (value, expected) => {
    expect(parseRetryAfter(value, Date.parse("2026-11-25T18:00:00Z"))).toBe(expected)
  })
})
