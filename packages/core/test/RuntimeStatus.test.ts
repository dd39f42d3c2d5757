import { describe, expect, it } from "vitest"
import {
  decodeRuntimeStatus,
  deriveStatus,
  findCondition,
  makeRuntimeStatusDecoder,
  type RuntimeStatus,
  shuttingDown
} from "../src/index.ts"
import { backend, seeded, status, T0, T1 } from "./fixtures.ts"

const condition = (s: RuntimeStatus, type: string) => {
  const c = findCondition(s.conditions, type)
  return c === undefined ? undefined : `${c.status}/${c.reason}`
}

describe("deriveStatus", () => {
  const rows: ReadonlyArray<{
    name: string
    backends: Parameters<typeof status>[0]
    round?: boolean
    phase: RuntimeStatus["phase"]
    message: string
    ready: string
    degraded: string
    reconciling: string
    stalled: string
  }> = [
    {
      name: "zero backends",
      backends: [],
      phase: "Ready",
      message: "No backends configured",
      ready: "True/NoBackendsConfigured",
      degraded: "False/NotDegraded",
      reconciling: "False/Reconciled",
      stalled: "False/NotStalled"
    },
    {
      name: "first round pending",
      backends: [backend("a", "unknown"), backend("b", "unknown")],
      round: false,
      phase: "Pending",
      message: "Waiting for the first health round of 2 backends",
      ready: "False/Starting",
      degraded: "False/NotDegraded",
      reconciling: "True/Starting",
      stalled: "False/NotStalled"
    },
    {
      name: "all healthy",
      backends: [backend("a", "healthy"), backend("b", "healthy")],
      phase: "Ready",
      message: "All 2 backends healthy, 6 tools",
      ready: "True/AllBackendsHealthy",
      degraded: "False/NotDegraded",
      reconciling: "False/Reconciled",
      stalled: "False/NotStalled"
    },
    {
      name: "mixed",
      backends: [backend("a", "healthy"), backend("b", "healthy"), backend("c", "unhealthy")],
      phase: "Degraded",
      message: "2/3 backends healthy, 6 tools",
      ready: "False/SomeBackendsUnhealthy",
      degraded: "True/SomeBackendsUnhealthy",
      reconciling: "False/Reconciled",
      stalled: "False/NotStalled"
    },
    {
      name: "unauthenticated beside healthy",
      backends: [backend("a", "healthy"), backend("b", "unauthenticated")],
      phase: "Degraded",
      message: "1/2 backends healthy, 3 tools",
      ready: "False/SomeBackendsUnhealthy",
      degraded: "True/SomeBackendsUnhealthy",
      reconciling: "False/Reconciled",
      stalled: "False/NotStalled"
    },
    {
      name: "none routable",
      backends: [backend("a", "unhealthy"), backend("b", "unauthenticated"), backend("c", "unknown")],
      phase: "Failed",
      message: "No routable backends: 2 unhealthy, 1 unknown",
      ready: "False/NoRoutableBackends",
      degraded: "False/NotDegraded",
      reconciling: "False/Reconciled",
      stalled: "True/NoRoutableBackends"
    },
    {
      name: "unknown beside healthy",
      backends: [backend("a", "healthy"), backend("b", "unknown")],
      phase: "Degraded",
      message: "1/2 backends healthy, 3 tools",
      ready: "False/SomeBackendsUnhealthy",
      degraded: "True/SomeBackendsUnhealthy",
      reconciling: "False/Reconciled",
      stalled: "False/NotStalled"
    }
  ]
  it.each(rows)("$name", (row) => {
    const s = status(row.backends, { initialRoundComplete: row.round ?? true })
    expect(s.phase).toBe(row.phase)
    expect(s.message).toBe(row.message)
    expect(condition(s, "Ready")).toBe(row.ready)
    expect(condition(s, "Degraded")).toBe(row.degraded)
    expect(condition(s, "Reconciling")).toBe(row.reconciling)
    expect(condition(s, "Stalled")).toBe(row.stalled)
    expect(s.healthyBackends + s.degradedBackends + s.unhealthyBackends + s.unknownBackends).toBe(
      s.backends.length
    )
  })

  it("sorts backends by name", () => {
    const s = status([backend("zeta", "healthy"), backend("alpha", "healthy"), backend("mid", "healthy")])
    expect(s.backends.map((b) => b.name)).toEqual(["alpha", "mid", "zeta"])
  })

  it("totals resources, resource templates and prompts of routable backends when backends report them", () => {
    const plain = status([backend("a", "healthy")])
    expect(plain).not.toHaveProperty("totalResourceCount")
    expect(plain).not.toHaveProperty("totalPromptCount")
    const s = status([
      backend("a", "healthy", { resourceCount: 7, resourceTemplateCount: 2, promptCount: 4 }),
      backend("b", "unhealthy", { resourceCount: 1, resourceTemplateCount: 1, promptCount: 1 })
    ])
    expect(s).toMatchObject({ totalResourceCount: 7, totalResourceTemplateCount: 2, totalPromptCount: 4 })
    expect(decodeRuntimeStatus(JSON.parse(JSON.stringify(s)))).toEqual(s)
  })

  it("reports discovery in BackendsDiscovered", () => {
    const before = deriveStatus({ backends: [backend("a", "healthy")], initialRoundComplete: true, now: T0 })
    expect(condition(before, "BackendsDiscovered")).toBe("False/DiscoveryPending")
    const after = status([backend("a", "healthy")])
    expect(findCondition(after.conditions, "BackendsDiscovered")?.message).toBe(
      "Discovered 1 backend with 3 tools"
    )
    expect(after.lastDiscoveryTime).toBe(T0)
  })

  it("keeps lastTransitionTime of conditions whose status did not change", () => {
    const first = status([backend("a", "healthy"), backend("b", "healthy")], { now: T0 })
    const second = status([backend("a", "healthy"), backend("b", "unhealthy")], { now: T1, previous: first })
    expect(findCondition(second.conditions, "Ready")?.lastTransitionTime).toBe(T1)
    expect(findCondition(second.conditions, "Degraded")?.lastTransitionTime).toBe(T1)
    expect(findCondition(second.conditions, "Stalled")?.lastTransitionTime).toBe(T0)
    expect(findCondition(second.conditions, "Reconciling")?.lastTransitionTime).toBe(T0)
  })

  it("marks a server that is not operational as Failed with the reason in the message", () => {
    const s = deriveStatus({
      backends: [backend("a", "healthy")],
      initialRoundComplete: true,
      serverOperational: false,
      serverMessage: "listener closed",
      now: T0
    })
    expect(s.phase).toBe("Failed")
    expect(s.message).toBe("Server not operational: listener closed")
    expect(condition(s, "Stalled")).toBe("True/ServerNotOperational")
  })

  it("derives the shutdown status: Ready=False, ShuttingDown", () => {
    const s = shuttingDown(status([backend("a", "healthy")]), T1)
    expect(s.phase).toBe("Pending")
    expect(condition(s, "Ready")).toBe("False/ShuttingDown")
    expect(condition(s, "Reconciling")).toBe("True/ShuttingDown")
    expect(s.backends).toHaveLength(1)
  })
})

