import { describe, expect, it } from "vitest"
import { countBackends, derivePhase, type Phase, type PhaseInput } from "../src/index.ts"
import { backend } from "./fixtures.ts"

const counts = (...healths: Array<Parameters<typeof backend>[1]>) =>
  countBackends(healths.map((h, i) => backend(`b${i}`, h)))

describe("derivePhase", () => {
  const rows: ReadonlyArray<[string, PhaseInput, Phase]> = [
    ["zero backends, before any round", { counts: counts(), initialRoundComplete: false }, "Ready"],
    ["zero backends", { counts: counts(), initialRoundComplete: true }, "Ready"],
    [
      "first round not finished",
      { counts: counts("healthy", "unknown"), initialRoundComplete: false },
      "Pending"
    ],
    ["all healthy", { counts: counts("healthy", "healthy"), initialRoundComplete: true }, "Ready"],
    ["one degraded", { counts: counts("healthy", "degraded"), initialRoundComplete: true }, "Degraded"],
    ["all degraded", { counts: counts("degraded", "degraded"), initialRoundComplete: true }, "Degraded"],
    [
      "mixed healthy and unhealthy",
      { counts: counts("healthy", "unhealthy"), initialRoundComplete: true },
      "Degraded"
    ],
    [
      "healthy and unauthenticated",
      { counts: counts("healthy", "unauthenticated"), initialRoundComplete: true },
      "Degraded"
    ],
    ["healthy and unknown", { counts: counts("healthy", "unknown"), initialRoundComplete: true }, "Degraded"],
    [
      "none routable",
      { counts: counts("unhealthy", "unauthenticated"), initialRoundComplete: true },
      "Failed"
    ],
    [
      "all unknown after the round",
      { counts: counts("unknown", "unknown"), initialRoundComplete: true },
      "Failed"
    ],
    ["all unauthenticated", { counts: counts("unauthenticated"), initialRoundComplete: true }, "Failed"],
    [
      "server not operational, backends fine",
      { counts: counts("healthy"), initialRoundComplete: true, serverOperational: false },
      "Failed"
    ],
    [
      "server not operational, no backends",
      { counts: counts(), initialRoundComplete: true, serverOperational: false },
      "Failed"
    ],
    [
      "shutting down",
      { counts: counts("healthy"), initialRoundComplete: true, shuttingDown: true },
      "Pending"
    ]
  ]
  it.each(rows)("%s", (_name, input, expected) => {
    expect(derivePhase(input)).toBe(expected)
  })
})

describe("countBackends", () => {
  it("counts unauthenticated as unhealthy and sums to the number of backends", () => {
    const c = counts("healthy", "degraded", "unhealthy", "unauthenticated", "unknown", "healthy")
    expect(c).toEqual({ total: 6, healthy: 2, degraded: 1, unhealthy: 2, unknown: 1, totalTools: 9 })
    expect(c.healthy + c.degraded + c.unhealthy + c.unknown).toBe(c.total)
  })
  it("counts only the tools of routable backends", () => {
    expect(counts("unhealthy", "unknown").totalTools).toBe(0)
    expect(counts("healthy", "degraded", "unhealthy").totalTools).toBe(6)
  })
  it("totals resources, templates and prompts of routable backends, only when some backend reports them", () => {
    expect(counts("healthy")).not.toHaveProperty("totalResources")
    expect(counts("healthy")).not.toHaveProperty("totalPrompts")
    const c = countBackends([
      backend("a", "healthy", { resourceCount: 7, resourceTemplateCount: 2, promptCount: 4 }),
      backend("b", "degraded", { resourceCount: 1, promptCount: 0 }),
      backend("c", "unhealthy", { resourceCount: 5, resourceTemplateCount: 5, promptCount: 5 }),
      backend("d", "healthy")
    ])
    expect(c).toMatchObject({ totalTools: 9, totalResources: 8, totalResourceTemplates: 2, totalPrompts: 4 })
    // Reported only by an unroutable backend: present, and zero.
    expect(countBackends([backend("c", "unhealthy", { promptCount: 5 })]).totalPrompts).toBe(0)
  })
})
