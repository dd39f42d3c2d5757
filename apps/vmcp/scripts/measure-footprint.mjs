// Measures the CLI's footprint (a measurement, not a test): wall time and peak RSS of each
// one-shot command, the modules it loads, and for `serve` the time to /healthz and /readyz and
// the idle RSS of the vmcp process (the stdio backends are separate processes, not counted).
// Needs the built app (`pnpm --filter @vmcp-status/vmcp build`):
//   node apps/vmcp/scripts/measure-footprint.mjs [path/to/cli.js] [runs]
import { spawn, spawnSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"

const here = dirname(fileURLToPath(import.meta.url))
const cli = resolve(process.argv[2] ?? join(here, "../dist/cli.js"))
const runs = Number(process.argv[3] ?? 7)
const example = join(here, "../examples/vmcp.yaml")
const time = "/usr/bin/time"

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

/** Wall seconds and peak RSS (KiB) of one run, from GNU time. */
const once = (args) => {
  const r = spawnSync(time, ["-f", "%e %M", process.execPath, ...args], {
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1" }
  })
  const [wall, rss] = r.stderr.trim().split("\n").at(-1).split(" ").map(Number)
  return { wall, rss, status: r.status }
}

const commands = {
  "node -e 0": ["-e", "0"],
  "--help": [cli, "--help"],
  "--version": [cli, "--version"],
  validate: [cli, "validate", "--config", example],
  manifests: [cli, "manifests", "--name", "vmcp", "--namespace", "tools", "--config", example],
  // Nothing listens on port 9: the command's cost without a server's answer (exit 3).
  status: [cli, "status", "--url", "http://127.0.0.1:9"]
}

console.log(`cli: ${cli}, ${runs} runs each, median wall / max peak RSS`)
for (const [name, args] of Object.entries(commands)) {
  const samples = Array.from({ length: runs }, () => once(args))
  console.log(
    `${name.padEnd(12)} ${median(samples.map((s) => s.wall)).toFixed(3)} s  ${(Math.max(...samples.map((s) => s.rss)) / 1024).toFixed(1)} MiB  (exit ${samples[0].status})`
  )
}

/** The vmcp process's own RSS (KiB), from /proc. */
const rssOf = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))[1])
const poll = async (url) => {
  for (;;) {
    try {
      if ((await fetch(url)).status === 200) return
    } catch {}
    await new Promise((r) => setTimeout(r, 10))
  }
}

const serveRuns = Math.max(3, Math.floor(runs / 2))
const healthz = []
const readyz = []
const idle = []
for (let i = 0; i < serveRuns; i++) {
  const port = 4700 + i * 2
  const start = performance.now()
  const child = spawn(process.execPath, [cli, "serve", "--config", example, "--port", String(port)], {
    stdio: ["ignore", "ignore", "inherit"],
    env: {
      ...process.env,
      ...(process.env.MEASURE_NODE_OPTIONS ? { NODE_OPTIONS: process.env.MEASURE_NODE_OPTIONS } : {})
    }
  })
  await poll(`http://127.0.0.1:${port + 1}/healthz`)
  healthz.push(performance.now() - start)
  await poll(`http://127.0.0.1:${port + 1}/readyz`)
  readyz.push(performance.now() - start)
  // Idle: a few health rounds (interval 2s in the example) after ready.
  await new Promise((r) => setTimeout(r, 10_000))
  idle.push(rssOf(child.pid))
  child.kill("SIGTERM")
  await new Promise((r) => child.once("exit", r))
}
console.log(
  `serve: launch -> /healthz ${(median(healthz) / 1000).toFixed(2)} s, -> /readyz ${(median(readyz) / 1000).toFixed(2)} s, idle RSS ${(median(idle) / 1024).toFixed(1)} MiB (median of ${serveRuns})`
)
