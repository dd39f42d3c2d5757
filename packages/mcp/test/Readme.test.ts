/**
 * The README's session example, run against the real `@modelcontextprotocol/server-everything`
 * over stdio (the installed copy instead of `npx`, so the test needs no network).
 */
import { createRequire } from "node:module"
import { expect, it } from "vitest"
import { describeSessionEvent, makeBackendSession, type SessionEvent } from "../src/index.ts"

const everythingBin = createRequire(import.meta.url)
  .resolve("@modelcontextprotocol/server-everything/package.json")
  .replace(/package\.json$/, "dist/index.js")

it("the README example: discover every kind, call a tool, read the lifecycle, close", async () => {
  const everything = makeBackendSession({
    name: "everything",
    transport: {
      type: "stdio",
      command: process.execPath,
      args: [everythingBin, "stdio"],
      env: { API_KEY: "s3cret" }
    },
    clientInfo: { name: "my-gateway", version: "1.0.0" },
    startTimeoutMs: 120_000
  })
  const events: Array<SessionEvent> = []
  const unsubscribe = everything.subscribe((event) => {
    events.push(event)
  })
  try {
    await everything.started()
    const { tools, resources, prompts } = await everything.discover({ timeoutMs: 30_000 })
    expect(tools.map((t) => t.name)).toContain("echo")
    expect(resources.length).toBeGreaterThan(0)
    expect(prompts.length).toBeGreaterThan(0)
    expect(everything.capabilities()).toMatchObject({ tools: {}, resources: {}, prompts: {} })
    const result = await everything.callTool("echo", { message: "hi" }, { timeoutMs: 30_000 })
    expect(JSON.stringify(result.content)).toContain("hi")
    expect(everything.lifecycle()).toMatchObject({ phase: "ready", restarts: 0, lossesInARow: 0 })
    // One start; server-everything may also announce list changes of its own at any time.
    expect(events.map((e) => e._tag).filter((tag) => tag !== "ListsChanged")).toEqual(["Started"])
    // A first start is not worth a log line.
    expect(describeSessionEvent(events[0]!)).toBeUndefined()
  } finally {
    unsubscribe()
    await everything.close()
  }
  expect(everything.lifecycle().phase).toBe("closed")
})
