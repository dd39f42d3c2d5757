/**
 * `pnpm bench:gateway` (or `pnpm bench` for everything): the reference app's figures, driven as
 * a user drives it (`node <cli> serve --config <file>` as a child process, a real MCP client),
 * with the references measured in the same run (direct calls, a bare `node:http` server, a bare
 * Node process, `node -e 0`). Writes `bench/results/<date>-gateway.json` and `.md`
 * (`-gateway-quick` with `--quick`). See bench/README.md for what each figure means.
 *
 * Flags: --quick (short phases), --calls N (per side and concurrency), --load-minutes M,
 * --demo-minutes M, --idle-seconds S, --after-load-seconds S, --parts cli,startup,calls,memory,demo,
 * --note "text" (goes into the .md). Env: VMCP_CLI (the cli to run; default this repo's
 * apps/vmcp/dist/cli.js), VMCP_NODE_OPTIONS (NODE_OPTIONS of the vmcp processes; default none).
 */
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createServer } from "node:net"
import { cpus, loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { setTimeout as delay } from "node:timers/promises"
import { fileURLToPath } from "node:url"
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client"
import { readLines } from "./httpBackends.ts"
import {
  type Child,
  childPids,
  cpuSeconds,
  installCleanup,
  memoryMiB,
  startChild,
  waitFor200
} from "./processes.ts"
import { median, percentile, round } from "./stats.ts"

// ---------------------------------------------------------------------------------------------
// Settings

const argv = process.argv.slice(2)
const flag = (name: string) => argv.includes(`--${name}`)
const option = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`)
  if (i >= 0) return argv[i + 1]
  return argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3)
}
const numberOption = (name: string, fallback: number) => {
  const raw = option(name)
  if (raw === undefined) return fallback
  const n = Number(raw)
  if (!Number.isFinite(n) || n < 0)
    throw new Error(`--${name}: expected a number, found ${JSON.stringify(raw)}`)
  return n
}
const QUICK = flag("quick")
const ALL_PARTS = ["cli", "startup", "calls", "memory", "demo"] as const
type Part = (typeof ALL_PARTS)[number]
const PARTS = new Set<Part>(
  (option("parts")?.split(",") as Array<Part> | undefined)?.filter((p) => ALL_PARTS.includes(p)) ?? ALL_PARTS
)
const settings = {
  quick: QUICK,
  callsPerSide: numberOption("calls", QUICK ? 2_000 : 5_000),
  concurrencies: [1, 16, 64],
  launches: numberOption("launches", 5),
  cliRuns: numberOption("cli-runs", 10),
  idleCpuSeconds: numberOption("idle-seconds", QUICK ? 30 : 120),
  /** Idle time after Ready before the idle CPU window: V8 shrinks the start-up heap in 2–3 major GCs over the first ~4 min. */
  idleSettleSeconds: numberOption("idle-settle-seconds", QUICK ? 0 : 240),
  loadMinutes: numberOption("load-minutes", QUICK ? 0.5 : 5),
  loadConcurrency: 16,
  afterLoadSeconds: numberOption("after-load-seconds", QUICK ? 15 : 60),
  demoMinutes: numberOption("demo-minutes", QUICK ? 1 : 10),
  sampleEverySeconds: 10,
  parts: [...PARTS]
}

const ROOT = fileURLToPath(new URL("../../", import.meta.url))
const CLI = process.env.VMCP_CLI ?? join(ROOT, "apps/vmcp/dist/cli.js")
const DEMO = join(ROOT, "apps/vmcp/examples/vmcp.yaml")
const EXAMPLE_BACKENDS = join(ROOT, "apps/vmcp/examples/backends")
const NODE = process.execPath
/** What a user's shell would give vmcp; nothing of pnpm's, and no KUBERNETES_* (so no k8s reporter). */
const VMCP_ENV: NodeJS.ProcessEnv = {
  PATH: process.env.PATH ?? "",
  HOME: process.env.HOME ?? "",
  ...(process.env.VMCP_NODE_OPTIONS ? { NODE_OPTIONS: process.env.VMCP_NODE_OPTIONS } : {})
}

const log = (line: string) => process.stderr.write(`[bench:gateway] ${line}\n`)
const dir = mkdtempSync(join(tmpdir(), "vmcp-bench-gateway-"))
/** The processes' logs are kept only when a run fails. */
let keepLogs = false
process.once("exit", () => {
  if (!keepLogs) rmSync(dir, { recursive: true, force: true })
})
let logCounter = 0
const logFile = (name: string) => join(dir, `${String(++logCounter).padStart(3, "0")}-${name}.log`)

// ---------------------------------------------------------------------------------------------
// Helpers

/**
 * Two consecutive free loopback ports (vmcp's `--port P` puts the admin listener on P + 1), below
 * Linux's ephemeral range (32768+): a port the kernel hands out is free only until the next
 * outgoing connection (the pollers') takes P + 1 as its local port.
 */
const freePortPair = async (): Promise<number> => {
  const bind = (port: number) =>
    new Promise<import("node:net").Server | undefined>((resolve) => {
      const server = createServer()
      server.once("error", () => resolve(undefined))
      server.listen(port, "127.0.0.1", () => resolve(server))
    })
  for (let attempt = 0; attempt < 50; attempt++) {
    const first = await bind(20_000 + Math.floor(Math.random() * 12_000))
    if (first === undefined) continue
    const port = (first.address() as { port: number }).port
    const second = port < 65535 ? await bind(port + 1) : undefined
    await new Promise((resolve) => first.close(resolve))
    if (second !== undefined) {
      await new Promise((resolve) => second.close(resolve))
      return port
    }
  }
  throw new Error("no two consecutive free loopback ports found in 50 attempts")
}

/** A config file (JSON is YAML) for `vmcp serve`: loopback, auth none, the given backends. */
const writeConfig = (name: string, port: number, body: Record<string, unknown>) => {
  const file = join(dir, `${name}.yaml`)
  writeFileSync(
    file,
    JSON.stringify(
      {
        name,
        listen: { host: "127.0.0.1", port, admin: { host: "127.0.0.1", port: port + 1 } },
        auth: { mode: "none" },
        ...body
      },
      null,
      2
    )
  )
  return file
}

/** The demo's three stdio backends (examples/backends), by absolute path; `flakyUp: 0` keeps flaky up. */
const exampleBackends = (flaky: { up: string; down: string }) => [
  { name: "clock", transport: "stdio", command: "node", args: [join(EXAMPLE_BACKENDS, "clock.ts")] },
  { name: "echo", transport: "stdio", command: "node", args: [join(EXAMPLE_BACKENDS, "echo.ts")] },
  {
    name: "flaky",
    transport: "stdio",
    command: "node",
    args: [join(EXAMPLE_BACKENDS, "flaky.ts")],
    env: { FLAKY_UP_SECONDS: flaky.up, FLAKY_DOWN_SECONDS: flaky.down }
  }
]

interface Vmcp {
  readonly child: Child
  readonly port: number
  readonly mcpUrl: string
  readonly admin: string
  readonly startedAt: number
}

const startVmcp = (name: string, args: ReadonlyArray<string>, port: number): Vmcp => {
  const startedAt = performance.now()
  const child = startChild(NODE, [CLI, "serve", ...args], { logFile: logFile(name), env: VMCP_ENV })
  return {
    child,
    port,
    mcpUrl: `http://127.0.0.1:${port}/mcp`,
    admin: `http://127.0.0.1:${port + 1}`,
    startedAt
  }
}

