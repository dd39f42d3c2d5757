/**
 * Measures tools/call through `vmcp serve` against the same call made to the backend directly (a
 * measurement, not a test; bench/ holds the official figures): p50/p99 latency, throughput, the
 * gateway's CPU per call and its RSS. The backend is the testkit's Streamable HTTP fixture in a
 * process of its own; vmcp is the built dist/cli.js (or `--cli <file>`) with `NODE_OPTIONS` from
 * `--node-options`. Direct and through-vmcp rounds alternate, so a busy machine slows both.
 *
 *   pnpm --filter @vmcp-status/vmcp build
 *   pnpm exec node apps/vmcp/scripts/measure-calls.ts [--calls 2000] [--concurrency 1,16,64]
 *     [--rounds 2] [--cli <file>] [--node-options=--max-semi-space-size=2] [--cpu-prof <dir>]
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client"
import { freeLoopbackPort } from "@vmcp-status/testkit"

const { values: args } = parseArgs({
  options: {
    calls: { type: "string", default: "2000" },
    concurrency: { type: "string", default: "1,16,64" },
    rounds: { type: "string", default: "2" },
    cli: { type: "string", default: fileURLToPath(new URL("../dist/cli.js", import.meta.url)) },
    "node-options": { type: "string", default: "" },
    "cpu-prof": { type: "string" }
  }
})
const appDir = fileURLToPath(new URL("..", import.meta.url))

const lineFrom = (child: ChildProcess, pattern: RegExp) =>
  new Promise<string>((resolve, reject) => {
    let text = ""
    child.stdout!.on("data", (chunk: Buffer) => {
      text += chunk.toString("utf8")
      const match = pattern.exec(text)
      if (match !== null) resolve(match[1]!)
    })
    child.once("exit", (code) => reject(new Error(`exited ${code} before ${pattern}: ${text}`)))
  })

const startBackend = async () => {
  const child = spawn(
    process.execPath,
    [
      "--input-type=module",
      "-e",
      `import { startMcpBackend } from "@vmcp-status/testkit"
       const b = await startMcpBackend({ tools: [{ name: "echo", description: "echo" }] })
       console.log("BACKEND " + b.url)`
    ],
    { cwd: appDir, stdio: ["ignore", "pipe", "inherit"] }
  )
  return { child, url: await lineFrom(child, /BACKEND (\S+)/) }
}

const startVmcp = async (backendUrl: string) => {
  const port = await freeLoopbackPort()
  const file = join(mkdtempSync(join(tmpdir(), "vmcp-calls-")), "vmcp.yaml")
  writeFileSync(
    file,
    JSON.stringify({
      listen: { port },
      health: { interval: "30s" },
      limits: { maxConcurrentCalls: 1000, maxConcurrentCallsPerSession: 1000 },
      backends: [{ name: "fixture", transport: "streamable-http", url: backendUrl }]
    })
  )
  const prof = args["cpu-prof"] === undefined ? [] : ["--cpu-prof", "--cpu-prof-dir", args["cpu-prof"]]
  const child = spawn(
    process.execPath,
    [...prof, args.cli, "serve", "--config", file, "--reporters", "log"],
    {
      stdio: ["ignore", "ignore", "inherit"],
      env: { ...process.env, NODE_OPTIONS: args["node-options"] }
    }
  )
  const base = `http://127.0.0.1:${port}`
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${port + 1}/readyz`)).status === 200) break
    } catch {}
    await new Promise((r) => setTimeout(r, 50))
  }
  return { child, url: `${base}/mcp` }
}

const proc = (pid: number) => {
  const status = readFileSync(`/proc/${pid}/status`, "utf8")
  const kib = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)![1])
  // utime and stime, in clock ticks (100 per second on Linux).
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
  return { cpuMs: (Number(stat[11]) + Number(stat[12])) * 10, rssKiB: kib("VmRSS"), hwmKiB: kib("VmHWM") }
}

/** `calls` tools/call over `concurrency` workers, 16 per session (vmcp's per-session default). */
const load = async (url: string, concurrency: number, calls: number) => {
  const clients = await Promise.all(
    Array.from({ length: Math.ceil(concurrency / 16) }, async () => {
      const client = new Client({ name: "measure-calls", version: "0" })
      await client.connect(new StreamableHTTPClientTransport(new URL(url)))
      return client
    })
  )
  const { tools } = await clients[0]!.listTools()
  const tool = tools.find((t) => t.name.endsWith("echo"))!.name
  const latencies: Array<number> = []
  let next = 0
  const started = performance.now()
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      const client = clients[Math.floor(w / 16)]!
      while (next++ < calls) {
        const t0 = performance.now()
        await client.callTool({ name: tool, arguments: { text: "hello" } })
        latencies.push(performance.now() - t0)
      }
    })
  )
  const wall = performance.now() - started
  await Promise.all(clients.map((c) => c.close()))
  latencies.sort((a, b) => a - b)
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!
  return { p50: q(0.5), p99: q(0.99), perSecond: (calls / wall) * 1000 }
}

const backend = await startBackend()
const vmcp = await startVmcp(backend.url)
const calls = Number(args.calls)
const idle = proc(vmcp.child.pid!)
console.log(
  `vmcp ${args.cli} NODE_OPTIONS="${args["node-options"]}": idle RSS ${(idle.rssKiB / 1024).toFixed(1)} MiB; ${calls} calls per round`
)
// Warm both paths (JIT, connections) before measuring.
await load(backend.url, 4, 200)
await load(vmcp.url, 4, 200)
for (const concurrency of args.concurrency.split(",").map(Number)) {
  const direct: Array<Awaited<ReturnType<typeof load>>> = []
  const through: Array<Awaited<ReturnType<typeof load>>> = []
  let cpuMs = 0
  for (let round = 0; round < Number(args.rounds); round++) {
    direct.push(await load(backend.url, concurrency, calls))
    const before = proc(vmcp.child.pid!)
    through.push(await load(vmcp.url, concurrency, calls))
    cpuMs += proc(vmcp.child.pid!).cpuMs - before.cpuMs
  }
  const med = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  const d = {
    p50: med(direct.map((r) => r.p50)),
    p99: med(direct.map((r) => r.p99)),
    rps: med(direct.map((r) => r.perSecond))
  }
  const v = {
    p50: med(through.map((r) => r.p50)),
    p99: med(through.map((r) => r.p99)),
    rps: med(through.map((r) => r.perSecond))
  }
  const now = proc(vmcp.child.pid!)
  console.log(
    `c=${String(concurrency).padEnd(3)} direct p50 ${d.p50.toFixed(2)} p99 ${d.p99.toFixed(2)} ms ${d.rps.toFixed(0)}/s | vmcp p50 ${v.p50.toFixed(2)} p99 ${v.p99.toFixed(2)} ms ${v.rps.toFixed(0)}/s | added p50 ${(v.p50 - d.p50).toFixed(2)} ms, p99 ${(v.p99 / d.p99).toFixed(2)}x, throughput ${(v.rps / d.rps).toFixed(2)}x | vmcp CPU ${(cpuMs / (calls * Number(args.rounds))).toFixed(3)} ms/call, RSS ${(now.rssKiB / 1024).toFixed(1)} MiB, peak ${(now.hwmKiB / 1024).toFixed(1)} MiB`
  )
}
vmcp.child.kill("SIGTERM")
backend.child.kill("SIGTERM")
await new Promise((r) => vmcp.child.once("exit", r))
