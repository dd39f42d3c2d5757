/**
 * `vmcp serve` as users run it: the built CLI of `@vmcp-status/vmcp` (`dist/cli.js`, `pnpm build`)
 * as a child process on loopback, with a config written to a temp file.
 */
import { spawn } from "node:child_process"
import { existsSync, mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import YAML from "yaml"

const CLI = fileURLToPath(new URL("../../node_modules/@vmcp-status/vmcp/dist/cli.js", import.meta.url))

export interface Vmcp {
  /** `http://127.0.0.1:<port>`, once it listens. */
  readonly url: string
  /** SIGTERM, then waits for the exit. Idempotent. */
  readonly stop: () => Promise<void>
}

/** Starts `vmcp serve --config <config as YAML>`; resolves once it prints where it serves. */
export const startVmcp = (config: Record<string, unknown>): Promise<Vmcp> => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`pnpm build\` first`)
  const file = join(mkdtempSync(join(tmpdir(), "vmcp-deploy-")), "vmcp.yaml")
  writeFileSync(file, YAML.stringify(config))
  const child = spawn(process.execPath, [CLI, "serve", "--config", file], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "" }
  })
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM")
    await exited
  }
  let output = ""
  return new Promise<Vmcp>((resolve, reject) => {
    child.stderr.on("data", (chunk: Buffer) => {
      output += chunk.toString("utf8")
    })
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString("utf8")
      const found = /serving MCP at (http:\/\/127\.0\.0\.1:\d+)\/mcp /.exec(output)
      if (found) resolve({ url: found[1]!, stop })
    })
    void exited.then(() => reject(new Error(`vmcp serve exited before listening:\n${output}`)))
  })
}

/** The sample names of a Prometheus text exposition (`_bucket`, `_sum`, `_count` for histograms). */
export const sampleNames = (exposition: string): ReadonlySet<string> =>
  new Set(
    exposition
      .split("\n")
      .filter((line) => line !== "" && !line.startsWith("#"))
      .map((line) => /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0] ?? "")
      .filter((name) => name !== "")
  )
