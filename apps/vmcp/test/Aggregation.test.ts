import type { Tool } from "@modelcontextprotocol/client"
import { describe, expect, it } from "vitest"
import { aggregateTools } from "../src/Aggregation.ts"

const tool = (name: string, description?: string): Tool => ({
  name,
  inputSchema: { type: "object" },
  ...(description === undefined ? {} : { description })
})

const backends = [
  { name: "clock", routable: true, tools: [tool("now"), tool("echo", "clock's echo")] },
  { name: "echo", routable: true, tools: [tool("echo", "echo's echo")] },
  { name: "flaky", routable: false, tools: [tool("coin")] }
]

describe("aggregateTools", () => {
  it("prefix: every tool of a routable backend as <backend>_<tool>, sorted; unroutable ones hidden", () => {
    const table = aggregateTools(backends, { conflictResolution: "prefix" })
    expect(table.map((t) => [t.name, t.backend, t.backendTool])).toEqual([
      ["clock_echo", "clock", "echo"],
      ["clock_now", "clock", "now"],
      ["echo_echo", "echo", "echo"]
    ])
    expect(table[0]?.tool).toEqual({
      name: "clock_echo",
      description: "clock's echo",
      inputSchema: { type: "object" }
    })
  })

  it("prefix with a custom separator", () => {
    const table = aggregateTools(backends, { conflictResolution: "prefix", separator: "." })
    expect(table.map((t) => t.name)).toEqual(["clock.echo", "clock.now", "echo.echo"])
  })

  it("priority: plain names, a clash goes to the first backend in input order", () => {
    const table = aggregateTools(backends, { conflictResolution: "priority" })
    expect(table.map((t) => [t.name, t.backend])).toEqual([
      ["echo", "clock"],
      ["now", "clock"]
    ])
  })

  it("priority: the configured order wins, and the next routable backend takes over", () => {
    const preferred = aggregateTools(backends, { conflictResolution: "priority", priority: ["echo"] })
    expect(preferred.find((t) => t.name === "echo")?.backend).toBe("echo")
    const echoDown = aggregateTools(
      backends.map((b) => (b.name === "echo" ? { ...b, routable: false } : b)),
      { conflictResolution: "priority", priority: ["echo"] }
    )
    expect(echoDown.find((t) => t.name === "echo")?.backend).toBe("clock")
  })

  it("no routable backend: no tools", () => {
    expect(
      aggregateTools(
        backends.map((b) => ({ ...b, routable: false })),
        { conflictResolution: "prefix" }
      )
    ).toEqual([])
  })
})
