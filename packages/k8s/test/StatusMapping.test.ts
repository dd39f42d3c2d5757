import { describe, expect, it } from "vitest"
import { backendStatusOf, toStatusPayload } from "../src/index.ts"
import { backend, status, T0, T1 } from "./fixtures.ts"

describe("toStatusPayload", () => {
  const degraded = status([
    backend("github", "healthy", { url: "https://u:p@gh.local/mcp?token=t" }),
    backend("jira", "unhealthy"),
    backend("slack", "unauthenticated"),
    backend("wiki", "degraded", { latencyMs: 6000, lastCheckTime: T1 })
  ])

  it("writes our resource, template and prompt totals when the status has them, never per backend", () => {
    expect(toStatusPayload(degraded, { mode: "full" })).not.toHaveProperty("totalPromptCount")
    const counted = status([
      backend("docs", "healthy", { resourceCount: 7, resourceTemplateCount: 2, promptCount: 4 }),
      backend("wiki", "unhealthy", { resourceCount: 1, resourceTemplateCount: 0, promptCount: 3 })
    ])
    const payload = toStatusPayload(counted, { mode: "runtime" })
    expect(payload).toMatchObject({
      totalResourceCount: 7,
      totalResourceTemplateCount: 2,
      totalPromptCount: 4
    })
    expect(JSON.stringify(payload.discoveredBackends)).not.toMatch(/Count/)
  })

  it("maps to toolhive's field names and ours in full mode", () => {
    const payload = toStatusPayload(degraded, { mode: "full" })
    expect(payload).toMatchObject({
      phase: "Degraded",
      message: "1/4 backends healthy, 8 tools",
      backendCount: 2,
      totalToolCount: 8,
      healthyBackends: 1,
      degradedBackends: 1,
      unhealthyBackends: 2,
      unknownBackends: 0,
      lastDiscoveryTime: T0
    })
    expect(payload.discoveredBackends).toEqual([
      { name: "github", status: "ready", circuitBreakerState: "closed", consecutiveFailures: 0 },
      {
        name: "jira",
        status: "unavailable",
        message: "connection refused",
        circuitBreakerState: "open",
        consecutiveFailures: 3
      },
      {
        name: "slack",
        status: "unauthenticated",
        message: "connection refused",
        circuitBreakerState: "closed",
        consecutiveFailures: 0
      },
      {
        name: "wiki",
        status: "degraded",
        message: "connection refused",
        circuitBreakerState: "closed",
        consecutiveFailures: 0
      }
    ])
    expect(payload.conditions.map((c) => c.type)).toEqual([
      "BackendsDiscovered",
      "Degraded",
      "Ready",
      "Reconciling",
      "Stalled"
    ])
  })

  it("owns only backends, counts and runtime conditions in runtime mode", () => {
    const payload = toStatusPayload(degraded, { mode: "runtime" })
    expect(payload.phase).toBeUndefined()
    expect(payload.message).toBeUndefined()
    expect(payload.conditions.map((c) => c.type)).toEqual(["BackendsDiscovered", "Degraded"])
  })

  it("writes our restart fields beside toolhive's: the count and the last exit, stderr redacted and capped", () => {
    const restarted = status([
      backend("files", "healthy", {
        restarts: 3,
        lastExit: { time: T1, exitCode: 1, stderr: "401 with Authorization: Bearer abc.def.ghi" }
      }),
      backend("noisy", "healthy", {
        restarts: 1,
        lastExit: { time: T1, signal: "SIGKILL", stderr: "x".repeat(2_000) }
      })
    ])
    const [files, noisy] = toStatusPayload(restarted, { mode: "runtime" }).discoveredBackends
    expect(files).toMatchObject({ name: "files", restarts: 3, lastExit: { time: T1, exitCode: 1 } })
    expect(files?.lastExit?.stderr).toMatch(/^401 with Authorization/)
    expect(files?.lastExit?.stderr).not.toContain("abc.def.ghi")
    expect(noisy).toMatchObject({ restarts: 1, lastExit: { signal: "SIGKILL" } })
    expect(noisy?.lastExit?.stderr?.length).toBeLessThanOrEqual(512)
    // A backend never restarted carries neither field: nothing changes in steady state.
    expect(toStatusPayload(degraded, { mode: "full" }).discoveredBackends[0]).not.toHaveProperty("restarts")
  })

  it("writes our history fields: healthy since, and the last failure's time and reason, redacted and capped", () => {
    const withHistory = status([
      backend("up", "healthy", {
        healthySince: T1,
        lastFailureTime: T0,
        lastFailureReason: "token=abc123 refused"
      }),
      backend("down", "unhealthy", { lastFailureTime: T1, lastFailureReason: "y".repeat(2_000) })
    ])
    const byName = new Map(
      toStatusPayload(withHistory, { mode: "runtime" }).discoveredBackends.map((b) => [b.name, b])
    )
    expect(byName.get("up")).toMatchObject({ healthySince: T1, lastFailureTime: T0 })
    expect(byName.get("up")?.lastFailureReason).not.toContain("abc123")
    expect(byName.get("down")).not.toHaveProperty("healthySince")
    expect(byName.get("down")?.lastFailureReason?.length).toBeLessThanOrEqual(512)
    expect(toStatusPayload(degraded, { mode: "full" }).discoveredBackends[0]).not.toHaveProperty(
      "lastFailureTime"
    )
  })

  it("never writes URLs unless asked, and then redacted", () => {
    expect(JSON.stringify(toStatusPayload(degraded, { mode: "full" }))).not.toContain("gh.local")
    const withUrls = toStatusPayload(degraded, { mode: "full", includeUrls: true })
    expect(withUrls.discoveredBackends[0]?.url).toBe("https://REDACTED@gh.local/mcp?token=REDACTED")
  })

  it("leaves volatile fields out", () => {
    expect(JSON.stringify(toStatusPayload(degraded, { mode: "full" }))).not.toMatch(
      /latency|lastCheck|observedAt|6000/
    )
  })

  it("keeps the existing lastTransitionTime of a condition whose status did not change", () => {
    const later = status(degraded.backends, { now: T1 })
    const existing = toStatusPayload(degraded, { mode: "full" }).conditions
    const payload = toStatusPayload(later, { mode: "full", existingConditions: existing })
    expect(payload.conditions.every((c) => c.lastTransitionTime === T0)).toBe(true)
  })

  it.each(Object.entries(backendStatusOf))("maps health %s to %s", (health, expected) => {
    const payload = toStatusPayload(status([backend("a", health as keyof typeof backendStatusOf)]), {
      mode: "full"
    })
    expect(payload.discoveredBackends[0]?.status).toBe(expected)
  })

  it("truncates an oversized status with a marker, keeping the counts of every backend", () => {
    const many = status(
      Array.from({ length: 1000 }, (_, i) =>
        backend(`backend-${String(i).padStart(4, "0")}`, i % 2 === 0 ? "healthy" : "unhealthy", {
          message: "x".repeat(400)
        })
      )
    )
    const payload = toStatusPayload(many, { mode: "full", maxBytes: 100_000 })
    expect(Buffer.byteLength(JSON.stringify(payload))).toBeLessThanOrEqual(100_000)
    expect(payload.discoveredBackends.length).toBeGreaterThan(100)
    expect(payload.discoveredBackends.length).toBeLessThan(1000)
    expect(payload.healthyBackends + payload.unhealthyBackends).toBe(1000)
    const marker = `status truncated: ${payload.discoveredBackends.length} of 1000 backends listed`
    expect(payload.message).toContain(marker)
    expect(payload.conditions.find((c) => c.type === "BackendsDiscovered")?.message).toContain(marker)
  })

  it("fits 1 000 backends with real messages under the default bound without truncating", () => {
    const many = status(Array.from({ length: 1000 }, (_, i) => backend(`backend-${i}`, "unhealthy")))
    const payload = toStatusPayload(many, { mode: "full" })
    expect(payload.discoveredBackends).toHaveLength(1000)
    expect(Buffer.byteLength(JSON.stringify(payload))).toBeLessThan(1024 * 1024)
  })
})
