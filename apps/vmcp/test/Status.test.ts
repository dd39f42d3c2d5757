import type { RuntimeStatus } from "@vmcp-status/core"
import { startMcpBackend } from "@vmcp-status/testkit"
import { Effect, Exit, Scope, Stream } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { decodeConfig } from "../src/Config.ts"
import { makeBackendConnection } from "../src/gateway/BackendConnection.ts"
import type { StatusRuntime } from "../src/status/Status.ts"
import { recorder, wire } from "./wiring.ts"

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

const backendOf = (status: RuntimeStatus, name: string) => status.backends.find((b) => b.name === name)

/** What the status says about tools: each backend's count and the routable total. */
const toolCounts = (status: RuntimeStatus | undefined) =>
  status === undefined
    ? undefined
    : {
        ...Object.fromEntries(status.backends.map((b) => [b.name, b.toolCount])),
        total: status.totalToolCount
      }

interface TestBackend {
  readonly name: string
  readonly url: string
  readonly headers?: Record<string, string>
}

const startAll = async (backends: ReadonlyArray<TestBackend>, waitForTools = true, interval = "200ms") => {
  const config = Effect.runSync(
    decodeConfig(
      {
        health: { interval, timeout: "20s", slowThreshold: "10s" },
        backends: backends.map((b) => ({ transport: "streamable-http", headers: {}, ...b }))
      },
      "test"
    )
  )
  const scope = Effect.runSync(Scope.make())
  cleanups.push(() => Effect.runPromise(Scope.close(scope, Exit.void)))
  const wired = await wire(
    scope,
    config,
    config.backends.map((b) => makeBackendConnection(b))
  )
  const { gateway } = wired
  cleanups.push(() => gateway.close())
  const { reporter, published } = recorder()
  const status: StatusRuntime = await wired.startStatus({ reporters: [reporter] })
  if (waitForTools) await wired.changed("tools", 0)
  return { gateway, status, published, changed: wired.changed }
}

const start = (backendUrl: string, headers: Record<string, string> = {}, waitForTools = true) =>
  startAll([{ name: "web", url: backendUrl, headers }], waitForTools)