/** `vmcp serve` with `config`, resolved once /readyz answers 200. */
const readyVmcp = async (name: string, config: string, port: number) => {
  const vmcp = startVmcp(name, ["--config", config], port)
  await waitFor200(`${vmcp.admin}/readyz`, vmcp.child, 50, 120_000)
  return vmcp
}

/** The bench's Streamable HTTP backend (src/mcpBackend.ts) in its own process. */
const startBackend = async () => {
  const child = startChild(NODE, [fileURLToPath(new URL("./mcpBackend.ts", import.meta.url))], {
    logFile: logFile("backend"),
    stdin: "pipe",
    stdout: "pipe"
  })
  const line = await Promise.race([
    readLines(child.process.stdout as NonNullable<typeof child.process.stdout>).next(),
    child.exited.then((code) => {
      throw new Error(`the bench backend exited (${code}); see ${child.logFile}`)
    })
  ])
  return { child, url: (JSON.parse(line) as { url: string }).url }
}

const connectClient = async (url: string) => {
  const client = new Client({ name: "vmcp-bench", version: "0.0.0" })
  await client.connect(new StreamableHTTPClientTransport(new URL(url)))
  return client
}

const closeClients = (clients: ReadonlyArray<Client>) =>
  Promise.allSettled(clients.map((c) => c.close())).then(() => undefined)

const callOnce = async (client: Client, tool: string) => {
  const result = await client.callTool({ name: tool, arguments: { text: "hello" } })
  if (result.isError === true) throw new Error(`${tool}: ${JSON.stringify(result.content)}`)
  return result
}

/** `calls` tool calls spread over `clients`, each client one call at a time; latencies in ms. */
const callBlock = async (clients: ReadonlyArray<Client>, tool: string, calls: number) => {
  const perClient = Math.ceil(calls / clients.length)
  const latencies: Array<number> = []
  let errors = 0
  let firstError: string | undefined
  const t0 = performance.now()
  await Promise.all(
    clients.map(async (client) => {
      for (let i = 0; i < perClient; i++) {
        const start = performance.now()
        try {
          await callOnce(client, tool)
          latencies.push(performance.now() - start)
        } catch (error) {
          errors++
          firstError ??= error instanceof Error ? error.message : String(error)
        }
      }
    })
  )
  return { ms: performance.now() - t0, latencies, errors, firstError }
}

const summary = (latencies: ReadonlyArray<number>) => ({
  p50: round(percentile(latencies, 50), 3),
  p90: round(percentile(latencies, 90), 3),
  p99: round(percentile(latencies, 99), 3)
})

const rssSample = (pid: number, startedAt: number) => {
  const m = memoryMiB(pid)
  return { t: round((performance.now() - startedAt) / 1_000), rssMiB: round(m.rss), hwmMiB: round(m.hwm) }
}

/** CPU seconds of `pid` and, separately, of its children (stdio backends). */
const cpuOfTree = (pid: number) => ({
  self: cpuSeconds(pid) ?? Number.NaN,
  children: childPids(pid).reduce((sum, child) => sum + (cpuSeconds(child) ?? 0), 0)
})

