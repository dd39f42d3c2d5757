// Measures the backend lifecycle (a measurement, not a test): spawns per minute of a
// crash-looping stdio backend, time to healthy of a slow starter, and what a SIGKILL produces in
// the log, /status and /metrics. Needs the built app (`pnpm --filter @vmcp-status/vmcp build`):
//   node apps/vmcp/scripts/measure-lifecycle.mjs [crash-loop-seconds]
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Writable } from "node:stream"
import { eventually, stdioBackendCommand } from "@vmcp-status/testkit"
import { Effect } from "effect"
import { decodeConfig, makeBackendConnection, runServer, selectReporters } from "../dist/index.js"

const spawnLog = () => join(mkdtempSync(join(tmpdir(), "vmcp-measure-")), "pids")
const spawns = (file) => {
  try {
    return readFileSync(file, "utf8")
      .split("\n")
      .filter((l) => l !== "").length
  } catch {
    return 0
  }
}
const stdio = (name, fixture) => ({
  name,
  transport: "stdio",
  ...stdioBackendCommand(fixture),
  env: {},
  headers: {}
})

const startApp = async (config) => {
  const lines = []
  let buffer = ""
  const stdout = new Writable({
    write: (chunk, _e, done) => {
      buffer += chunk.toString("utf8")
      const parts = buffer.split("\n")
      buffer = parts.pop() ?? ""
      lines.push(...parts)
      done()
    }
  })
  const decoded = Effect.runSync(
    decodeConfig({ listen: { port: 0 }, status: { log: { format: "json" } }, ...config }, "measure")
  )
  const selection = selectReporters({ env: {}, reporters: "log,prometheus" })
  let stop
  const stopSignal = new Promise((resolve) => (stop = resolve))
  const exited = runServer({
    config: decoded,
    selection,
    io: { stdout, stderr: stdout, env: {} },
    stopSignal,
    hardExit: false
  })
  const url = await eventually("serving", () =>
    lines.map((l) => /serving MCP at (\S+)\/mcp/.exec(l)?.[1]).find(Boolean)
  )
  const backend = async (name) =>
    ((await (await fetch(`${url}/status`)).json()).backends ?? []).find((b) => b.name === name)
  return {
    url,
    lines,
    backend,
    stop: async () => {
      stop("SIGTERM")
      await exited
    }
  }
}

const crashLoopSeconds = Number(process.argv[2] ?? 60)

const only = process.argv[3]
// 1. A crash-looping backend (exits at once), default backoff, for `crashLoopSeconds`.
if (only === undefined || only === "crash-loop") {
  const log = spawnLog()
  const connection = makeBackendConnection(stdio("crashy", { crash: true, spawnLog: log }))
  const delays = []
  connection.subscribe((e) => e._tag === "Lost" && delays.push(e.restartInMs))
  const t0 = Date.now()
  await connection.started().catch(() => undefined)
  await new Promise((r) => setTimeout(r, crashLoopSeconds * 1000 - (Date.now() - t0)))
  const n = spawns(log)
  console.log(
    `crash loop: ${n} spawns in ${crashLoopSeconds} s (${((n * 60) / crashLoopSeconds).toFixed(1)}/min); restart delays ${delays.join(", ")} ms`
  )
  await connection.close()
}

// 2. A slow starter: 12 s start, health.timeout 10 s, probes every second.
if (only === undefined || only === "slow") {
  const log = spawnLog()
  const t0 = Date.now()
  const app = await startApp({
    health: { interval: "1s", timeout: "10s" },
    backends: [stdio("slow", { startDelayMs: 12_000, spawnLog: log })]
  })
  const seen = new Set()
  await eventually(
    "slow healthy",
    async () => {
      const b = await app.backend("slow")
      if (b !== undefined) seen.add(`${b.health}${b.message === "" ? "" : ` "${b.message}"`}`)
      if (b !== undefined && !seen.has(`@${b.health}/${b.message}`)) {
        seen.add(`@${b.health}/${b.message}`)
        console.log(
          `  ${((Date.now() - t0) / 1000).toFixed(1)} s: ${b.health} ${b.message} (spawns ${spawns(log)})`
        )
      }
      return b?.health === "healthy" ? true : undefined
    },
    120_000
  )
  console.log(
    `slow starter (12 s start, 10 s probe timeout): healthy after ${((Date.now() - t0) / 1000).toFixed(1)} s, ${spawns(log)} spawn(s); seen: ${[...seen].filter((x) => !x.startsWith("@")).join(" → ")}`
  )
  await app.stop()
}

// 3. A SIGKILL: the log line, the /status entry, the metric.
if (only === undefined || only === "kill") {
  const log = spawnLog()
  const app = await startApp({
    health: { interval: "1s", timeout: "10s" },
    backends: [stdio("local", { spawnLog: log, stderr: "local: serving 1 tool" })]
  })
  await eventually("local healthy", async () =>
    (await app.backend("local"))?.health === "healthy" ? true : undefined
  )
  const pid = Number(readFileSync(log, "utf8").split("\n")[0])
  const t0 = Date.now()
  process.kill(pid, "SIGKILL")
  const after = await eventually("restarted", async () => {
    const b = await app.backend("local")
    return b?.restarts === 1 && b.health === "healthy" ? b : undefined
  })
  console.log(`SIGKILL → healthy again after ${((Date.now() - t0) / 1000).toFixed(1)} s`)
  for (const l of app.lines.filter((l) => l.includes("backend local:"))) console.log(`log: ${l}`)
  console.log(`/status backend: ${JSON.stringify(after)}`)
  const metrics = await (await fetch(`${app.url}/metrics`)).text()
  console.log(`metric: ${metrics.split("\n").find((l) => l.startsWith("vmcp_backend_restarts_total"))}`)
  await app.stop()
}
process.exit(0)
