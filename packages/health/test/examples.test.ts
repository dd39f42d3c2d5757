import { readFileSync } from "node:fs"
import { assert, describe, it } from "@effect/vitest"
import { McpBackend, startMcpBackend, stdioBackendCommand } from "@vmcp-status/testkit"
import { Effect } from "effect"
import { checkAndLog } from "../examples/effect.ts"
import { watchBackends } from "../examples/promise.ts"
import { backendOf, round, untilSnapshot } from "./fixtures.ts"

describe("README examples", () => {
  it("Promise form: prints Pending, then Ready once both backends answered, then Shutting down on stop", async () => {
    const github = await startMcpBackend({ tools: [{ name: "search" }, { name: "issues" }] })
    const jira = await startMcpBackend({ tools: [{ name: "tickets" }] })
    const lines: Array<string> = []
    let ready: () => void = () => undefined
    const isReady = new Promise<void>((resolve) => {
      ready = resolve
    })
    try {
      const watcher = await watchBackends({ github: github.url, jira: jira.url }, (line) => {
        lines.push(line)
        if (line.startsWith("Ready")) ready()
      })
      await isReady
      assert.strictEqual(lines.at(-1), "Ready: All 2 backends healthy, 3 tools")
      await watcher.stop()
      assert.strictEqual(lines[0], "Pending: Waiting for the first health round of 2 backends")
      // stop hands the reporter the final status the publisher derived.
      assert.strictEqual(lines.at(-1), "Pending: Shutting down")
    } finally {
      await Promise.all([github.close(), jira.close()])
    }
  })

  it.effect("Effect form: publishes the health of an HTTP and a stdio backend", () =>
    Effect.gen(function* () {
      const docs = yield* McpBackend.make()
      // Without jitter both backends are probed at the same instants, so the test clock never
      // jumps while a probe is on the wire (which would count as a slow answer).
      const { checker, publisher } = yield* checkAndLog(
        [
          { name: "docs", transport: "streamable-http", url: docs.url },
          { name: "files", transport: "stdio", ...stdioBackendCommand({ tools: ["read"] }) }
        ],
        { jitter: 0 }
      )
      yield* untilSnapshot(checker, (s) => s.initialRoundComplete)
      yield* docs.setMode("down")
      for (let i = 0; i < 3; i++) yield* round(checker, "15 seconds", ["docs", "files"])
      const down = yield* checker.current
      assert.strictEqual(backendOf(down, "docs")?.health, "unhealthy")
      assert.strictEqual(backendOf(down, "files")?.health, "healthy")
      // The publisher gets the snapshot from its own fiber: let it run.
      let status = yield* publisher.current
      for (let i = 0; i < 1000 && status?.phase !== "Degraded"; i++) {
        yield* Effect.yieldNow
        status = yield* publisher.current
      }
      assert.strictEqual(status?.phase, "Degraded")
      assert.strictEqual(status?.message, "1/2 backends healthy, 1 tool")
    })
  )

  it("are the code the README shows", () => {
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8")
    for (const file of ["promise.ts", "effect.ts"])
      assert.include(
        readme,
        readFileSync(new URL(`../examples/${file}`, import.meta.url), "utf8").trim(),
        file
      )
  })
})
