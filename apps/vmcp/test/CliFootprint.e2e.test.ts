/**
 * Each command of the built `dist/cli.js` loads what it runs and nothing else: the modules a
 * child process resolves are recorded by a preload (`fixtures/recordModules.mjs`), and the
 * server, the MCP SDK, the Kubernetes client and Effect's index (every Effect module) must not be
 * among them for the commands that do not need them.
 */
import { spawn } from "node:child_process"
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

const CLI = fileURLToPath(new URL("../dist/cli.js", import.meta.url))
const RECORDER = fileURLToPath(new URL("./fixtures/recordModules.mjs", import.meta.url))
const EXAMPLE_CONFIG = fileURLToPath(new URL("../examples/vmcp.yaml", import.meta.url))

/** Runs `vmcp <args>` and returns its exit code and the URLs of the modules it resolved. */
const loadedBy = (args: ReadonlyArray<string>) =>
  new Promise<{ code: number | null; urls: ReadonlyArray<string> }>((resolve, reject) => {
    const file = join(mkdtempSync(join(tmpdir(), "vmcp-modules-")), "urls")
    const child = spawn(process.execPath, ["--import", RECORDER, CLI, ...args], {
      stdio: "ignore",
      env: { PATH: process.env.PATH ?? "", VMCP_RECORD_MODULES: file }
    })
    child.once("error", reject)
    child.once("close", (code) =>
      resolve({
        code,
        urls: readFileSync(file, "utf8")
          .split("\n")
          .filter((u) => u !== "")
      })
    )
  })

const mcpSdk = (url: string) => url.includes("/@modelcontextprotocol/")
const kubernetesClient = (url: string) => url.includes("/@kubernetes/client-node/")
const effectIndex = (url: string) => /\/effect\/dist\/index\.js$/.test(url)
const anyEffect = (url: string) => url.includes("/effect/dist/")
/** The chunk of `server/Serve.ts` (tsup names a dynamic import's chunk after its module). */
const server = (url: string) => /\/dist\/Serve-[^/]*\.js$/.test(url)

describe("what each command loads", () => {
  it("vmcp --help and --version load the command table only: no server, MCP SDK, Kubernetes client or Effect", async () => {
    for (const args of [["--help"], ["--version"], ["serve", "--help"], ["status", "--help"]]) {
      const { code, urls } = await loadedBy(args)
      expect(code, args.join(" ")).toBe(0)
      expect(urls.some((u) => u.endsWith("/dist/cli.js"))).toBe(true)
      expect(urls.filter((u) => mcpSdk(u) || kubernetesClient(u) || server(u) || anyEffect(u))).toEqual([])
    }
  }, 60_000)

  it("vmcp validate loads the config schema (Effect's Schema module) but not Effect's index, the server, the MCP SDK or the Kubernetes client", async () => {
    const { code, urls } = await loadedBy(["validate", "--config", EXAMPLE_CONFIG])
    expect(code).toBe(0)
    expect(urls.some((u) => u.endsWith("/effect/dist/Schema.js"))).toBe(true)
    expect(urls.filter((u) => mcpSdk(u) || kubernetesClient(u) || server(u) || effectIndex(u))).toEqual([])
  }, 60_000)

  it("vmcp status and vmcp manifests load neither the server, the MCP SDK nor the Kubernetes client", async () => {
    for (const args of [
      // Nothing listens on port 9: exit 3, after the status command has loaded what it runs.
      ["status", "--url", "http://127.0.0.1:9"],
      ["manifests", "--name", "vmcp", "--namespace", "tools"]
    ]) {
      const { code, urls } = await loadedBy(args)
      expect(code, args.join(" ")).toBe(args[0] === "status" ? 3 : 0)
      expect(urls.filter((u) => mcpSdk(u) || kubernetesClient(u) || server(u))).toEqual([])
    }
  }, 60_000)
})
