import { describe, expect, it } from "vitest"
import { fingerprint, isEquivalent, type RuntimeStatus } from "../src/index.ts"
import { backend, seeded, status, T0, T1 } from "./fixtures.ts"

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

describe("isEquivalent agrees with fingerprint equality (compared field by field)", () => {
  // A fixed seed: the same 2 000 cases on every run.
  const { random, pickOne } = seeded(42)
  const base = status([
    backend("a", "healthy"),
    backend("b", "unhealthy", { lastExit: { time: T0, exitCode: 1 }, restarts: 1 }),
    backend("c", "degraded", { lastCheckTime: T0, latencyMs: 3 })
  ])
  type Mutable = Record<string, unknown>
  const mutations: ReadonlyArray<(s: Mutable) => Mutable> = [
    (s) => ({ ...s, observedAt: T1 }),
    (s) => ({ ...s, message: `${s.message as string}!` }),
    (s) => ({ ...s, totalToolCount: (s.totalToolCount as number) + 1 }),
    (s) => ({ ...s, unknownKey: 1 }),
    (s) => ({ ...s, backends: [...(s.backends as Array<Mutable>)].reverse() }),
    (s) => ({ ...s, conditions: [...(s.conditions as Array<Mutable>)].reverse() }),
    (s) => {
      const backends = [...(s.backends as Array<Mutable>)]
      const i = Math.floor(random() * backends.length)
      const field = pickOne([
        "lastCheckTime",
        "latencyMs",
        "health",
        "toolCount",
        "message",
        "restarts",
        "extra"
      ])
      const value = pickOne<unknown>([T1, 7, "healthy", "degraded", "", undefined, 0])
      backends[i] = { ...backends[i], [field]: value }
      return { ...s, backends }
    },
    (s) => {
      const backends = [...(s.backends as Array<Mutable>)]
      backends[1] = {
        ...backends[1],
        lastExit: pickOne([{ time: T0, exitCode: 1 }, { time: T0, signal: "SIGKILL" }, undefined])
      }
      return { ...s, backends }
    },
    (s) => {
      const conditions = [...(s.conditions as Array<Mutable>)]
      const i = Math.floor(random() * conditions.length)
      conditions[i] = {
        ...conditions[i],
        [pickOne(["status", "reason", "lastTransitionTime"])]: pickOne(["True", "False", T1, "Other"])
      }
      return { ...s, conditions }
    },
    (s) => ({ ...s, backends: (s.backends as Array<Mutable>).slice(1) })
  ]

  it("on 2 000 generated pairs, including reordered lists and unknown keys", () => {
    let equivalent = 0
    for (let n = 0; n < 2_000; n++) {
      let a = base as unknown as Mutable
      let b = base as unknown as Mutable
      for (let k = Math.floor(random() * 4); k > 0; k--) a = pickOne(mutations)(a)
      for (let k = Math.floor(random() * 4); k > 0; k--) b = pickOne(mutations)(b)
      const x = a as unknown as RuntimeStatus
      const y = b as unknown as RuntimeStatus
      const expected = fingerprint(x) === fingerprint(y)
      if (expected) equivalent++
      expect(isEquivalent(x, y)).toBe(expected)
    }
    // Both outcomes occur often enough for the agreement to mean something.
    expect(equivalent).toBeGreaterThan(200)
    expect(equivalent).toBeLessThan(1_800)
  })
})