/** Samples RSS (and CPU) of `pid` every `everyS` seconds while `work` runs. */
const sampling = (pid: number, startedAt: number, everyS = settings.sampleEverySeconds) => {
  const samples: Array<ReturnType<typeof rssSample> & { cpuS: number }> = []
  const take = () =>
    samples.push({ ...rssSample(pid, startedAt), cpuS: round(cpuSeconds(pid) ?? Number.NaN, 2) })
  take()
  const timer = setInterval(take, everyS * 1_000)
  return {
    samples,
    stop: () => {
      clearInterval(timer)
      take()
      return samples
    }
  }
}

const bareNodeRss = async () => {
  const child = startChild(NODE, ["-e", "setInterval(()=>{},1e3)"], { logFile: logFile("bare-node") })
  await delay(1_000)
  const m = memoryMiB(child.pid)
  await child.stop()
  return { rssMiB: round(m.rss), hwmMiB: round(m.hwm) }
}

// ---------------------------------------------------------------------------------------------
// 4. CLI wall time and peak RSS

const GNU_TIME = "/usr/bin/time"
/** Peak RSS (KiB) of one run: GNU time's %M, else a preload that records process.resourceUsage().maxRSS on exit. */
const peakRssKiB = (args: ReadonlyArray<string>): number => {
  const out = join(dir, "maxrss")
  rmSync(out, { force: true })
  if (existsSync(GNU_TIME)) {
    spawnSync(GNU_TIME, ["-f", "%M", "-o", out, NODE, ...args], { env: VMCP_ENV, stdio: "ignore" })
  } else {
    const preload = `data:text/javascript,${encodeURIComponent(
      `import{writeFileSync}from"node:fs";process.on("exit",()=>writeFileSync(${JSON.stringify(out)},String(process.resourceUsage().maxRSS)))`
    )}`
    spawnSync(NODE, ["--import", preload, ...args], { env: VMCP_ENV, stdio: "ignore" })
  }
  return Number(readFileSync(out, "utf8").trim().split("\n").pop())
}

const cliFigures = () => {
  const commands: Array<[string, Array<string>]> = [
    ["node -e 0", ["-e", "0"]],
    ["vmcp --help", [CLI, "--help"]],
    ["vmcp --version", [CLI, "--version"]],
    ["vmcp status --help", [CLI, "status", "--help"]],
    ["vmcp validate --config <demo>", [CLI, "validate", "--config", DEMO]],
    [
      "vmcp manifests --name bench --namespace bench --config <demo>",
      [CLI, "manifests", "--name", "bench", "--namespace", "bench", "--config", DEMO]
    ]
  ]
  const walls = new Map<string, Array<number>>(commands.map(([name]) => [name, []]))
  const exits = new Map<string, number | null>()
  // Round-robin, so a busy moment of the machine spreads over every command.
  for (let run = 0; run < settings.cliRuns + 1; run++)
    for (const [name, args] of commands) {
      const t0 = performance.now()
      const result = spawnSync(NODE, args, { env: VMCP_ENV, stdio: "ignore" })
      const ms = performance.now() - t0
      exits.set(name, result.status)
      if (run > 0) walls.get(name)?.push(ms) // run 0 warms the page cache
    }
  const rss = new Map<string, Array<number>>(commands.map(([name]) => [name, []]))
  for (let run = 0; run < 3; run++)
    for (const [name, args] of commands) rss.get(name)?.push(peakRssKiB(args) / 1024)
  const baseWall = median(walls.get("node -e 0") ?? [])
  return {
    peakRssBy: existsSync(GNU_TIME) ? "GNU time %M" : "process.resourceUsage().maxRSS preload",
    commands: commands.map(([name]) => ({
      command: name,
      exitCode: exits.get(name),
      wallMsMedian: round(median(walls.get(name) ?? [])),
      wallMsP90: round(percentile(walls.get(name) ?? [], 90)),
      wallVsNodeE0: round(median(walls.get(name) ?? []) / baseWall, 2),
      peakRssMiB: round(median(rss.get(name) ?? [])),
      runs: walls.get(name)?.length ?? 0
    }))
  }
}

// ---------------------------------------------------------------------------------------------
// 2. Start-up: launch → /healthz 200, → /readyz 200

/** Polls /healthz and /readyz together every 10 ms; ms from spawn to each first 200. */
const launchTimes = async (name: string, args: ReadonlyArray<string>, port: number) => {
  const vmcp = startVmcp(name, args, port)
  try {
    const [healthz, readyz] = await Promise.all([
      waitFor200(`${vmcp.admin}/healthz`, vmcp.child, 10, 120_000),
      waitFor200(`${vmcp.admin}/readyz`, vmcp.child, 10, 120_000)
    ])
    const rss = memoryMiB(vmcp.child.pid).rss
    return { healthzMs: healthz - vmcp.startedAt, readyzMs: readyz - vmcp.startedAt, rssAtReadyMiB: rss }
  } finally {
    await vmcp.child.stop()
  }
}

const bareHttpLaunch = async () => {
  const port = await freePortPair()
  const t0 = performance.now()
  const child = startChild(
    NODE,
    ["-e", `require("node:http").createServer((q,s)=>s.end("ok")).listen(${port},"127.0.0.1")`],
    { logFile: logFile("bare-http") }
  )
  try {
    return (await waitFor200(`http://127.0.0.1:${port}/`, child, 10, 60_000)) - t0
  } finally {
    await child.stop()
  }
}

