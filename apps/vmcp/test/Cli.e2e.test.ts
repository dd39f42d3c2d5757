/**
 * The `vmcp` binary as users and scripts see it: the built `dist/cli.js` run as a child process,
 * its output, its colours and its exit codes. `vmcp status` runs against a real `vmcp serve`
 * (a child too) with a real MCP backend on loopback.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { eventually, freeLoopbackPort, startMcpBackend } from "@vmcp-status/testkit"
import { afterEach, describe, expect, it } from "vitest"
import YAML from "yaml"
import { CLI, startCli } from "./cliProcess.ts"

const EXAMPLE_CONFIG = fileURLToPath(new URL("../examples/vmcp.yaml", import.meta.url))
const packageVersion = (
  JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }
).version

const ESC = "\u001b["

const cleanups: Array<() => Promise<unknown> | unknown> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

// Only what the test sets: no FORCE_COLOR, NO_COLOR, TERM or CI from the runner's environment.
const baseEnv = () => ({ PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "" })

const runProcess = (command: string, args: ReadonlyArray<string>, env: Record<string, string>) =>
  new Promise<Run>((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...baseEnv(), ...env } })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8")
    })
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8")
    })
    child.once("error", reject)
    child.once("close", (code) => resolve({ code, stdout, stderr }))
  })

/** `vmcp <args>` with stdout and stderr piped. */
const vmcp = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  runProcess(process.execPath, [CLI, ...args], env)

const quote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`

/** `vmcp <args>` on a pseudo-terminal (util-linux `script`): stdout and stderr are a TTY. */
const vmcpOnTerminal = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  runProcess("script", ["-qefc", [process.execPath, CLI, ...args].map(quote).join(" "), "/dev/null"], {
    TERM: "xterm-256color",
    ...env
  })

const hasScript =
  process.platform === "linux" && (await runProcess("script", ["-V"], {}).catch(() => undefined))?.code === 0

interface App {
  readonly child: ChildProcess
  /** The base URL (`http://127.0.0.1:<port>`), once the app listens. */
  readonly url: Promise<string>
  readonly exited: Promise<number | null>
}

/** `vmcp serve --config <file>` as a child, as in App.e2e.test.ts; stopped after the test. */
const serve = (config: unknown): App => {
  const file = join(mkdtempSync(join(tmpdir(), "vmcp-cli-")), "vmcp.yaml")
  writeFileSync(file, YAML.stringify(config))
  const child = spawn(process.execPath, [CLI, "serve", "--config", file], {
    stdio: ["ignore", "pipe", "pipe"],
    env: baseEnv()
  })
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM")
    await exited
  })
  let output = ""
  child.stderr!.on("data", (chunk: Buffer) => {
    output += chunk.toString("utf8")
  })
  const url = new Promise<string>((resolve, reject) => {
    child.stdout!.on("data", (chunk: Buffer) => {
      output += chunk.toString("utf8")
      const found = /serving MCP at (http:\/\/127\.0\.0\.1:\d+)\/mcp /.exec(output)
      if (found) resolve(found[1]!)
    })
    void exited.then((code) => reject(new Error(`vmcp serve exited ${code} before listening:\n${output}`)))
  })
  return { child, url, exited }
}

/** The phase `/status` shows, or undefined while there is none. */
const phaseOf = async (base: string) => {
  const res = await fetch(`${base}/status`)
  return res.ok ? ((await res.json()) as { phase: string }).phase : undefined
}

describe("vmcp --version and help", () => {
  it("--version, -V and version print the version of package.json and exit 0", async () => {
    for (const args of [["--version"], ["-V"], ["version"]]) {
      const run = await vmcp(args)
      expect(run, args.join(" ")).toEqual({ code: 0, stdout: `${packageVersion}\n`, stderr: "" })
    }
  })

  it("help <command> prints what <command> --help prints", async () => {
    // Concurrently: eight CLI starts one after another can outlast the test's bound on a loaded machine.
    const commands = ["serve", "status", "recheck", "validate", "manifests"]
    const runs = await Promise.all(
      commands.map((command) => Promise.all([vmcp(["help", command]), vmcp([command, "--help"])]))
    )
    for (const [i, [viaHelp, viaFlag]] of runs.entries()) {
      expect(viaHelp.code).toBe(0)
      expect(viaHelp.stdout).toContain(`Usage: vmcp ${commands[i]}`)
      expect(viaHelp).toEqual(viaFlag)
    }
  })

  it("an unknown command, also after help, exits 2 and names the commands and vmcp --help", async () => {
    for (const args of [["stauts"], ["help", "stauts"]]) {
      const run = await vmcp(args)
      expect(run.code, args.join(" ")).toBe(2)
      expect(run.stdout).toBe("")
      expect(run.stderr).toContain('unknown command "stauts"')
      expect(run.stderr).toContain("serve, status, recheck, validate, manifests")
      expect(run.stderr).toContain("vmcp --help")
    }
  })
})

