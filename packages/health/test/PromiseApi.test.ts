import { describe, expect, it } from "@effect/vitest"
import type { RuntimeStatus } from "@vmcp-status/core"
import { startMcpBackend } from "@vmcp-status/testkit"
import { InvalidHealthConfig, startHealthChecks } from "../src/index.ts"

describe("startHealthChecks (Promise API)", () => {
  it("rejects an invalid configuration with InvalidHealthConfig naming the field", async () => {
    const error = await startHealthChecks({
      backends: [{ name: "a", transport: "streamable-http", url: "not a url" }]
    }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(InvalidHealthConfig)
    expect(error).toMatchObject({ field: "backends[0].url" })
  })

  it("publishes statuses, takes new backends, and stops", async () => {
    const fixture = await startMcpBackend({ tools: [{ name: "a" }, { name: "b" }] })
    const statuses: Array<RuntimeStatus> = []
    let notify: () => void = () => undefined
    const next = (predicate: (s: RuntimeStatus) => boolean) =>
      new Promise<RuntimeStatus>((resolve) => {
        const check = () => {
          const found = statuses.find(predicate)
          if (found) resolve(found)
        }
        notify = check
        check()
      })
    try {
      const health = await startHealthChecks({
        backends: [],
        publisher: {
          update: (status) => {
            statuses.push(status)
            notify()
          }
        }
      })
      expect((await next((s) => s.phase === "Ready")).message).toBe("No backends configured")
      await health.setBackends([{ name: "docs", transport: "streamable-http", url: fixture.url }])
      const ready = await next((s) => s.phase === "Ready" && s.totalToolCount === 2)
      expect(ready.message).toBe("All 1 backend healthy, 2 tools")
      expect(health.snapshot().backends.map((b) => b.health)).toEqual(["healthy"])
      await expect(
        health.setBackends([{ name: "", transport: "stdio", command: "x" }])
      ).rejects.toMatchObject({
        _tag: "InvalidHealthConfig",
        field: "backends[0].name"
      })
      await health.stop()
    } finally {
      await fixture.close()
    }
  })
})