const startupFigures = async (httpBackendUrl: string) => {
  const demo: Array<Awaited<ReturnType<typeof launchTimes>>> = []
  const http: Array<Awaited<ReturnType<typeof launchTimes>>> = []
  const bare: Array<number> = []
  for (let i = 0; i < settings.launches; i++) {
    const p1 = await freePortPair()
    demo.push(await launchTimes("launch-demo", ["--config", DEMO, "--port", String(p1)], p1))
    const p2 = await freePortPair()
    const config = writeConfig("launch-http", p2, {
      backends: [{ name: "bench", transport: "streamable-http", url: httpBackendUrl }]
    })
    http.push(await launchTimes("launch-http", ["--config", config], p2))
    bare.push(await bareHttpLaunch())
    log(
      `  launch ${i + 1}/${settings.launches}: demo ${round(demo[i]?.healthzMs ?? 0)}/${round(demo[i]?.readyzMs ?? 0)} ms, http ${round(http[i]?.healthzMs ?? 0)}/${round(http[i]?.readyzMs ?? 0)} ms, bare ${round(bare[i] ?? 0)} ms`
    )
  }
  const of = (rows: typeof demo) => ({
    healthzMsMedian: round(median(rows.map((r) => r.healthzMs))),
    readyzMsMedian: round(median(rows.map((r) => r.readyzMs))),
    rssAtReadyMiBMedian: round(median(rows.map((r) => r.rssAtReadyMiB))),
    healthzMs: rows.map((r) => round(r.healthzMs)),
    readyzMs: rows.map((r) => round(r.readyzMs))
  })
  return {
    launches: settings.launches,
    pollEveryMs: 10,
    demo3Stdio: of(demo),
    http1: of(http),
    bareNodeHttp: { firstOkMsMedian: round(median(bare)), firstOkMs: bare.map((b) => round(b)) }
  }
}

// ---------------------------------------------------------------------------------------------
// 1. tools/call through vmcp vs direct

const callFigures = async (backend: { child: Child; url: string }) => {
  const port = await freePortPair()
  // Raised so 64 sessions from one address (this bench) are not the limits' business.
  const config = writeConfig("calls", port, {
    limits: { maxSessionsPerClient: 256, maxConcurrentCalls: 256 },
    backends: [{ name: "bench", transport: "streamable-http", url: backend.url }]
  })
  const vmcp = await readyVmcp("calls", config, port)
  const rows = []
  try {
    for (const concurrency of settings.concurrencies) {
      const sides = {
        direct: { clients: [] as Array<Client>, tool: "echo" },
        vmcp: { clients: [] as Array<Client>, tool: "bench_echo" }
      }
      for (let i = 0; i < concurrency; i++) {
        sides.direct.clients.push(await connectClient(backend.url))
        sides.vmcp.clients.push(await connectClient(vmcp.mcpUrl))
      }
      const blockCalls = Math.max(250, 8 * concurrency)
      const blocks = Math.max(2, Math.ceil(settings.callsPerSide / blockCalls))
      // Warm-up (JIT, connections), not counted.
      for (const side of Object.values(sides))
        await callBlock(side.clients, side.tool, Math.max(200, 4 * concurrency))
      const acc = {
        direct: {
          latencies: [] as Array<number>,
          ms: 0,
          errors: 0,
          backendCpu: 0,
          firstError: undefined as string | undefined
        },
        vmcp: {
          latencies: [] as Array<number>,
          ms: 0,
          errors: 0,
          backendCpu: 0,
          gatewayCpu: 0,
          firstError: undefined as string | undefined
        }
      }
      let clientCpuMicros = 0
      // ABBA order: direct, vmcp, vmcp, direct, ... so a drift of the machine hits both sides alike.
      for (let b = 0; b < blocks * 2; b++) {
        const which = (b % 4 === 0 || b % 4 === 3 ? "direct" : "vmcp") as "direct" | "vmcp"
        const side = sides[which]
        const gw0 = cpuSeconds(vmcp.child.pid) ?? Number.NaN
        const be0 = cpuSeconds(backend.child.pid) ?? Number.NaN
        const cl0 = process.cpuUsage()
        const block = await callBlock(side.clients, side.tool, blockCalls)
        const cl = process.cpuUsage(cl0)
        clientCpuMicros += cl.user + cl.system
        const a = acc[which]
        a.latencies.push(...block.latencies)
        a.ms += block.ms
        a.errors += block.errors
        a.firstError ??= block.firstError
        a.backendCpu += (cpuSeconds(backend.child.pid) ?? Number.NaN) - be0
        if (which === "vmcp") acc.vmcp.gatewayCpu += (cpuSeconds(vmcp.child.pid) ?? Number.NaN) - gw0
      }
      await closeClients([...sides.direct.clients, ...sides.vmcp.clients])
      const side = (which: "direct" | "vmcp") => {
        const a = acc[which]
        const calls = a.latencies.length
        return {
          calls,
          errors: a.errors,
          ...(a.firstError ? { firstError: a.firstError } : {}),
          ...summary(a.latencies),
          callsPerSecond: round((calls / a.ms) * 1_000),
          backendCpuMsPerCall: round((a.backendCpu * 1_000) / calls, 3)
        }
      }
      const direct = side("direct")
      const via = {
        ...side("vmcp"),
        gatewayCpuMsPerCall: round((acc.vmcp.gatewayCpu * 1_000) / acc.vmcp.latencies.length, 3)
      }
      const row = {
        concurrency,
        clientsAreSessions: true,
        direct,
        vmcp: via,
        addedP50Ms: round(via.p50 - direct.p50, 3),
        addedP99Ms: round(via.p99 - direct.p99, 3),
        p50Ratio: round(via.p50 / direct.p50, 2),
        p99Ratio: round(via.p99 / direct.p99, 2),
        throughputRatio: round(via.callsPerSecond / direct.callsPerSecond, 2),
        clientCpuMsPerCall: round(clientCpuMicros / 1_000 / (direct.calls + via.calls), 3)
      }
      log(
        `  concurrency ${concurrency}: p50 ${direct.p50} → ${via.p50} ms, p99 ${direct.p99} → ${via.p99} ms, ${direct.callsPerSecond} → ${via.callsPerSecond} calls/s, gateway CPU ${via.gatewayCpuMsPerCall} ms/call${direct.errors + via.errors > 0 ? `, errors ${direct.errors}/${via.errors}: ${direct.firstError ?? via.firstError}` : ""}`
      )
      rows.push(row)
    }
  } finally {
    await vmcp.child.stop()
  }
  return rows
}

