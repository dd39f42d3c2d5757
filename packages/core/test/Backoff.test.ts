import { describe, expect, it } from "vitest"
import { backoffDelay, jitteredInterval } from "../src/index.ts"

describe("backoffDelay", () => {
  it.each([
    [1, 0.5, 200],
    [2, 0.5, 400],
    [5, 0.5, 3_200],
    [20, 0.5, 30_000],
    [1_000, 0.5, 30_000],
    [1, 0, 160],
    [1, 0.999_999, 240]
  ])("attempt %i with random %f waits %i ms", (attempt, random, expected) => {
    expect(backoffDelay(attempt, random)).toBe(expected)
  })
  it("honours custom base and cap", () => {
    expect(backoffDelay(10, 0.5, { baseMs: 1_000, capMs: 5_000, jitter: 0 })).toBe(5_000)
  })
})

describe("jitteredInterval", () => {
  it.each([
    [0, 27_000],
    [0.5, 30_000],
    [0.999_999, 33_000]
  ])("random %f gives %i ms for 30 s ± 10 %", (random, expected) => {
    expect(jitteredInterval(30_000, 0.1, random)).toBe(expected)
  })
})
