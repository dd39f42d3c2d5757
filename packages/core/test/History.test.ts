import { describe, expect, it } from "vitest"
import {
  availability,
  type BackendHealth,
  emptyHistory,
  fingerprint,
  type History,
  HistoryDefaults,
  recordStatus,
  summarizeHistory,
  withHistoryFields
} from "../src/index.ts"
import { backend, status } from "./fixtures.ts"

const BASE = Date.parse("2026-11-25T18:00:00Z")
const MIN = 60_000
const at = (minutes: number) => new Date(BASE + minutes * MIN).toISOString().replace(".000Z", "Z")

/** Feeds `[minute, health]` steps for backend `a` into a history, one status per step. */
const feed = (steps: ReadonlyArray<readonly [number, BackendHealth]>, history: History = emptyHistory()) =>
  steps.reduce(
    (h, [minute, health]) =>
      recordStatus(
        h,
        status([backend("a", health, { lastTransitionTime: at(minute) })], { now: at(minute) })
      ),
    history
  )

const a = (history: History) => {
  const found = history.backends.get("a")
  if (found === undefined) throw new Error("backend a not in history")
  return found
}

describe("recordStatus", () => {
  it("records a transition per health change, stamped with the report's lastTransitionTime", () => {
    const h = feed([
      [0, "unknown"],
      [1, "healthy"],
      [5, "unhealthy"],
      [7, "healthy"]
    ])
    expect(a(h).transitions.map((t) => [t.time, t.from, t.to])).toEqual([
      [at(0), undefined, "unknown"],
      [at(1), "unknown", "healthy"],
      [at(5), "healthy", "unhealthy"],
      [at(7), "unhealthy", "healthy"]
    ])
    expect(a(h).transitions[2]?.reason).toBe("unhealthy probe")
  })

  it("returns the same history when no backend's health changed", () => {
    const h = feed([[0, "healthy"]])
    const again = recordStatus(h, status([backend("a", "healthy", { message: "new text", toolCount: 9 })]))
    expect(again).toBe(h)
  })

  it("keeps only the last `limit` transitions", () => {
    const steps = Array.from({ length: 30 }, (_, i) => [i, i % 2 === 0 ? "healthy" : "unhealthy"] as const)
    const h = feed(steps, emptyHistory({ limit: 5 }))
    expect(a(h).transitions).toHaveLength(5)
    expect(a(h).transitions.at(-1)?.time).toBe(at(29))
    expect(a(h).transitions[0]?.time).toBe(at(25))
  })

  it("forgets backends that left the status", () => {
    const h = feed([[0, "healthy"]])
    const next = recordStatus(h, status([backend("b", "healthy")]))
    expect([...next.backends.keys()]).toEqual(["b"])
  })

  it.each([
    {
      name: "healthy now: healthySince is when it last became healthy",
      steps: [
        [0, "healthy"],
        [3, "unhealthy"],
        [4, "healthy"]
      ],
      healthySince: at(4),
      lastFailureTime: at(3),
      lastFailureReason: "unhealthy probe"
    },
    {
      name: "healthy to degraded and back: healthySince restarts",
      steps: [
        [0, "healthy"],
        [2, "degraded"],
        [6, "healthy"]
      ],
      healthySince: at(6),
      lastFailureTime: undefined,
      lastFailureReason: undefined
    },
    {
      name: "unhealthy now: no healthySince, the failure is the current one",
      steps: [
        [0, "healthy"],
        [9, "unauthenticated"]
      ],
      healthySince: undefined,
      lastFailureTime: at(9),
      lastFailureReason: "unauthenticated probe"
    },
    {
      name: "unknown is not a failure",
      steps: [
        [0, "unknown"],
        [1, "healthy"],
        [2, "unknown"]
      ],
      healthySince: undefined,
      lastFailureTime: undefined,
      lastFailureReason: undefined
    }
  ] as const)("$name", ({ steps, healthySince, lastFailureTime, lastFailureReason }) => {
    const h = a(feed(steps))
    expect(h.healthySince).toBe(healthySince)
    expect(h.lastFailureTime).toBe(lastFailureTime)
    expect(h.lastFailureReason).toBe(lastFailureReason)
  })
})