describe("decodeRuntimeStatus", () => {
  it("accepts a derived status", () => {
    const s = status([backend("a", "healthy", { latencyMs: 12, lastCheckTime: T1 })])
    expect(decodeRuntimeStatus(JSON.parse(JSON.stringify(s)))).toEqual(s)
  })
  it.each([
    ["an unknown phase", (s: Record<string, unknown>) => ({ ...s, phase: "Sideways" }), "phase"],
    ["a negative count", (s: Record<string, unknown>) => ({ ...s, healthyBackends: -1 }), "healthyBackends"],
    ["a bad timestamp", (s: Record<string, unknown>) => ({ ...s, observedAt: "yesterday" }), "RFC 3339"],
    [
      "a backend with an unknown health",
      (s: Record<string, unknown>) => ({ ...s, backends: [{ ...backend("a", "healthy"), health: "meh" }] }),
      "health"
    ]
  ])("rejects %s with a message naming it", (_name, mutate, fragment) => {
    const bad = mutate(status([backend("a", "healthy")]) as unknown as Record<string, unknown>)
    expect(() => decodeRuntimeStatus(bad)).toThrow(fragment)
  })
})

describe("makeRuntimeStatusDecoder (decodes only the backends that changed)", () => {
  const json = <A>(value: A): A => JSON.parse(JSON.stringify(value)) as A
  const three = () =>
    json(
      status([
        backend("a", "healthy"),
        backend("b", "unhealthy", { lastExit: { time: T0, signal: "SIGKILL" }, restarts: 2 }),
        backend("c", "degraded")
      ])
    )

  it("gives what decodeRuntimeStatus gives, over a sequence of changes", () => {
    const decode = makeRuntimeStatusDecoder()
    const inputs = [
      three(),
      three(),
      {
        ...three(),
        backends: three().backends.map((b) => (b.name === "b" ? { ...b, health: "healthy" } : b))
      },
      { ...three(), backends: three().backends.slice(1) },
      { ...three(), message: "other" },
      three()
    ]
    for (const input of inputs) expect(decode(input)).toEqual(decodeRuntimeStatus(input))
  })

  it("a backend whose volatile fields alone changed: their new values, checked", () => {
    const decode = makeRuntimeStatusDecoder()
    const probed = (b: Record<string, unknown>) => ({ ...b, lastCheckTime: T1, latencyMs: 12 })
    const first = decode({
      ...three(),
      backends: three().backends.map((b) => ({ ...b, lastCheckTime: T0, latencyMs: 3 }))
    })
    const input = { ...three(), backends: three().backends.map(probed) }
    const second = decode(input)
    expect(second).toEqual(decodeRuntimeStatus(input))
    expect(second.backends.map((b) => [b.lastCheckTime, b.latencyMs])).toEqual([
      [T1, 12],
      [T1, 12],
      [T1, 12]
    ])
    expect(first.backends[0]?.lastCheckTime).toBe(T0)
    expect(() =>
      decode({ ...input, backends: input.backends.map((b) => ({ ...b, latencyMs: -1 })) })
    ).toThrow(/\["backends"\]\[0\]\["latencyMs"\]/)
    expect(() =>
      decode({ ...input, backends: input.backends.map((b) => ({ ...b, lastCheckTime: "yesterday" })) })
    ).toThrow(/lastCheckTime/)
  })

  it("a changed backend gets its new value; a report changed by its receiver changes no later status", () => {
    const decode = makeRuntimeStatusDecoder()
    const first = decode(three())
    ;(first.backends[0] as { health: string }).health = "unhealthy"
    ;(first.backends[1]?.lastExit as { signal?: string }).signal = "SIGTERM"
    const second = decode({
      ...three(),
      backends: three().backends.map((b) => (b.name === "c" ? { ...b, toolCount: 7 } : b))
    })
    expect(second.backends[0]?.health).toBe("healthy")
    expect(second.backends[1]?.lastExit?.signal).toBe("SIGKILL")
    expect(second.backends[2]?.toolCount).toBe(7)
  })

  it("sees a caller's object changed in place, nested fields included", () => {
    const decode = makeRuntimeStatusDecoder()
    const input = three()
    decode(input)
    const b = input.backends[1] as { lastExit: { signal?: string } }
    b.lastExit.signal = "SIGTERM"
    expect(decode(input).backends[1]?.lastExit?.signal).toBe("SIGTERM")
    ;(input.backends[0] as { health: string }).health = "sideways"
    expect(() => decode(input)).toThrow(/\["backends"\]\[0\]\["health"\]/)
  })

  it("strips unknown keys as the full decode does, and refuses a bad top level after a good one", () => {
    const decode = makeRuntimeStatusDecoder()
    const input = three()
    const extra = { ...input, backends: input.backends.map((b) => ({ ...b, extra: 1 })), extra: true }
    expect(decode(extra)).toEqual(decodeRuntimeStatus(extra))
    expect(Object.keys(decode(extra).backends[0] ?? {})).not.toContain("extra")
    expect(() => decode({ ...input, phase: "Sideways" })).toThrow(/phase/)
    expect(() => decode({ ...input, backends: "none" })).toThrow(/backends/)
  })
})

