import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { InvalidStatusError, start } from "../src/index.ts"
import { nth } from "./fixtures.ts"

describe("start (Promise facade)", () => {
  it("publishes to Promise reporters and Effect reporters in one list", async () => {
    const seen: Array<number> = []
    const publisher = await start({
      reporters: [{ name: "memory", report: async (s) => void seen.push(s.backends.length) }]
    })
    publisher.update(nth(1))
    publisher.update(nth(2))
    await publisher.stop()
    expect(seen.at(-1)).toBe(2)
    expect(publisher.health()[0]?.state).toBe("stopped")
  })

  it("rejects an invalid status with the field that is wrong", async () => {
    const publisher = await start({ reporters: [] })
    try {
      expect(() => publisher.update({ ...nth(1), phase: "Sideways" })).toThrow(InvalidStatusError)
      expect(() => publisher.update({ ...nth(1), phase: "Sideways" })).toThrow(/phase/)
    } finally {
      await publisher.stop()
    }
  })

  it("lets a process that starts and stops a publisher exit on its own", async () => {
    const script = fileURLToPath(new URL("./fixtures/start-stop.mjs", import.meta.url))
    const child = spawn(process.execPath, [script], { stdio: ["ignore", "pipe", "pipe"] })
    let out = ""
    child.stdout.on("data", (chunk) => {
      out += chunk
    })
    // A guard, not a timing assertion: a leaked handle would keep the child alive forever.
    const guard = setTimeout(() => child.kill("SIGKILL"), 60_000)
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      child.on("exit", (c, s) => resolve([c, s]))
    )
    clearTimeout(guard)
    expect(signal).toBeNull()
    expect(code).toBe(0)
    // The publisher's own log lines share stdout; the fixture's result is the line it printed.
    const result = JSON.parse(out.split("\n").find((line) => line.startsWith('{"seen"')) ?? "{}")
    expect(result.health).toEqual(["stopped", "stopped"])
    // the first change, at least one 50 ms tick, and the final flush
    expect(result.seen).toBeGreaterThanOrEqual(3)
    expect(out).toContain("reporters did not finish within 500 ms")
  })
})
