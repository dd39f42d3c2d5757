import { backendReport, deriveStatus } from "@vmcp-status/core"
import { describe, expect, it } from "vitest"
import {
  formatFleet,
  formatView,
  meets,
  type Paint,
  parseWaitTarget,
  type StatusView,
  viewOfCustomResource,
  viewOfRuntimeStatus
} from "../src/index.ts"

const T = "2026-11-25T18:00:00Z"
const same = (s: string) => s
const plain: Paint = { bold: same, red: same, green: same, yellow: same, dim: same }

const status = (health: { readonly web: "healthy" | "unhealthy"; readonly db: "healthy" | "degraded" }) =>
  deriveStatus({
    backends: [
      backendReport({ name: "db", health: health.db, lastTransitionTime: T, toolCount: 2 }),
      backendReport({
        name: "web",
        health: health.web,
        lastTransitionTime: T,
        toolCount: 1,
        message: "refused"
      })
    ],
    initialRoundComplete: true,
    now: T
  })

const object = (phase: string | undefined, backends: ReadonlyArray<Record<string, unknown>> = []) => ({
  metadata: { name: "vmcp", namespace: "tools" },
  ...(phase === undefined
    ? {}
    : {
        status: {
          phase,
          message: `${phase} message`,
          totalToolCount: 3,
          discoveredBackends: backends,
          conditions: [
            { type: "Ready", status: phase === "Ready" ? "True" : "False", reason: "R", message: "m" }
          ]
        }
      })
})

describe("parseWaitTarget", () => {
  it.each([
    ["ready", { _tag: "ready" }],
    ["healthy", { _tag: "healthy" }],
    ["backend=web", { _tag: "backend", name: "web" }]
  ] as const)("%s", (input, expected) => {
    expect(parseWaitTarget(input)).toEqual(expected)
  })

  it("names the accepted values for anything else", () => {
    expect(parseWaitTarget("up")).toBe('--for must be ready, healthy or backend=<name>, got "up"')
    expect(typeof parseWaitTarget("backend=")).toBe("string")
  })
})

describe("meets", () => {
  const view = (web: "healthy" | "unhealthy", db: "healthy" | "degraded") =>
    viewOfRuntimeStatus("u", status({ web, db }))

  it.each([
    { target: "ready", web: "healthy", db: "healthy", met: true },
    { target: "ready", web: "healthy", db: "degraded", met: false },
    { target: "healthy", web: "healthy", db: "healthy", met: true },
    { target: "healthy", web: "unhealthy", db: "healthy", met: false },
    { target: "backend=db", web: "unhealthy", db: "healthy", met: true },
    { target: "backend=web", web: "unhealthy", db: "healthy", met: false },
    { target: "backend=missing", web: "healthy", db: "healthy", met: false }
  ] as const)("$target with web $web and db $db: $met", ({ target, web, db, met }) => {
    const parsed = parseWaitTarget(target)
    if (typeof parsed === "string") throw new Error(parsed)
    expect(meets(view(web, db), parsed)).toBe(met)
  })
})

describe("viewOfCustomResource", () => {
  it("maps toolhive's backend statuses back to our health", () => {
    const view = viewOfCustomResource(
      object("Degraded", [
        { name: "a", status: "ready", circuitBreakerState: "closed", consecutiveFailures: 0 },
        {
          name: "b",
          status: "unavailable",
          message: "refused",
          circuitBreakerState: "open",
          consecutiveFailures: 5
        },
        { name: "c", status: "something-new" }
      ])
    )
    expect(view.source).toBe("tools/vmcp")
    expect(view.phase).toBe("Degraded")
    expect(view.totalToolCount).toBe(3)
    expect(view.backends.map((b) => [b.name, b.health, b.circuit, b.consecutiveFailures])).toEqual([
      ["a", "healthy", "closed", 0],
      ["b", "unhealthy", "open", 5],
      ["c", "unknown", undefined, undefined]
    ])
  })

  it("has no phase when the object has no status yet", () => {
    expect(viewOfCustomResource(object(undefined)).phase).toBeUndefined()
  })
})

describe("formatView", () => {
  const view = viewOfRuntimeStatus("u", status({ web: "unhealthy", db: "healthy" }))

  it("text: phase and message, a line per backend, the conditions", () => {
    const text = formatView(view, "text", plain)
    expect(text.split("\n")[0]).toMatch(/^Degraded {2}/)
    expect(text).toMatch(/ {2}web +unhealthy +1 tool +refused/)
    expect(text).toMatch(/ {2}db +healthy +2 tools/)
    expect(text).toContain("conditions: Ready=")
  })

  it("wide adds circuit, failures, latency, healthy-since and availability columns", () => {
    const withHistory = viewOfRuntimeStatus("u", status({ web: "unhealthy", db: "healthy" }), {
      ...status({ web: "unhealthy", db: "healthy" }),
      history: [{ name: "db", healthySince: "2026-11-25T17:00:00Z", availability: { "1h": 0.5 } }]
    })
    const wide = formatView(withHistory, "wide", plain, Date.parse(T))
    expect(wide).toMatch(/db +healthy +2 tools +closed +0 +- +up 60m +50\.0%/)
    expect(wide).toMatch(/web +unhealthy +1 tool +closed +0 +- +up - +- +refused/)
  })

  it("json and yaml print what the source returned", () => {
    expect(JSON.parse(formatView(view, "json", plain))).toEqual(view.raw)
    expect(formatView(view, "yaml", plain)).toMatch(/^phase: Degraded$/m)
  })
})

describe("formatFleet", () => {
  it("one line per object with healthy/total backends", () => {
    const views: ReadonlyArray<StatusView> = [
      viewOfCustomResource(object("Ready", [{ name: "a", status: "ready" }])),
      { ...viewOfCustomResource(object(undefined)), source: "other/empty" }
    ]
    expect(formatFleet(views, plain).split("\n")).toEqual([
      "NAMESPACE  NAME   PHASE  HEALTHY  TOOLS  MESSAGE",
      "tools      vmcp   Ready  1/1      3      Ready message",
      "other      empty  -      0/0      -"
    ])
  })
})
