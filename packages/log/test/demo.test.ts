import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { expect, it } from "vitest"

const demo = fileURLToPath(new URL("../examples/demo.ts", import.meta.url))

it("the 20-line demo (public exports of core and log only) prints each transition as one JSON line", async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [demo], { timeout: 60_000 })
  const lines = stdout
    .trim()
    .split("\n")
    .map(
      (line) => JSON.parse(line) as { phase: string; previousPhase?: string; level: string; message: string }
    )
  expect(lines.map((l) => [l.previousPhase ?? null, l.phase, l.level])).toEqual([
    [null, "Pending", "info"],
    ["Pending", "Ready", "info"],
    ["Ready", "Degraded", "warn"],
    ["Degraded", "Failed", "error"],
    ["Failed", "Ready", "info"],
    ["Ready", "Pending", "info"]
  ])
  expect(lines[2]?.message).toContain("echo healthy → unhealthy: connection refused (3 failures)")
  expect(lines[5]?.message).toContain("Shutting down")
})
