/**
 * Measures the peak RSS of `vmcp serve` (a child process, the built dist/cli.js) under the two
 * loads of issue 13: one HTTP backend answering a 100 MB tools/call, and 20 concurrent 3.9 MB
 * tools/call request bodies. Each load runs with the default limits and with the bounds lifted
 * (maxResponseBytes and maxRequestBytesInFlight 1 GiB, maxConcurrentCalls 1000), to compare. Not a test: it prints figures.
 *
 *   pnpm --filter @vmcp-status/vmcp build && pnpm exec node apps/vmcp/scripts/measure-bounds.ts
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { freeLoopbackPort, startMcpBackend } from "@vmcp-status/testkit"

const cli = fileURLToPath(new URL("../dist/cli.js", import.meta.url))

const rssMiB = (pid: number): number => {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))
  return match === null ? 0 : Number(match[1]) / 1024
}

const startVmcp = async (backendUrl: string, limits: Record<string, number>) => {
  const port = await freeLoopbackPort()
  const dir = mkdtempSync(join(tmpdir(), "vmcp-bounds-"))
  const file = join(dir, "vmcp.yaml")
  writeFileSync(
    file,
    JSON.stringify({
      listen: { port },
      calls: { timeout: "120s" },
      limits,
      backends: [{ name: "big", transport: "streamable-http", url: backendUrl }]
    })
  )
  const child: ChildProcess = spawn(
    process.execPath,
    [cli, "serve", "--config", file, "--reporters", "log"],
    {
      stdio: ["ignore", "ignore", "inherit"]
    }
  )
  const url = `http://127.0.0.1:${port}`
  for (let i = 0; i < 600; i++) {
    const ready = await fetch(`${url}/readyz`).catch(() => undefined)
    if (ready?.status === 200) break
    await new Promise((r) => setTimeout(r, 100))
  }
  return { url, pid: child.pid!, stop: () => child.kill("SIGTERM") }
}

const post = async (url: string, body: unknown, session?: string) => {
  const response = await fetch(`${url}/mcp`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": "2025-06-18",
      ...(session === undefined ? {} : { "mcp-session-id": session })
    },
    body: JSON.stringify(body)
  })
  const text = await response.text()
  return { session: response.headers.get("mcp-session-id") ?? undefined, text }
}

const initialize = async (url: string) =>
  (
    await post(url, {
      jsonrpc: "2.0",
      id: 0,
      method: "initialize",
      params: {
        protocolVersion: "2025-06-18",
        capabilities: {},
        clientInfo: { name: "measure", version: "0" }
      }
    })
  ).session!

/** Runs `load` against a fresh vmcp; samples RSS every 20 ms; returns idle and peak RSS. */
const measure = async (
  backendUrl: string,
  limits: Record<string, number>,
  load: (url: string) => Promise<string>
) => {
  const vmcp = await startVmcp(backendUrl, limits)
  const idle = rssMiB(vmcp.pid)
  let peak = idle
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssMiB(vmcp.pid))
  }, 20)
  const outcome = await load(vmcp.url).catch(
    (error: unknown) => `failed: ${String(error)} ${String((error as Error).cause)}`
  )
  clearInterval(sampler)
  peak = Math.max(peak, rssMiB(vmcp.pid))
  const healthz = await fetch(`${vmcp.url}/healthz`)
    .then((r) => r.status)
    .catch(() => 0)
  vmcp.stop()
  return { idle: Math.round(idle), peak: Math.round(peak), healthz, outcome }
}

const big = "x".repeat(100 * 1000 * 1000)
const huge = await startMcpBackend({ name: "huge", tools: [{ name: "dump", text: big }] })
const small = await startMcpBackend({ name: "small", tools: [{ name: "take", text: "ok" }] })

const hundredMb = async (url: string) => {
  const session = await initialize(url)
  const { text } = await post(
    url,
    { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "big_dump" } },
    session
  )
  return text.length > 2000 ? `${text.length} bytes passed through` : text.slice(0, 300)
}

const arg = "y".repeat(3_900_000)
const twentyBodies = async (url: string) => {
  const sessions = await Promise.all(Array.from({ length: 20 }, () => initialize(url)))
  const answers = await Promise.all(
    sessions.map((s, i) =>
      post(
        url,
        {
          jsonrpc: "2.0",
          id: i + 1,
          method: "tools/call",
          params: { name: "big_take", arguments: { blob: arg } }
        },
        s
      ).catch((error: unknown) => ({ session: undefined, text: `failed: ${String((error as Error).cause)}` }))
    )
  )
  const refused = answers.filter((a) =>
    /limits\.max(ConcurrentCalls|RequestBytesInFlight)/.test(a.text)
  ).length
  const failed = answers.filter((a) => a.text.startsWith("failed:")).length
  return `${answers.length - refused - failed} answered, ${refused} refused, ${failed} failed (connection)`
}

const lifted = {
  maxResponseBytes: 1024 * 1024 * 1024,
  maxRequestBytesInFlight: 1024 * 1024 * 1024,
  maxConcurrentCalls: 1000,
  maxConcurrentCallsPerSession: 1000
}
const runs = [
  ["100 MB tools/call answer, default limits", () => measure(huge.url, {}, hundredMb)],
  ["100 MB tools/call answer, bounds lifted", () => measure(huge.url, lifted, hundredMb)],
  ["20 × 3.9 MB tools/call bodies, default limits", () => measure(small.url, {}, twentyBodies)],
  [
    "20 × 3.9 MB tools/call bodies, only maxConcurrentCalls 8",
    () =>
      measure(small.url, { maxConcurrentCalls: 8, maxRequestBytesInFlight: 1024 * 1024 * 1024 }, twentyBodies)
  ],
  ["20 × 3.9 MB tools/call bodies, bounds lifted", () => measure(small.url, lifted, twentyBodies)]
] as const
for (const [name, run] of runs) {
  const r = await run()
  console.log(`${name}: RSS ${r.idle} → peak ${r.peak} MiB; /healthz ${r.healthz}; ${r.outcome}`)
}
await huge.close()
await small.close()
