/**
 * The feed behind `/`, `/status/stream` and `history`: fed by the real status pipeline (a real
 * MCP backend, the health checker, the publisher) before any reporter, so a reporter that fails
 * every report costs the history nothing.
 */
import { Reporter, ReporterError } from "@vmcp-status/core"
import { eventually, startMcpBackend } from "@vmcp-status/testkit"
import { Effect, Exit, Scope } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { decodeConfig } from "../src/Config.ts"
import { makeBackendConnection } from "../src/gateway/BackendConnection.ts"
import { makeStatusFeed } from "../src/status/StatusFeed.ts"
import { wire } from "./wiring.ts"

const cleanups: Array<() => Promise<unknown> | unknown> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

describe("the status feed", () => {
  it("keeps the history while the only reporter fails every report", async () => {
    const web = await startMcpBackend()
    cleanups.push(() => web.close())
    const config = Effect.runSync(
      decodeConfig(
        {
          health: {
            interval: "200ms",
            timeout: "20s",
            slowThreshold: "10s",
            unhealthyThreshold: 1,
            circuitBreaker: { openDuration: "1s", maxOpenDuration: "2s" }
          },
          backends: [{ name: "web", transport: "streamable-http", url: web.url }]
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
    cleanups.push(() => wired.gateway.close())
    let attempts = 0
    const broken = Reporter.make("broken", () =>
      Effect.suspend(() => {
        attempts++
        return Effect.fail(new ReporterError({ reporter: "broken", message: "the API server is away" }))
      })
    )
    const feed = makeStatusFeed()
    await wired.startStatus({ reporters: [broken], feed })

    const health = () => feed.history().backends.get("web")
    await eventually("web healthy in the history", () => (health()?.health === "healthy" ? true : undefined))
    await web.setMode("down")
    await eventually("web unhealthy in the history", () =>
      health()?.health === "unhealthy" ? true : undefined
    )
    await web.setMode("up")
    await eventually("web healthy again", () => (health()?.health === "healthy" ? true : undefined))

    expect(attempts).toBeGreaterThan(0)
    const summary = feed.summary(Date.now()).find((b) => b.name === "web")
    expect(summary?.transitions.map((t) => t.to)).toEqual(expect.arrayContaining(["healthy", "unhealthy"]))
    expect(summary?.lastFailureReason).toMatch(/ECONNREFUSED|connection/)
    expect(summary?.healthySince).toBeDefined()
    expect(feed.current()?.backends[0]?.health).toBe("healthy")
  })
})