describe("the status pipeline (health → gateway → publisher)", () => {
  it("discovers a backend's tools on its first probe and makes it routable", async () => {
    const web = await startMcpBackend({ tools: [{ name: "search" }] })
    cleanups.push(() => web.close())
    const { gateway, status, published } = await start(web.url)
    expect(gateway.tools().map((t) => t.name)).toEqual(["web_search"])
    const healthy = await published((s) => backendOf(s, "web")?.health === "healthy")
    expect(healthy.backends[0]).toMatchObject({ name: "web", health: "healthy", toolCount: 1 })
    expect(healthy.totalToolCount).toBe(1)
    expect(toolCounts(status.current())).toEqual({ web: 1, total: 1 })
  })

  it("the published status counts each backend's tools and the routable total, and follows their changes", async () => {
    const web = await startMcpBackend({ tools: [{ name: "search" }, { name: "fetch" }] })
    cleanups.push(() => web.close())
    const docs = await startMcpBackend({ tools: [{ name: "read" }, { name: "list" }, { name: "grep" }] })
    cleanups.push(() => docs.close())
    const { gateway, status, published } = await startAll([
      { name: "web", url: web.url },
      { name: "docs", url: docs.url }
    ])
    const first = await published((s) => s.backends.every((b) => b.health === "healthy"))
    expect(toolCounts(first)).toEqual({ docs: 3, web: 2, total: 5 })
    expect(toolCounts(status.current())).toEqual({ docs: 3, web: 2, total: 5 })
    // A tool added to docs (tools/list_changed) is counted for docs and in the total.
    await docs.addTool({ name: "write" })
    const added = await published((s) => backendOf(s, "docs")?.toolCount === 4)
    expect(toolCounts(added)).toEqual({ docs: 4, web: 2, total: 6 })
    // A tool removed from web.
    await web.removeTool("fetch")
    const removed = await published((s) => backendOf(s, "web")?.toolCount === 1)
    expect(toolCounts(removed)).toEqual({ docs: 4, web: 1, total: 5 })
    // web goes down: unhealthy, so its tools leave the total (clients cannot call them) while
    // its own count stays the last one discovered.
    await web.setMode("down")
    const down = await published((s) => backendOf(s, "web")?.health === "unhealthy")
    expect(toolCounts(down)).toEqual({ docs: 4, web: 1, total: 4 })
    expect(gateway.tools().map((t) => t.name)).toEqual(["docs_grep", "docs_list", "docs_read", "docs_write"])
  })

  it("follows the backend's tools/list_changed: a new tool is offered at once", async () => {
    const web = await startMcpBackend({ tools: [{ name: "search" }] })
    cleanups.push(() => web.close())
    const { gateway, changed } = await start(web.url)
    const next = changed("tools")
    await web.addTool({ name: "fetch" })
    await next
    expect(gateway.tools().map((t) => t.name)).toEqual(["web_fetch", "web_search"])
  })

  it("a backend's tools/list_changed is counted in the status at once, not at the next probe", async () => {
    const web = await startMcpBackend({ tools: [{ name: "search" }] })
    cleanups.push(() => web.close())
    // Probes an hour apart: only the change itself can update the counts within the test.
    const { published } = await startAll([{ name: "web", url: web.url }], true, "1h")
    await published((s) => backendOf(s, "web")?.toolCount === 1)
    await web.addTool({ name: "fetch" })
    const counted = await published((s) => backendOf(s, "web")?.toolCount === 2)
    expect(toolCounts(counted)).toEqual({ web: 2, total: 2 })
  })

  it("a burst of tools/list_changed ends with the backend's last tool set", async () => {
    const web = await startMcpBackend({ tools: [{ name: "search" }] })
    cleanups.push(() => web.close())
    const { gateway, published, changed } = await start(web.url)
    const names = ["a", "b", "c", "d", "e"]
    await Promise.all(names.map((name) => web.addTool({ name })))
    const want = ["web_a", "web_b", "web_c", "web_d", "web_e", "web_search"]
    while (JSON.stringify(gateway.tools().map((t) => t.name)) !== JSON.stringify(want)) await changed("tools")
    expect(gateway.tools().map((t) => t.name)).toEqual(want)
    // The status counts the last tool set too (at the next probe).
    const counted = await published((s) => (backendOf(s, "web")?.toolCount ?? 0) >= want.length)
    expect(toolCounts(counted)).toEqual({ web: want.length, total: want.length })
  })

  it("a backend that rejects the configured credentials is unauthenticated, and its tools are hidden", async () => {
    const web = await startMcpBackend({ mode: { kind: "auth", token: "right" } })
    cleanups.push(() => web.close())
    const { gateway, status, published } = await start(
      web.url,
      { Authorization: "Bearer not-the-t0ken" },
      false
    )
    const snapshot = await Effect.runPromise(
      status.checker.changes.pipe(
        Stream.filter((s) => s.backends[0]?.health === "unauthenticated"),
        Stream.runHead
      )
    )
    expect(snapshot._tag).toBe("Some")
    const denied = await published((s) => backendOf(s, "web")?.health === "unauthenticated")
    expect(JSON.stringify(denied)).not.toContain("not-the-t0ken")
    expect(toolCounts(denied)).toEqual({ web: 0, total: 0 })
    expect(gateway.tools()).toEqual([])
  })

  it("a rate-limited backend is degraded, not down: its tools stay", async () => {
    const web = await startMcpBackend({ tools: [{ name: "search" }] })
    cleanups.push(() => web.close())
    const { gateway, status, published } = await start(web.url)
    await web.setMode({ kind: "rate-limited", retryAfterSeconds: 1 })
    await Effect.runPromise(
      status.checker.changes.pipe(
        Stream.filter((s) => s.backends[0]?.health === "degraded"),
        Stream.runHead
      )
    )
    expect(gateway.tools().map((t) => t.name)).toEqual(["web_search"])
    // Degraded is routable: its tools still count in the total.
    const degraded = await published((s) => backendOf(s, "web")?.health === "degraded")
    expect(toolCounts(degraded)).toEqual({ web: 1, total: 1 })
  })

  it("finish publishes ShuttingDown as the last status", async () => {
    const web = await startMcpBackend()
    cleanups.push(() => web.close())
    const { status } = await start(web.url)
    await Effect.runPromise(status.finish)
    expect(status.current()?.conditions.find((c) => c.type === "Ready")).toMatchObject({
      status: "False",
      reason: "ShuttingDown"
    })
  })
})