describe("colours follow FORCE_COLOR, NO_COLOR and the terminal", () => {
  const validate = ["validate", "--config", EXAMPLE_CONFIG]

  it("piped: plain, unless FORCE_COLOR is set", async () => {
    const plain = await vmcp(validate)
    expect(plain.code).toBe(0)
    expect(plain.stdout).toContain("ok:")
    expect(plain.stdout).not.toContain(ESC)
    const forced = await vmcp(validate, { FORCE_COLOR: "1" })
    expect(forced.code).toBe(0)
    expect(forced.stdout).toContain(`${ESC}32mok:${ESC}39m`)
    expect(await vmcp(validate, { NO_COLOR: "1" })).toEqual(plain)
  })

  it.skipIf(!hasScript)("on a terminal: coloured, unless NO_COLOR is set", async () => {
    const coloured = await vmcpOnTerminal(validate)
    expect(coloured.code).toBe(0)
    expect(coloured.stdout).toContain(`${ESC}32mok:${ESC}39m`)
    const noColor = await vmcpOnTerminal(validate, { NO_COLOR: "1" })
    expect(noColor.code).toBe(0)
    expect(noColor.stdout).toContain("ok:")
    expect(noColor.stdout).not.toContain(ESC)
  })
})

describe("vmcp status exit codes", () => {
  it("3 when nothing listens at --url", async () => {
    const port = await freeLoopbackPort()
    const run = await vmcp(["status", "--url", `http://127.0.0.1:${port}`])
    expect(run.code).toBe(3)
    expect(run.stdout).toBe("")
    expect(run.stderr).toContain(`cannot reach http://127.0.0.1:${port}/status`)
  })

  it("0 while the server is Ready, 1 once it answers but is not Ready", async () => {
    const web = await startMcpBackend({ name: "web", tools: [{ name: "search" }] })
    cleanups.push(() => web.close())
    const app = serve({
      name: "cli",
      listen: { port: 0 },
      health: { interval: "200ms", timeout: "20s", slowThreshold: "15s", unhealthyThreshold: 1 },
      backends: [{ name: "web", transport: "streamable-http", url: web.url }]
    })
    const base = await app.url

    await eventually("the server to be Ready", async () =>
      (await phaseOf(base)) === "Ready" ? true : undefined
    )
    const ready = await vmcp(["status", "--url", base])
    expect(ready.code).toBe(0)
    expect(ready.stdout).toMatch(/^Ready {2}/)

    await web.setMode("down")
    await eventually("the server to be Failed", async () =>
      (await phaseOf(base)) === "Failed" ? true : undefined
    )
    const failed = await vmcp(["status", "--url", base])
    expect(failed.code).toBe(1)
    expect(failed.stdout).toMatch(/^Failed {2}/)
    expect(failed.stdout).toMatch(/web +unhealthy/)
  })
})

/** `vmcp <args>` left running: its output so far, and its exit. Killed after the test if still running. */
const vmcpRunning = (args: ReadonlyArray<string>) => {
  const running = startCli(args)
  cleanups.push(running.stop)
  return running
}