// ---------------------------------------------------------------------------------------------
// 3. RSS: idle after Ready, under call load, after the load; idle CPU

const memoryFigures = async () => {
  const port = await freePortPair()
  // The demo's three stdio backends with production health settings (30 s interval); flaky stays up.
  const config = writeConfig("memory", port, { backends: exampleBackends({ up: "0", down: "12" }) })
  const vmcp = await readyVmcp("memory", config, port)
  try {
    const pid = vmcp.child.pid
    const atReady = rssSample(pid, vmcp.startedAt)
    log(
      `  Ready after ${atReady.t} s, RSS ${atReady.rssMiB} MiB; idle for ${settings.idleCpuSeconds} s (CPU)`
    )
    const settle0 = cpuOfTree(pid)
    if (settings.idleSettleSeconds > 0) {
      log(`  settling for ${settings.idleSettleSeconds} s before the idle CPU window`)
      await delay(settings.idleSettleSeconds * 1_000)
    }
    const idleSampler = sampling(pid, vmcp.startedAt)
    const cpu0 = cpuOfTree(pid)
    await delay(settings.idleCpuSeconds * 1_000)
    const cpu1 = cpuOfTree(pid)
    const idleSamples = idleSampler.stop()
    const idle = idleSamples[idleSamples.length - 1] ?? atReady
    const minutes = settings.idleCpuSeconds / 60
    // The window starts at Ready, so it holds V8's one-off GC that shrinks the heap after start;
    // leaving out the busiest 10 s interval shows the steady cost (the health rounds) alone.
    const steps = idleSamples.slice(1).map((s, i) => ({
      cpu: s.cpuS - (idleSamples[i]?.cpuS ?? 0),
      t: s.t - (idleSamples[i]?.t ?? 0)
    }))
    const busiest = steps.reduce((max, step) => (step.cpu > max.cpu ? step : max), { cpu: 0, t: 0 })
    const idleSpanS = steps.reduce((sum, step) => sum + step.t, 0)
    const idleCpu = steps.reduce((sum, step) => sum + step.cpu, 0)
    log(`  call load: ${settings.loadConcurrency} clients for ${settings.loadMinutes} min`)
    const clients = await Promise.all(
      Array.from({ length: settings.loadConcurrency }, () => connectClient(vmcp.mcpUrl))
    )
    const loadSampler = sampling(pid, vmcp.startedAt)
    const loadCpu0 = cpuSeconds(pid) ?? Number.NaN
    const until = performance.now() + settings.loadMinutes * 60_000
    let calls = 0
    let errors = 0
    await Promise.all(
      clients.map(async (client) => {
        while (performance.now() < until) {
          try {
            await callOnce(client, "echo_echo")
            calls++
          } catch {
            errors++
          }
        }
      })
    )
    const loadCpu = (cpuSeconds(pid) ?? Number.NaN) - loadCpu0
    const loadSamples = loadSampler.stop()
    const endOfLoad = loadSamples[loadSamples.length - 1] ?? idle
    await closeClients(clients)
    log(
      `  ${calls} calls (${errors} errors); RSS ${endOfLoad.rssMiB} MiB; waiting ${settings.afterLoadSeconds} s`
    )
    const afterSampler = sampling(pid, vmcp.startedAt)
    await delay(settings.afterLoadSeconds * 1_000)
    const afterSamples = afterSampler.stop()
    const after = afterSamples[afterSamples.length - 1] ?? endOfLoad
    return {
      config: "examples' clock, echo, flaky (kept up) over stdio; health defaults (30 s interval)",
      readyAfterS: atReady.t,
      rssAtReadyMiB: atReady.rssMiB,
      rssIdleMiB: idle.rssMiB,
      idleSeconds: settings.idleCpuSeconds,
      idleSettleSeconds: settings.idleSettleSeconds,
      settleCpuSecondsPerMinute:
        settings.idleSettleSeconds > 0
          ? round((cpu0.self - settle0.self) / (settings.idleSettleSeconds / 60), 4)
          : null,
      idleCpuSecondsPerMinute: round((cpu1.self - cpu0.self) / minutes, 4),
      idleCpuSecondsPerMinuteWithoutBusiest10s:
        idleSpanS - busiest.t > 0 ? round(((idleCpu - busiest.cpu) / (idleSpanS - busiest.t)) * 60, 4) : null,
      idleCpuBusiest10s: { cpuSeconds: round(busiest.cpu, 3) },
      idleCpuSecondsPerMinuteStdioBackends: round((cpu1.children - cpu0.children) / minutes, 4),
      load: {
        minutes: settings.loadMinutes,
        concurrency: settings.loadConcurrency,
        tool: "echo_echo (stdio)",
        calls,
        errors,
        callsPerSecond: round(calls / (settings.loadMinutes * 60)),
        gatewayCpuMsPerCall: round((loadCpu * 1_000) / calls, 3),
        rssMaxMiB: Math.max(...loadSamples.map((s) => s.rssMiB)),
        rssEndMiB: endOfLoad.rssMiB
      },
      afterLoad: { seconds: settings.afterLoadSeconds, rssMiB: after.rssMiB },
      hwmMiB: after.hwmMiB,
      samples: { idle: idleSamples, load: loadSamples, afterLoad: afterSamples }
    }
  } finally {
    await vmcp.child.stop()
  }
}

