import { dirname } from "node:path"
import { fileURLToPath } from "node:url"
import { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { loadVmcpConfig } from "../src/Config.ts"
import { type BackendConnection, makeBackendConnection } from "../src/gateway/BackendConnection.ts"

const file = fileURLToPath(new URL("../examples/vmcp.yaml", import.meta.url))
const opened: Array<BackendConnection> = []
afterEach(async () => {
  for (const c of opened.splice(0)) await c.close()
})

const connect = (name: string, env: Record<string, string> = {}) => {
  const config = Effect.runSync(loadVmcpConfig(file))
  const backend = config.backends.find((b) => b.name === name)!
  const connection = makeBackendConnection(
    { ...backend, env: { ...backend.env, ...env } },
    { baseDir: dirname(file) }
  )
  opened.push(connection)
  return connection
}

const text = (result: { content: ReadonlyArray<unknown> }) => (result.content[0] as { text: string }).text

describe("the embedded default (examples/)", () => {
  it("validates: the config `pnpm start` runs", () => {
    const config = Effect.runSync(loadVmcpConfig(file))
    expect(config.backends.map((b) => `${b.name}:${b.transport}`)).toEqual([
      "clock:stdio",
      "echo:stdio",
      "flaky:stdio"
    ])
  })

  it("clock and echo answer over stdio", async () => {
    const clock = connect("clock")
    expect((await clock.listTools({ timeoutMs: 10_000 })).map((t) => t.name)).toEqual(["now", "unix"])
    expect(
      Number.isNaN(Date.parse(text(await clock.callTool("now", undefined, { timeoutMs: 10_000 }))))
    ).toBe(false)
    const echo = connect("echo")
    expect(text(await echo.callTool("shout", { text: "hi" }, { timeoutMs: 10_000 }))).toBe("HI")
  })

  it("flaky goes down when its break tool is called: every request fails until it comes back", async () => {
    const flaky = connect("flaky", { FLAKY_UP_SECONDS: "0", FLAKY_DOWN_SECONDS: "600" })
    await flaky.ping({ timeoutMs: 10_000 })
    expect(text(await flaky.callTool("break", undefined, { timeoutMs: 10_000 }))).toBe(
      "flaky is going down for 600 s"
    )
    await expect(flaky.ping({ timeoutMs: 10_000 })).rejects.toThrow("flaky is down")
  })
})
