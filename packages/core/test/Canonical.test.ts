import { describe, expect, it } from "vitest"
import { fingerprint, isEquivalent } from "../src/index.ts"
import { backend, status, T0, T1 } from "./fixtures.ts"

describe("canonical comparison", () => {
  const base = status([backend("a", "healthy"), backend("b", "degraded")])

  it("ignores observedAt", () => {
    expect(isEquivalent(base, { ...base, observedAt: T1 })).toBe(true)
  })

  it("ignores lastCheckTime and latencyMs of backends", () => {
    const probed = {
      ...base,
      backends: base.backends.map((b) => ({ ...b, lastCheckTime: T1, latencyMs: 42 }))
    }
    expect(isEquivalent(base, probed)).toBe(true)
  })

  it("ignores backend order, condition order and key order", () => {
    const shuffled = {
      ...base,
      backends: base.backends
        .slice()
        .reverse()
        .map((b) => Object.fromEntries(Object.entries(b).reverse()) as typeof b),
      conditions: base.conditions.slice().reverse()
    }
    expect(fingerprint(shuffled)).toBe(fingerprint(base))
  })

  it.each([
    ["a backend health", { backends: [backend("a", "healthy"), backend("b", "unhealthy")] }],
    [
      "a backend message",
      { backends: [backend("a", "healthy"), backend("b", "degraded", { message: "slow" })] }
    ],
    ["a tool count", { backends: [backend("a", "healthy", { toolCount: 4 }), backend("b", "degraded")] }],
    ["a prompt count", { backends: [backend("a", "healthy", { promptCount: 2 }), backend("b", "degraded")] }],
    [
      "a resource count",
      { backends: [backend("a", "healthy", { resourceCount: 1 }), backend("b", "degraded")] }
    ],
    [
      "a backend added",
      { backends: [backend("a", "healthy"), backend("b", "degraded"), backend("c", "healthy")] }
    ],
    [
      "a backend url",
      { backends: [backend("a", "healthy", { url: "http://127.0.0.1:1/mcp" }), backend("b", "degraded")] }
    ],
    [
      "a circuit state",
      { backends: [backend("a", "healthy"), backend("b", "degraded", { circuit: "half-open" as const })] }
    ]
  ])("sees a change of %s", (_name, change) => {
    const changed = status(change.backends, { now: T0 })
    expect(isEquivalent(base, changed)).toBe(false)
  })
})
