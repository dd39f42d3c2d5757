import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

/** The built `vmcp` binary. */
export const CLI = fileURLToPath(new URL("../dist/cli.js", import.meta.url))

/** A `vmcp` child left running: its output so far, and its exit. */
export interface RunningCli {
  readonly child: ChildProcess
  readonly stdout: () => string
  readonly stderr: () => string
  readonly exited: Promise<number | null>
  /** SIGKILLs it if it still runs, and waits for its exit. */
  readonly stop: () => Promise<void>
}

/**
 * `vmcp <args>` as a child with only PATH and HOME from this environment (no colours, CI or
 * TERM settings of the runner) plus `env`; register `stop` as the test's cleanup.
 */
export const startCli = (args: ReadonlyArray<string>, env: Record<string, string> = {}): RunningCli => {
  const child = spawn(process.execPath, [CLI, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env }
  })
  let stdout = ""
  let stderr = ""
  child.stdout!.on("data", (chunk: Buffer) => {
    stdout += chunk.toString("utf8")
  })
  child.stderr!.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8")
  })
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)))
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
      await exited
    }
  }
}