describe("availability", () => {
  it.each([
    { name: "up the whole hour", steps: [[0, "healthy"]], now: 60, window: 60, expected: 1 },
    {
      name: "down the last quarter",
      steps: [
        [0, "healthy"],
        [45, "unhealthy"]
      ],
      now: 60,
      window: 60,
      expected: 0.75
    },
    {
      name: "degraded counts as routable",
      steps: [
        [0, "degraded"],
        [30, "unhealthy"]
      ],
      now: 60,
      window: 60,
      expected: 0.5
    },
    {
      name: "only the observed part of the window counts",
      steps: [
        [50, "healthy"],
        [55, "unhealthy"]
      ],
      now: 60,
      window: 60,
      expected: 0.5
    },
    {
      name: "unknown time counts neither way",
      steps: [
        [0, "unknown"],
        [40, "healthy"],
        [50, "unhealthy"]
      ],
      now: 60,
      window: 60,
      expected: 0.5
    },
    {
      name: "changes before the window count from the window's start",
      steps: [
        [0, "unhealthy"],
        [90, "healthy"]
      ],
      now: 120,
      window: 60,
      expected: 0.5
    },
    {
      name: "a day window over an hour-long outage",
      steps: [
        [0, "healthy"],
        [60, "unhealthy"],
        [120, "healthy"]
      ],
      now: 1440,
      window: 1440,
      expected: 23 / 24
    }
  ] as const)("$name", ({ steps, now, window, expected }) => {
    expect(availability(a(feed(steps)), BASE + now * MIN, window * MIN)).toBeCloseTo(expected, 10)
  })

  it("is undefined when no time of the window had a known health", () => {
    expect(availability(a(feed([[0, "unknown"]])), BASE + 60 * MIN, 60 * MIN)).toBeUndefined()
    expect(availability(a(feed([[0, "healthy"]])), BASE, 60 * MIN)).toBeUndefined()
  })

  it("keeps at most `availabilityPoints` changes; dropped time counts neither way", () => {
    const steps = Array.from({ length: 100 }, (_, i) => [i, i % 2 === 0 ? "healthy" : "unhealthy"] as const)
    const h = a(feed(steps, emptyHistory({ availabilityPoints: 10 })))
    expect(h.points).toHaveLength(10)
    // Minutes 90..99 remain, alternating up and down: half of the known time was up.
    expect(availability(h, BASE + 100 * MIN, 60 * MIN)).toBeCloseTo(0.5, 10)
  })

  it("merges health changes that keep routability (healthy to degraded) into one point", () => {
    const h = a(
      feed([
        [0, "healthy"],
        [1, "degraded"],
        [2, "healthy"]
      ])
    )
    expect(h.points).toHaveLength(1)
    expect(h.transitions).toHaveLength(3)
  })
})

describe("summarizeHistory", () => {
  it("gives each backend, by name, its fields and both windows", () => {
    let h = feed([
      [0, "healthy"],
      [45, "unhealthy"]
    ])
    h = recordStatus(
      h,
      status(
        [
          backend("a", "unhealthy", { lastTransitionTime: at(45) }),
          backend("0-first", "unknown", { lastTransitionTime: at(50) })
        ],
        { now: at(50) }
      )
    )
    const summary = summarizeHistory(h, BASE + 60 * MIN)
    expect(summary.map((s) => s.name)).toEqual(["0-first", "a"])
    expect(summary[0]?.availability).toEqual({})
    expect(summary[1]).toMatchObject({
      lastFailureTime: at(45),
      lastFailureReason: "unhealthy probe",
      availability: { "1h": 0.75, "24h": 0.75 }
    })
    expect(summary[1]).not.toHaveProperty("healthySince")
  })

  it("uses the documented default windows", () => {
    expect(HistoryDefaults.windows).toEqual({ "1h": 3_600_000, "24h": 86_400_000 })
  })
})

describe("withHistoryFields", () => {
  it("puts each backend's healthy-since and last failure on its report, and nothing for unknown backends", () => {
    const h = feed([
      [0, "healthy"],
      [3, "unhealthy"],
      [4, "healthy"]
    ])
    const decorated = withHistoryFields(
      status([backend("a", "healthy", { lastTransitionTime: at(4) }), backend("b", "healthy")]),
      h
    )
    expect(decorated.backends.find((b) => b.name === "a")).toMatchObject({
      healthySince: at(4),
      lastFailureTime: at(3),
      lastFailureReason: "unhealthy probe"
    })
    expect(decorated.backends.find((b) => b.name === "b")).not.toHaveProperty("healthySince")
  })

  it("changes the fingerprint only when health changes", () => {
    let h = feed([[0, "healthy"]])
    const first = withHistoryFields(status([backend("a", "healthy")], { now: at(1) }), h)
    h = recordStatus(h, status([backend("a", "healthy", { message: "still fine" })], { now: at(2) }))
    const second = withHistoryFields(status([backend("a", "healthy")], { now: at(1) }), h)
    expect(fingerprint(second)).toBe(fingerprint(first))
  })
})