// ---------------------------------------------------------------------------------------------
// 3b. The demo config running for M minutes (flaky cycling), RSS every 10 s

const demoFigures = async () => {
  const port = await freePortPair()
  const vmcp = startVmcp("demo", ["--config", DEMO, "--port", String(port)], port)
  try {
    await waitFor200(`${vmcp.admin}/readyz`, vmcp.child, 50, 120_000)
    const sampler = sampling(vmcp.child.pid, vmcp.startedAt)
    await delay(settings.demoMinutes * 60_000)
    const samples = sampler.stop()
    const first = samples[0]
    const last = samples[samples.length - 1]
    const rss = samples.map((s) => s.rssMiB)
    // Growth: the least-squares slope of RSS over the second half of the run, so V8's one-off
    // shrink of the heap a minute or two after start does not hide (or fake) a trend.
    const half = samples.slice(Math.floor(samples.length / 2))
    const mean = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0) / xs.length
    const mt = mean(half.map((s) => s.t))
    const mr = mean(half.map((s) => s.rssMiB))
    const covariance = half.reduce((sum, s) => sum + (s.t - mt) * (s.rssMiB - mr), 0)
    const variance = half.reduce((sum, s) => sum + (s.t - mt) ** 2, 0)
    return {
      config: "apps/vmcp/examples/vmcp.yaml as shipped (health every 2 s, flaky up 20 s / down 12 s), --port",
      minutes: settings.demoMinutes,
      rssFirstMiB: first?.rssMiB,
      rssLastMiB: last?.rssMiB,
      rssMinMiB: Math.min(...rss),
      rssMaxMiB: Math.max(...rss),
      rssGrowthSecondHalfMiBPerMinute: variance > 0 ? round((covariance / variance) * 60, 2) : null,
      cpuSecondsPerMinute:
        first && last ? round((last.cpuS - first.cpuS) / ((last.t - first.t) / 60), 3) : null,
      hwmMiB: last?.hwmMiB,
      samples
    }
  } finally {
    await vmcp.child.stop()
  }
}

// ---------------------------------------------------------------------------------------------
// Run

installCleanup()
if (!existsSync(CLI)) {
  log(`no vmcp cli at ${CLI}: build it (pnpm turbo run build --filter=@vmcp-status/vmcp...) or set VMCP_CLI`)
  process.exit(2)
}
const started = performance.now()
const results: Record<string, unknown> = {
  date: new Date().toISOString(),
  node: spawnSync(NODE, ["--version"]).stdout.toString().trim(),
  cliPath: CLI,
  vmcpVersion: spawnSync(NODE, [CLI, "--version"], { env: VMCP_ENV }).stdout.toString().trim(),
  vmcpNodeOptions: process.env.VMCP_NODE_OPTIONS ?? "",
  cpus: cpus().length,
  loadAverageAtStart: loadavg().map((l) => round(l, 2)),
  settings
}
log(`cli ${CLI} (${results.vmcpVersion as string}), node ${results.node as string}; logs in ${dir}`)
let failed: unknown
try {
  if (PARTS.has("cli")) {
    log(`CLI: wall time (${settings.cliRuns} runs) and peak RSS per command`)
    results.cli = cliFigures()
  }
  const backend = PARTS.has("startup") || PARTS.has("calls") ? await startBackend() : undefined
  try {
    if (backend !== undefined && PARTS.has("startup")) {
      log(
        `start-up: ${settings.launches} launches each of the demo (3 stdio), 1 HTTP backend, bare node:http`
      )
      results.startup = await startupFigures(backend.url)
    }
    if (backend !== undefined && PARTS.has("calls")) {
      log(
        `tools/call: direct vs vmcp, ${settings.callsPerSide} calls per side at concurrency ${settings.concurrencies.join("/")}`
      )
      results.calls = await callFigures(backend)
    }
  } finally {
    await backend?.child.stop()
  }
  if (PARTS.has("memory")) {
    log("memory: idle, idle CPU, call load, after the load")
    results.memory = await memoryFigures()
    results.bareNode = await bareNodeRss()
  }
  if (PARTS.has("demo")) {
    log(`demo config running for ${settings.demoMinutes} min`)
    results.demo = await demoFigures()
  }
} catch (error) {
  failed = error
  results.error = error instanceof Error ? error.message : String(error)
}
results.loadAverageAtEnd = loadavg().map((l) => round(l, 2))
results.benchSeconds = round((performance.now() - started) / 1_000)

