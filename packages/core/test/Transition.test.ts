import { describe, expect, it } from "vitest"
import { transitions } from "../src/index.ts"
import { backend, status } from "./fixtures.ts"

describe("transitions", () => {
  const before = status([backend("a", "healthy"), backend("b", "healthy"), backend("gone", "healthy")])

  it("names the phase change and each backend that changed, appeared or disappeared", () => {
    const after = status([backend("a", "healthy"), backend("b", "unhealthy"), backend("new", "unknown")])
    const t = transitions(before, after)
    expect(t.phase).toEqual({ from: "Ready", to: "Degraded" })
    expect(t.backends.map((b) => [b.name, b.from, b.to])).toEqual([
      ["b", "healthy", "unhealthy"],
      ["gone", "healthy", undefined],
      ["new", undefined, "unknown"]
    ])
    expect(t.any).toBe(true)
  })

  it("treats the first status as a phase transition", () => {
    expect(transitions(undefined, before).phase).toEqual({ from: undefined, to: "Ready" })
  })

  it("ignores message and count changes", () => {
    const after = status([
      backend("a", "healthy", { toolCount: 9 }),
      backend("b", "healthy", { message: "fine" }),
      backend("gone", "healthy")
    ])
    expect(transitions(before, after).any).toBe(false)
  })
})