describe("vmcp status --wait, --watch and -o", () => {
  /** Probes whose circuit lets a backend that comes back be seen within seconds. */
  const health = {
    interval: "200ms",
    timeout: "20s",
    slowThreshold: "15s",
    unhealthyThreshold: 1,
    circuitBreaker: { openDuration: "1s", maxOpenDuration: "2s" }
  }

  const serveOne = async (mode: "up" | "down") => {
    const web = await startMcpBackend({ name: "web", tools: [{ name: "search" }] })
    cleanups.push(() => web.close())
    if (mode === "down") await web.setMode("down")
    const app = serve({
      name: "cli",
      listen: { port: 0 },
      health,
      backends: [{ name: "web", transport: "streamable-http", url: web.url }]
    })
    const base = await app.url
    const phase = mode === "up" ? "Ready" : "Failed"
    await eventually(`the server to be ${phase}`, async () =>
      (await phaseOf(base)) === phase ? true : undefined
    )
    return { web, base }
  }

  it("--wait --for=backend=<name> exits 0 once that backend is healthy, and prints the status", async () => {
    const { web, base } = await serveOne("down")
    const wait = vmcpRunning(["status", "--url", base, "--wait", "--for=backend=web", "--timeout", "5m"])
    await eventually("the wait to start", () =>
      wait.stderr().includes("waiting up to 300 s") ? true : undefined
    )
    expect(wait.child.exitCode).toBeNull()

    await web.setMode("up")
    expect(await wait.exited).toBe(0)
    expect(wait.stdout()).toMatch(/^Ready {2}/)
    expect(wait.stdout()).toMatch(/web +healthy/)
  })

  it("--wait exits 1 when the condition does not hold by the timeout, saying what it waited for", async () => {
    const { base } = await serveOne("down")
    const run = await vmcp(["status", "--url", base, "--wait", "--for=ready", "--timeout", "1s"])
    expect(run.code).toBe(1)
    expect(run.stderr).toContain("timed out after 1 s waiting for ready (phase Failed)")
    expect(run.stdout).toMatch(/^Failed {2}/)
  })

  it("--wait exits 3 when nothing ever answered", async () => {
    const port = await freeLoopbackPort()
    const run = await vmcp(["status", "--url", `http://127.0.0.1:${port}`, "--wait", "--timeout", "1s"])
    expect(run.code).toBe(3)
    expect(run.stderr).toContain(`cannot reach http://127.0.0.1:${port}/status`)
  })

  it("--watch -o json prints one line per change, live, and stops with exit 0 on SIGINT", async () => {
    const { web, base } = await serveOne("up")
    const watch = vmcpRunning(["status", "--url", base, "--watch", "-o", "json"])
    const healthOf = (line: string) =>
      (JSON.parse(line) as { backends: ReadonlyArray<{ health: string }> }).backends[0]?.health
    const lines = () => watch.stdout().split("\n").filter(Boolean)
    await eventually("a first status line", () => (lines()[0] ? true : undefined))
    expect(healthOf(lines()[0]!)).toBe("healthy")

    await web.setMode("down")
    await eventually("a line with web unhealthy", () =>
      lines().some((l) => healthOf(l) === "unhealthy") ? true : undefined
    )
    await web.setMode("up")
    await eventually("a line with web healthy again", () =>
      healthOf(lines().at(-1)!) === "healthy" && lines().length >= 3 ? true : undefined
    )
    // Only changes are printed: every line differs from the one before it.
    const all = lines()
    for (let i = 1; i < all.length; i++) expect(all[i]).not.toBe(all[i - 1])

    watch.child.kill("SIGINT")
    expect(await watch.exited).toBe(0)
  })

  it("-o wide adds columns, -o yaml prints the status as YAML, bad -o and stray --for are usage errors", async () => {
    const { base } = await serveOne("up")
    const wide = await vmcp(["status", "--url", base, "-o", "wide"])
    expect(wide.code).toBe(0)
    expect(wide.stdout).toMatch(/web +healthy +1 tool +closed +0 +\d+ms +up \d+s/)
    const yaml = await vmcp(["status", "--url", base, "-o", "yaml"])
    expect(YAML.parse(yaml.stdout)).toMatchObject({
      phase: "Ready",
      backends: [{ name: "web", health: "healthy" }]
    })

    const bad = await vmcp(["status", "--url", base, "-o", "xml"])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('-o must be one of text, wide, json, yaml, got "xml"')
    const stray = await vmcp(["status", "--url", base, "--for=ready"])
    expect(stray.code).toBe(2)
    expect(stray.stderr).toContain("--for and --timeout go with --wait")
  })
})

describe("vmcp recheck", () => {
  it("probes a backend whose circuit is open for 10 minutes at once, prints its new state, and is rate-limited", async () => {
    const web = await startMcpBackend({ name: "web", tools: [{ name: "search" }] })
    cleanups.push(() => web.close())
    await web.setMode("down")
    const app = serve({
      name: "cli",
      listen: { port: 0 },
      health: {
        interval: "200ms",
        timeout: "20s",
        slowThreshold: "15s",
        unhealthyThreshold: 1,
        circuitBreaker: { failureThreshold: 1, openDuration: "10m" }
      },
      backends: [{ name: "web", transport: "streamable-http", url: web.url }]
    })
    const base = await app.url
    await eventually("the circuit to open", async () => {
      const res = await fetch(`${base}/status`)
      if (!res.ok) return undefined
      const body = (await res.json()) as { backends: ReadonlyArray<{ circuit: string }> }
      return body.backends[0]?.circuit === "open" ? true : undefined
    })

    // Fixed, then rechecked: without it the next probe would come in 10 minutes.
    await web.setMode("up")
    const run = await vmcp(["recheck", "web", "--url", base])
    expect(run.stderr).toBe("")
    expect(run.code).toBe(0)
    expect(run.stdout).toMatch(/^web {2}degraded {2}circuit closed {2}recovering/)

    const again = await vmcp(["recheck", "web", "--url", base])
    expect(again.code).toBe(1)
    expect(again.stderr).toMatch(/rechecked less than \d+ s ago; retry then/)

    const unknown = await vmcp(["recheck", "jira", "--url", base])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain('no backend named "jira"; the server has: web')

    const get = await fetch(`${base}/backends/web/recheck`)
    expect(get.status).toBe(405)
    const foreign = await fetch(`${base}/backends/web/recheck`, {
      method: "POST",
      headers: { origin: "http://evil.example" }
    })
    expect(foreign.status).toBe(403)
  })

  it("takes exactly one backend name", async () => {
    const run = await vmcp(["recheck"])
    expect(run.code).toBe(2)
    expect(run.stderr).toContain("recheck takes one backend name")
  })
})