// ---------------------------------------------------------------------------------------------
// Report

type Calls = Awaited<ReturnType<typeof callFigures>>
type Cli = ReturnType<typeof cliFigures>
type Startup = Awaited<ReturnType<typeof startupFigures>>
type Memory = Awaited<ReturnType<typeof memoryFigures>>
type Demo = Awaited<ReturnType<typeof demoFigures>>
const r = results as {
  calls?: Calls
  cli?: Cli
  startup?: Startup
  memory?: Memory
  demo?: Demo
  bareNode?: { rssMiB: number }
}
const MB_IN_MIB = 1e6 / 2 ** 20
const met = (ok: boolean | undefined) => (ok === undefined ? "-" : ok ? "yes" : "**no**")
const goalRows: Array<[string, string, string, string, string]> = []
if (r.memory)
  goalRows.push(
    [
      "vmcp serve RSS idle, 3 stdio backends (MiB)",
      `${r.memory.rssIdleMiB} (at Ready ${r.memory.rssAtReadyMiB})`,
      r.bareNode ? `bare Node ${r.bareNode.rssMiB}` : "-",
      "≤ 90 MB (85.8 MiB)",
      met(r.memory.rssIdleMiB <= 90 * MB_IN_MIB)
    ],
    [
      `RSS under call load (conc ${r.memory.load.concurrency}, ${r.memory.load.minutes} min; MiB)`,
      `max ${r.memory.load.rssMaxMiB} (${round(r.memory.load.rssMaxMiB / r.memory.rssIdleMiB, 2)}× idle); ${r.memory.afterLoad.seconds} s after: ${r.memory.afterLoad.rssMiB}; VmHWM ${r.memory.hwmMiB}`,
      "-",
      "≤ 2× idle",
      met(r.memory.load.rssMaxMiB <= 2 * r.memory.rssIdleMiB)
    ]
  )
if (r.cli) {
  const base = r.cli.commands.find((c) => c.command === "node -e 0")
  for (const name of ["vmcp --help", "vmcp validate --config <demo>"]) {
    const c = r.cli.commands.find((x) => x.command === name)
    if (c && base)
      goalRows.push([
        `CLI \`${name}\` wall, median (ms)`,
        `${c.wallMsMedian} (${c.wallVsNodeE0}×)`,
        `\`node -e 0\` ${base.wallMsMedian}`,
        "≤ 1.5× `node -e 0`",
        met(c.wallVsNodeE0 <= 1.5)
      ])
  }
}
if (r.startup)
  for (const [label, s] of [
    ["3 stdio backends (demo)", r.startup.demo3Stdio],
    ["1 HTTP backend", r.startup.http1]
  ] as const)
    goalRows.push([
      `launch → /healthz, → /readyz, ${label} (ms, median of ${r.startup.launches})`,
      `${s.healthzMsMedian}, ${s.readyzMsMedian}`,
      `bare node:http ${r.startup.bareNodeHttp.firstOkMsMedian}`,
      "≤ 400, ≤ 1 000",
      met(s.healthzMsMedian <= 400 && s.readyzMsMedian <= 1_000)
    ])
if (r.calls) {
  for (const c of r.calls)
    goalRows.push([
      `tools/call, concurrency ${c.concurrency}: p50 / p99 (ms)`,
      `${c.vmcp.p50} / ${c.vmcp.p99} (added p50 ${c.addedP50Ms}; p99 ${c.p99Ratio}×)`,
      `direct ${c.direct.p50} / ${c.direct.p99}`,
      "added p50 ≤ 0.5 ms; p99 ≤ 1.3× direct",
      met(c.addedP50Ms <= 0.5 && c.p99Ratio <= 1.3)
    ])
  for (const c of r.calls)
    goalRows.push([
      `throughput, concurrency ${c.concurrency} (calls/s)`,
      `${c.vmcp.callsPerSecond} (${c.throughputRatio}×)`,
      `direct ${c.direct.callsPerSecond}`,
      "≥ 0.85× direct",
      met(c.throughputRatio >= 0.85)
    ])
  for (const c of r.calls)
    goalRows.push([
      `gateway CPU per call, concurrency ${c.concurrency} (ms)`,
      String(c.vmcp.gatewayCpuMsPerCall),
      `backend ${c.direct.backendCpuMsPerCall} direct, ${c.vmcp.backendCpuMsPerCall} via vmcp`,
      "≤ 0.3 ms",
      met(c.vmcp.gatewayCpuMsPerCall <= 0.3)
    ])
}
if (r.memory)
  goalRows.push([
    `idle CPU, 3 stdio backends, 30 s interval (CPU-s/min over ${r.memory.idleSeconds} s${r.memory.idleSettleSeconds > 0 ? `, after ${r.memory.idleSettleSeconds} s settling at ${r.memory.settleCpuSecondsPerMinute}` : ", from Ready"})`,
    `${r.memory.idleCpuSecondsPerMinute} (${r.memory.idleCpuSecondsPerMinuteWithoutBusiest10s} without the busiest 10 s, which took ${r.memory.idleCpuBusiest10s.cpuSeconds} CPU-s)`,
    `the 3 backends: ${r.memory.idleCpuSecondsPerMinuteStdioBackends}`,
    "≤ 0.05",
    met(r.memory.idleCpuSecondsPerMinute <= 0.05)
  ])
