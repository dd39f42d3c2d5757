/**
 * `pnpm start` on a busy machine: the demo (`vmcp serve` with examples/vmcp.yaml, three stdio
 * backends, a 1.5 s probe timeout) started beside a CPU hog that keeps every core busy must still
 * come up: Pending while the backends start, then Ready, never stuck in Failed with its
 * backends respawned by every probe (issue #12: it sat in Failed for minutes).
 */
import { type ChildProcess, spawn } from "node:child_process"
import { availableParallelism } from "node:os"
import { fileURLToPath } from "node:url"
import { eventually } from "@vmcp-status/testkit"
import { afterAll, describe, expect, it } from "vitest"

const CLI = fileURLToPath(new URL("../dist/cli.js", import.meta.url))
const EXAMPLE_CONFIG = fileURLToPath(new URL("../examples/vmcp.yaml", import.meta.url))

const started: ChildProcess[] = []
afterAll(async () => {
  for (const child of started.reverse())
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve))
      child.kill("SIGTERM")
      await exited
    }
})

/** One busy-looping Node process per core: the machine is saturated until they are stopped. */
const startCpuHog = () => {
  const hogs = Array.from({ length: availableParallelism() }, () =>
    spawn(process.execPath, ["-e", "for (;;) {}"], { stdio: "ignore" })
  )
  started.push(...hogs)
  return () => {
    for (const hog of hogs) hog.kill("SIGKILL")
  }
}

interface Status {
  readonly phase: string
  readonly backends: ReadonlyArray<{
    readonly name: string
    readonly health: string
    readonly restarts?: number
  }>
}

describe("pnpm start beside a CPU hog", () => {
  it("the demo goes Pending → Ready with every core busy, and no backend is respawned by probes", async () => {
    const stopHog = startCpuHog()
    try {
      const child = spawn(process.execPath, [CLI, "serve", "--config", EXAMPLE_CONFIG, "--port", "0"], {
        stdio: ["ignore", "pipe", "pipe"],
        env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "" }
      })
      started.push(child)
      let output = ""
      child.stderr.on("data", (chunk: Buffer) => {
        output += chunk.toString("utf8")
      })
      const base = await new Promise<string>((resolve, reject) => {
        child.stdout.on("data", (chunk: Buffer) => {
          output += chunk.toString("utf8")
          const found = /serving MCP at (http:\/\/127\.0\.0\.1:\d+)\/mcp /.exec(output)
          if (found) resolve(found[1]!)
        })
        child.once("exit", (code) =>
          reject(new Error(`vmcp serve exited ${code} before listening:\n${output}`))
        )
      })
      const phases: string[] = []
      const ready = await eventually(
        "the demo Ready beside the CPU hog",
        async () => {
          const res = await fetch(`${base}/status`).catch(() => undefined)
          if (res?.ok !== true) return undefined
          const status = (await res.json()) as Status
          if (phases.at(-1) !== status.phase) phases.push(status.phase)
          return status.phase === "Ready" ? status : undefined
        },
        300_000
      )
      expect(ready.backends.map((b) => b.name).sort()).toEqual(["clock", "echo", "flaky"])
      expect(ready.backends.every((b) => b.health === "healthy")).toBe(true)
      // Started once each: a probe's timeout never killed a starting backend.
      expect(ready.backends.map((b) => b.restarts ?? 0)).toEqual([0, 0, 0])
      expect(phases.at(-1)).toBe("Ready")
      expect(output).not.toMatch(/process ended/)
    } finally {
      stopHog()
    }
  }, 360_000)
})