describe("makeRuntimeStatusDecoder agrees with decodeRuntimeStatus on any sequence", () => {
  it("on 1 500 generated statuses in a row: the same result, or both refuse", () => {
    const { random, pickOne } = seeded(7)
    type Mutable = Record<string, unknown>
    const base = JSON.parse(
      JSON.stringify(
        status([
          backend("a", "healthy", { lastCheckTime: T0, latencyMs: 1 }),
          backend("b", "unhealthy", { lastExit: { time: T0, exitCode: 1 } }),
          backend("c", "degraded")
        ])
      )
    ) as Mutable
    const decode = makeRuntimeStatusDecoder()
    let current = base
    let refused = 0
    for (let n = 0; n < 1_500; n++) {
      const backends = [...(current.backends as Array<Mutable>)]
      const i = Math.floor(random() * backends.length)
      const field = pickOne([
        "lastCheckTime",
        "latencyMs",
        "health",
        "toolCount",
        "lastExit",
        "extra",
        "restarts"
      ])
      const value = pickOne<unknown>([
        T1,
        T0,
        "yesterday",
        -1,
        4,
        "healthy",
        "sideways",
        undefined,
        { time: T1, signal: "SIGTERM" }
      ])
      const next = { ...backends[i] }
      if (random() < 0.15) delete next[field]
      else next[field] = value
      backends[i] = next
      // Now and then back to a valid state, so that valid and refused inputs both occur.
      current = random() < 0.3 ? base : { ...current, backends }
      let expected: unknown
      try {
        expected = decodeRuntimeStatus(current)
      } catch {
        refused++
        expect(() => decode(current)).toThrow()
        continue
      }
      expect(decode(current)).toEqual(expected)
    }
    expect(refused).toBeGreaterThan(100)
    expect(refused).toBeLessThan(1_400)
  })
})