if (r.demo)
  goalRows.push([
    `demo config for ${r.demo.minutes} min: RSS first → last, min–max (MiB)`,
    `${r.demo.rssFirstMiB} → ${r.demo.rssLastMiB}, ${r.demo.rssMinMiB}–${r.demo.rssMaxMiB}; second half ${r.demo.rssGrowthSecondHalfMiBPerMinute} MiB/min; ${r.demo.cpuSecondsPerMinute} CPU-s/min`,
    "-",
    "no growth",
    "see samples"
  ])
const table = [
  "| figure | vmcp | reference | goal | met |",
  "| --- | --- | --- | --- | --- |",
  ...goalRows.map((row) => `| ${row.join(" | ")} |`)
].join("\n")
const cliTable = r.cli
  ? [
      "",
      `CLI, median of ${settings.cliRuns} runs (peak RSS: ${r.cli.peakRssBy}, median of 3):`,
      "",
      "| command | exit | wall median (ms) | wall p90 (ms) | × `node -e 0` | peak RSS (MiB) |",
      "| --- | --- | --- | --- | --- | --- |",
      ...r.cli.commands.map(
        (c) =>
          `| \`${c.command}\` | ${c.exitCode} | ${c.wallMsMedian} | ${c.wallMsP90} | ${c.wallVsNodeE0} | ${c.peakRssMiB} |`
      )
    ].join("\n")
  : ""
const callTable = r.calls
  ? [
      "",
      "tools/call, N clients (one 2025-era session each, one call in flight each); backend in its own process:",
      "",
      "| concurrency | side | calls | errors | p50 | p90 | p99 (ms) | calls/s | gateway CPU ms/call | backend CPU ms/call |",
      "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
      ...r.calls.flatMap((c) => [
        `| ${c.concurrency} | direct | ${c.direct.calls} | ${c.direct.errors} | ${c.direct.p50} | ${c.direct.p90} | ${c.direct.p99} | ${c.direct.callsPerSecond} | - | ${c.direct.backendCpuMsPerCall} |`,
        `| ${c.concurrency} | vmcp | ${c.vmcp.calls} | ${c.vmcp.errors} | ${c.vmcp.p50} | ${c.vmcp.p90} | ${c.vmcp.p99} | ${c.vmcp.callsPerSecond} | ${c.vmcp.gatewayCpuMsPerCall} | ${c.vmcp.backendCpuMsPerCall} |`
      ])
    ].join("\n")
  : ""
const memoryLines = r.memory
  ? [
      "",
      `Memory: RSS at Ready ${r.memory.rssAtReadyMiB} MiB (${r.memory.readyAfterS} s after launch), idle ${r.memory.rssIdleMiB} MiB after ${r.memory.idleSeconds} s; load ${r.memory.load.calls} calls of echo_echo (stdio) by ${r.memory.load.concurrency} clients, ${r.memory.load.callsPerSecond} calls/s, ${r.memory.load.errors} errors, gateway CPU ${r.memory.load.gatewayCpuMsPerCall} ms/call; RSS samples every ${settings.sampleEverySeconds} s in the .json.`
    ].join("\n")
  : ""
const note = option("note")
const md = `# Gateway bench ${results.date as string}${QUICK ? " (quick)" : ""}

\`pnpm bench:gateway${QUICK ? " --quick" : ""}\`; node ${results.node as string}, vmcp ${results.vmcpVersion as string}, ${results.cpus as number} CPUs, load average ${(results.loadAverageAtStart as Array<number>).join(" ")} at the start, ${(results.loadAverageAtEnd as Array<number>).join(" ")} at the end${process.env.VMCP_NODE_OPTIONS ? `; vmcp NODE_OPTIONS=${process.env.VMCP_NODE_OPTIONS}` : ""}.${note ? `\n\n${note}` : ""}${results.error ? `\n\n**The run failed:** ${results.error as string}` : ""}

${table}
${cliTable}
${callTable}
${memoryLines}

bench took ${results.benchSeconds as number} s
`
console.log(md)
const resultsDir = fileURLToPath(new URL("../results/", import.meta.url))
mkdirSync(resultsDir, { recursive: true })
const stem = `${new Date().toISOString().slice(0, 10)}-gateway${QUICK ? "-quick" : ""}`
writeFileSync(join(resultsDir, `${stem}.json`), `${JSON.stringify(results, null, 2)}\n`)
writeFileSync(join(resultsDir, `${stem}.md`), md)
log(`wrote bench/results/${stem}.json and .md (${results.benchSeconds as number} s)`)
if (failed !== undefined) {
  keepLogs = true
  log(`failed; the processes' logs are kept in ${dir}`)
  throw failed
}
