import { spawn } from "node:child_process"
import { describe, expect, it } from "@effect/vitest"

describe("lifecycle", () => {
  it("a process that starts and stops health checks exits on its own", async () => {
    const child = spawn(
      process.execPath,
      [new URL("./programs/start-and-stop.ts", import.meta.url).pathname],
      {
        stdio: ["ignore", "pipe", "pipe"]
      }
    )
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString()
    })
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    const code = await new Promise<number | string | null>((resolve) => {
      // A bound, not a wait: the process normally exits well within it.
      const deadline = setTimeout(() => {
        child.kill("SIGKILL")
        resolve("still running after stop")
      }, 150_000)
      child.once("exit", (exitCode) => {
        clearTimeout(deadline)
        resolve(exitCode)
      })
    })
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" })
    // The plain HTTP probe of a non-MCP path answers 404: an http_error, not yet unhealthy.
    expect(stdout.trim()).toBe("stopped http=healthy plain=unknown stdio=healthy")
  })
})
