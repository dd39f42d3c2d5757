import { startMcpBackend } from "@vmcp-status/testkit"
import { Effect, Exit, Scope, Stream } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { makeBackendConnection } from "../src/BackendConnection.ts"
import { decodeConfig } from "../src/Config.ts"
import { makeGateway } from "../src/Gateway.ts"
import { type StatusRuntime, startStatus } from "../src/Status.ts"

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

/** Resolves when the gateway's tool table next changes. */
const nextToolsChange = (gateway: { onToolsChanged: (() => void) | undefined }) =>
  new Promise<void>((resolve) => {
    gateway.onToolsChanged = () => {
      gateway.onToolsChanged = undefined
      resolve()
    }
  })

const start = async (backendUrl: string, headers: Record<string, string> = {}, waitForTools = true) => {
  const config = Effect.runSync(
    decodeConfig(
      {
        health: { interval: "200ms", timeout: "2s", slowThreshold: "1s" },
        backends: [{ name: "web", transport: "streamable-http", url: backendUrl, headers }]
      },
      "test"
    )
  )
  const gateway = makeGateway(
    config,
    config.backends.map((b) => makeBackendConnection(b))
  )
  cleanups.push(() => gateway.close())
  const scope = Effect.runSync(Scope.make())
  cleanups.push(() => Effect.runPromise(Scope.close(scope, Exit.void)))
  const firstTools = nextToolsChange(gateway)
  const status: StatusRuntime = await Effect.runPromise(
    Scope.provide(startStatus({ config, gateway, reporters: [] }), scope)
  )
  if (waitForTools) await firstTools
  return { gateway, status }
}

describe("the status pipeline (health → gateway → publisher)", () => {
  it("discovers a backend's tools on its first probe and makes it routable", async () => {
    const web = await startMcpBackend({ tools: [{ name: "search" }] })
    cleanups.push(() => web.close())
    const { gateway, status } = await start(web.url)
    expect(gateway.tools().map((t) => t.name)).toEqual(["web_search"])
    expect(status.current()?.backends[0]).toMatchObject({ name: "web", health: "healthy", toolCount: 1 })
  })

  it("follows the backend's tools/list_changed: a new tool is offered at once", async () => {
    const web = await startMcpBackend({ tools: [{ name: "search" }] })
    cleanups.push(() => web.close())
    const { gateway } = await start(web.url)
    const changed = nextToolsChange(gateway)
    await web.addTool({ name: "fetch" })
    await changed
    expect(gateway.tools().map((t) => t.name)).toEqual(["web_fetch", "web_search"])
  })

  it("a burst of tools/list_changed ends with the backend's last tool set", async () => {
    const web = await startMcpBackend({ tools: [{ name: "search" }] })
    cleanups.push(() => web.close())
    const { gateway } = await start(web.url)
    const names = ["a", "b", "c", "d", "e"]
    await Promise.all(names.map((name) => web.addTool({ name })))
    const want = ["web_a", "web_b", "web_c", "web_d", "web_e", "web_search"]
    while (JSON.stringify(gateway.tools().map((t) => t.name)) !== JSON.stringify(want))
      await nextToolsChange(gateway)
    expect(gateway.tools().map((t) => t.name)).toEqual(want)
  })

  it("a backend that rejects the configured credentials is unauthenticated, and its tools are hidden", async () => {
    const web = await startMcpBackend({ mode: { kind: "auth", token: "right" } })
    cleanups.push(() => web.close())
    const { gateway, status } = await start(web.url, { Authorization: "Bearer not-the-t0ken" }, false)
    const snapshot = await Effect.runPromise(
      status.checker.changes.pipe(
        Stream.filter((s) => s.backends[0]?.health === "unauthenticated"),
        Stream.runHead
      )
    )
    expect(snapshot._tag).toBe("Some")
    expect(JSON.stringify(status.current())).not.toContain("not-the-t0ken")
    expect(gateway.tools()).toEqual([])
  })

  it("a rate-limited backend is degraded, not down: its tools stay", async () => {
    const web = await startMcpBackend({ tools: [{ name: "search" }] })
    cleanups.push(() => web.close())
    const { gateway, status } = await start(web.url)
    await web.setMode({ kind: "rate-limited", retryAfterSeconds: 1 })
    await Effect.runPromise(
      status.checker.changes.pipe(
        Stream.filter((s) => s.backends[0]?.health === "degraded"),
        Stream.runHead
      )
    )
    expect(gateway.tools().map((t) => t.name)).toEqual(["web_search"])
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
