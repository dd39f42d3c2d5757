/**
 * `pnpm bench`: our k8s reporter side by side with a seed-style baseline (GET + full PUT every
 * interval) on one real API server, in one run. Prints one table and writes
 * `bench/results/<date>.json` and `.md`. See bench/README.md for what each figure means.
 */
import { execFileSync, spawn } from "node:child_process"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { setTimeout as delay } from "node:timers/promises"
import { fileURLToPath } from "node:url"
import { type RuntimeStatus, stableJson, start } from "@vmcp-status/core"
import { makeK8sReporter, toStatusPayload } from "@vmcp-status/k8s"
import {
  type FaultProxyHandle,
  kubeClient,
  kubeconfigYaml,
  startFaultProxy,
  startKubeApiServer
} from "@vmcp-status/testkit"
import { startBaseline } from "./baseline.ts"
import { readLines, startHttpBackends } from "./httpBackends.ts"
import { percentile, round } from "./stats.ts"
import { statusOf, variantOf } from "./statuses.ts"
import { watchObject } from "./watch.ts"

const CRD = fileURLToPath(new URL("../../packages/k8s/crd/virtualmcpservers.yaml", import.meta.url))
/** Simulated time runs this much faster than real time where a scenario says "compressed". */
const COMPRESSION = 1000
const INTERVAL_MS = 30_000
const RESYNC_MS = 5 * 60_000
const HOUR_MS = 3_600_000

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`)
const writesOf = (proxy: FaultProxyHandle) =>
  proxy.counts().filter((c) => c.method === "PATCH" || c.method === "PUT" || c.method === "POST")
const sum = (rows: ReadonlyArray<{ count: number; bytes: number }>, key: "count" | "bytes") =>
  rows.reduce((total, r) => total + r[key], 0)

const started = performance.now()
log("starting etcd + kube-apiserver")
const kube = await startKubeApiServer({ crds: [CRD], controllerManager: false })
const dir = mkdtempSync(join(tmpdir(), "vmcp-bench-"))
const results: Record<string, unknown> = { date: new Date().toISOString(), node: process.version }
try {
  const ns = await kube.admin.createNamespace("bench")
  const collection = `/apis/toolhive.stacklok.dev/v1beta1/namespaces/${ns}/virtualmcpservers`
  for (const name of ["ours", "baseline", "big"]) {
    const res = await kube.admin.request({
      method: "POST",
      path: collection,
      body: {
        apiVersion: "toolhive.stacklok.dev/v1beta1",
        kind: "VirtualMCPServer",
        metadata: { name },
        spec: {}
      }
    })
    if (res.status !== 201) throw new Error(`creating ${name}: ${res.status} ${res.text}`)
  }
  const proxyOurs = await startFaultProxy({ upstream: kube.url, upstreamCa: kube.ca, tls: kube.tls })
  const proxyBase = await startFaultProxy({ upstream: kube.url, upstreamCa: kube.ca, tls: kube.tls })
  const kubeconfig = join(dir, "ours.kubeconfig")
  writeFileSync(
    kubeconfig,
    kubeconfigYaml({ server: proxyOurs.url, ca: proxyOurs.ca, token: kube.adminToken })
  )
  // What a pod has mounted: the token and the CA (here the proxy's).
  const serviceAccountDir = join(dir, "serviceaccount")
  mkdirSync(serviceAccountDir)
  writeFileSync(join(serviceAccountDir, "token"), kube.adminToken)
  writeFileSync(join(serviceAccountDir, "ca.crt"), proxyOurs.ca)
  const baseClient = kubeClient({ url: proxyBase.url, ca: proxyBase.ca, token: kube.adminToken })
  // `name` is both the reporter's name and the object's.
  const reporter = (extra: { resyncIntervalMs?: number } = {}) =>
    makeK8sReporter({ kubeconfig, namespace: ns, name: "ours", ...extra })

  // Latest `.status` of every object, from one watch straight on the API server.
  const seen = new Map<string, { status: Record<string, unknown> | undefined; at: number }>()
  const waiters: Array<{
    name: string
    check: (s: Record<string, unknown> | undefined) => boolean
    resolve: (at: number) => void
  }> = []
  const watches = ["ours", "baseline", "big"].map((name) =>
    watchObject(kube, collection, name, (status, at) => {
      seen.set(name, { status, at })
      for (const w of [...waiters])
        if (w.name === name && w.check(status)) {
          waiters.splice(waiters.indexOf(w), 1)
          w.resolve(at)
        }
    })
  )
  const visible = (name: string, check: (s: Record<string, unknown> | undefined) => boolean) =>
    check(seen.get(name)?.status)
      ? Promise.resolve(seen.get(name)?.at ?? performance.now())
      : new Promise<number>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error(`${name}: the expected status never became visible`)),
            120_000
          )
          waiters.push({ name, check, resolve: (at) => (clearTimeout(timer), resolve(at)) })
        })
  const shows =
    (count: number, variant: number, unhealthy = 0) =>
    (s: Record<string, unknown> | undefined) =>
      variantOf(s as { totalToolCount?: number }, count, unhealthy) === variant

  // 1. Steady state: one simulated hour at a 30 s interval (and a 5 min resync), compressed.
  log(`steady state: 1 simulated hour, compressed ${COMPRESSION}x`)
  {
    const steady = statusOf(3, 1)
    const ours = await start({
      reporters: [reporter({ resyncIntervalMs: RESYNC_MS / COMPRESSION })],
      interval: `${INTERVAL_MS / COMPRESSION} millis`
    })
    ours.update(steady)
    const baseline = startBaseline(
      baseClient,
      `${collection}/baseline`,
      () => steady,
      INTERVAL_MS / COMPRESSION
    )
    await Promise.all([visible("ours", shows(3, 1)), visible("baseline", shows(3, 1))])
    proxyOurs.resetCounts()
    proxyBase.resetCounts()
    await delay(HOUR_MS / COMPRESSION)
    const row = (proxy: FaultProxyHandle) => ({
      requests: proxy.count(),
      gets: proxy.count({ method: "GET" }),
      writes: sum(writesOf(proxy), "count"),
      bytesWritten: sum(writesOf(proxy), "bytes")
    })
    results.steadyStatePerHour = { ours: row(proxyOurs), baseline: row(proxyBase) }
    await ours.stop()
    await baseline.stop()
  }

  // 2. Health decision → status visible in the API server (watch timestamps).
  log("latency: health decision → visible")
  {
    const ours = await start({ reporters: [reporter()] })
    const samples: Array<number> = []
    for (let k = 0; k < 100; k++) {
      const t0 = performance.now()
      ours.update(statusOf(3, 100 + k))
      samples.push((await visible("ours", shows(3, 100 + k))) - t0)
      await delay(220) // below the 5/s write budget: this measures the path, not the queue
    }
    await ours.stop()
    // The baseline writes on its next tick: a wait uniform over the 30 s interval, plus its
    // GET + PUT, measured here on the same server.
    const baseline = startBaseline(baseClient, `${collection}/baseline`, () => statusOf(3, 100), 50)
    await delay(50 * 60)
    await baseline.stop()
    const tick = baseline.tickMs()
    const base = Array.from(
      { length: 1_000 },
      (_, i) => ((i + 0.5) / 1_000) * INTERVAL_MS + percentile(tick, 50)
    )
    results.latencyMs = {
      ours: {
        p50: round(percentile(samples, 50)),
        p99: round(percentile(samples, 99)),
        samples: samples.length
      },
      baseline: {
        p50: round(percentile(base, 50)),
        p99: round(percentile(base, 99)),
        samples: base.length,
        compressed: true
      }
    }
  }

  // 3. 10 000 status changes in one second.
  log("burst: 10 000 changes in 1 s")
  {
    const ours = await start({ reporters: [reporter()] })
    const statuses = Array.from({ length: 10_000 }, (_, i) => statusOf(3, 1_000 + i, i % 2))
    proxyOurs.resetCounts()
    const t0 = performance.now()
    for (let i = 0; i < statuses.length; i++) {
      ours.update(statuses[i] as RuntimeStatus)
      if (i % 100 === 99)
        await delay(Math.max(0, t0 + ((i + 1) / statuses.length) * 1_000 - performance.now()))
    }
    const burstEnd = performance.now()
    const final = statuses[statuses.length - 1] as RuntimeStatus
    const visibleAt = await visible("ours", shows(3, 1_000 + 9_999, 1))
    await delay(1_500) // let anything still queued show up in the counts
    const writes = sum(writesOf(proxyOurs), "count")
    const elapsedS = (burstEnd - t0) / 1_000
    const mismatched = mismatchedFields(seen.get("ours")?.status, final)
    results.burst = {
      ours: {
        changes: statuses.length,
        seconds: round(elapsedS, 2),
        writes,
        budget: Math.floor(10 + 5 * ((visibleAt - t0) / 1_000)),
        finalVisibleAfterLastChangeMs: round(visibleAt - burstEnd),
        finalExact: mismatched.length === 0,
        mismatchedFields: mismatched
      },
      baseline: {
        writes: `≤ ${Math.ceil(elapsedS / (INTERVAL_MS / 1_000))} (one per interval)`,
        finalVisibleAfterLastChangeMs: `up to ${INTERVAL_MS} (next interval)`
      }
    }
    await ours.stop()
  }

  // 4 + 5. 1 000 backends: the reporting stack in its own process (health → publisher → k8s).
  log("1 000 backends: health round, status size, CPU per change, RSS")
  {
    const servers = await Promise.all(Array.from({ length: 10 }, () => startHttpBackends()))
    const child = spawn(
      process.execPath,
      ["--expose-gc", fileURLToPath(new URL("./stack.ts", import.meta.url))],
      {
        env: {
          ...process.env,
          BENCH_SERVICE_HOST: "127.0.0.1",
          BENCH_SERVICE_PORT: String(proxyOurs.port),
          BENCH_SA_DIR: serviceAccountDir,
          BENCH_NAMESPACE: ns,
          BENCH_OBJECT: "big",
          BENCH_URLS: JSON.stringify(servers.map((s) => s.url))
        },
        stdio: ["pipe", "pipe", "inherit"]
      }
    )
    const lines = readLines(child.stdout)
    const healthRound = JSON.parse(await lines.next()) as {
      roundMs: number
      rssMb: number
      heapUsedMb: number
    }
    await visible("big", (s) => (s as { healthyBackends?: number } | undefined)?.healthyBackends === 1_000)
    const object = await kube.admin.request({ method: "GET", path: `${collection}/big` })
    child.stdin.end("go\n")
    const stack = JSON.parse(await lines.next()) as Record<string, number>
    await new Promise((resolve) => child.once("exit", resolve))
    for (const s of servers) await s.close()
    results.thousandBackends = {
      healthRoundMs: round(healthRound.roundMs),
      concurrency: 32,
      statusBytes: Buffer.byteLength(JSON.stringify((object.body as { status: unknown }).status)),
      etcdLimitBytes: 1.5 * 1024 * 1024,
      cpuMsPerChangePromiseApi: round(stack.cpuMsPerChangePromiseApi ?? Number.NaN, 3),
      cpuMsPerChangePromiseApiOneProbe: round(stack.cpuMsPerChangePromiseApiOneProbe ?? Number.NaN, 3),
      cpuMsPerChangeEffectApi: round(stack.cpuMsPerChangeEffectApi ?? Number.NaN, 3),
      rssMbAfterRound: round(healthRound.rssMb),
      heapUsedMbAfterRound: round(healthRound.heapUsedMb),
      rssMbAfterCpuRun: round(stack.rssMb ?? Number.NaN),
      bareNodeRssMb: round(bareNodeRss())
    }
  }

  for (const w of watches) w.close()
  baseClient.close()
  await proxyOurs.close()
  await proxyBase.close()
} finally {
  await kube.stop()
  rmSync(dir, { recursive: true, force: true })
}
results.benchSeconds = round((performance.now() - started) / 1_000)

/** RSS of a Node process that loads nothing, for reference. */
function bareNodeRss() {
  const out = execFileSync(process.execPath, [
    "-e",
    "process.stdout.write(String(process.memoryUsage().rss))"
  ])
  return Number(out.toString()) / 2 ** 20
}

/** The owned fields where the object differs from `status` (condition times and list order aside). */
function mismatchedFields(actual: Record<string, unknown> | undefined, status: RuntimeStatus) {
  const expected = toStatusPayload(status, { mode: "full" }) as unknown as Record<string, unknown>
  if (actual === undefined) return Object.keys(expected)
  const keyOf = (item: unknown) => {
    const o = item as { name?: string; type?: string }
    return o.name ?? o.type ?? ""
  }
  // Key order aside too: the API server returns keys sorted.
  const normal = (v: unknown) =>
    stableJson(
      JSON.parse(
        JSON.stringify(
          Array.isArray(v) ? [...v].sort((a, b) => keyOf(a).localeCompare(keyOf(b))) : v,
          (key, value) => (key === "lastTransitionTime" || key === "lastDiscoveryTime" ? undefined : value)
        ) ?? "null"
      )
    )
  const differing = Object.keys(expected).filter((key) => normal(actual[key]) !== normal(expected[key]))
  for (const key of differing)
    log(
      `burst: ${key} differs:\n  object:   ${normal(actual[key]).slice(0, 400)}\n  expected: ${normal(expected[key]).slice(0, 400)}`
    )
  return differing
}

const r = results as {
  steadyStatePerHour: Record<
    "ours" | "baseline",
    { requests: number; gets: number; writes: number; bytesWritten: number }
  >
  latencyMs: Record<"ours" | "baseline", { p50: number; p99: number }>
  burst: { ours: Record<string, unknown>; baseline: Record<string, unknown> }
  thousandBackends: Record<string, number>
}
const rows: Array<[string, string, string]> = [
  [
    "steady state: API requests / hour",
    String(r.steadyStatePerHour.ours.requests),
    String(r.steadyStatePerHour.baseline.requests)
  ],
  [
    "steady state: writes / hour",
    String(r.steadyStatePerHour.ours.writes),
    String(r.steadyStatePerHour.baseline.writes)
  ],
  [
    "steady state: bytes written / hour",
    String(r.steadyStatePerHour.ours.bytesWritten),
    String(r.steadyStatePerHour.baseline.bytesWritten)
  ],
  [
    "health change → visible, p50 (ms)",
    String(r.latencyMs.ours.p50),
    `${r.latencyMs.baseline.p50} (computed)`
  ],
  [
    "health change → visible, p99 (ms)",
    String(r.latencyMs.ours.p99),
    `${r.latencyMs.baseline.p99} (computed)`
  ],
  [
    "burst 10 000 changes / 1 s: writes (budget)",
    `${r.burst.ours.writes} (${r.burst.ours.budget})`,
    String(r.burst.baseline.writes)
  ],
  [
    "burst: final state visible after last change (ms)",
    String(r.burst.ours.finalVisibleAfterLastChangeMs),
    String(r.burst.baseline.finalVisibleAfterLastChangeMs)
  ],
  ["burst: final state exact", String(r.burst.ours.finalExact), "-"],
  [
    "1 000 backends: health round at concurrency 32 (ms; interval 30 000)",
    String(r.thousandBackends.healthRoundMs),
    "-"
  ],
  ["1 000 backends: .status size (bytes; limit 1.5 MiB)", String(r.thousandBackends.statusBytes), "-"],
  [
    "1 000 backends: CPU per change, Effect API (ms)",
    String(r.thousandBackends.cpuMsPerChangeEffectApi),
    "-"
  ],
  [
    "1 000 backends: CPU per change, Promise API with validation (ms)",
    String(r.thousandBackends.cpuMsPerChangePromiseApi),
    "-"
  ],
  [
    "1 000 backends: CPU per change, Promise API, one backend probed per change (ms)",
    String(r.thousandBackends.cpuMsPerChangePromiseApiOneProbe),
    "-"
  ],
  [
    "1 000 backends: stack RSS after the round (MB; bare Node)",
    `${r.thousandBackends.rssMbAfterRound} (${r.thousandBackends.bareNodeRssMb})`,
    "-"
  ],
  ["1 000 backends: stack JS heap after GC (MB)", String(r.thousandBackends.heapUsedMbAfterRound), "-"]
]
const table = [
  "| figure | vmcp-status k8s reporter | seed-style baseline |",
  "| --- | --- | --- |",
  ...rows.map(([a, b, c]) => `| ${a} | ${b} | ${c} |`)
].join("\n")
console.log(table)
const resultsDir = fileURLToPath(new URL("../results/", import.meta.url))
mkdirSync(resultsDir, { recursive: true })
const stamp = new Date().toISOString().slice(0, 10)
writeFileSync(join(resultsDir, `${stamp}.json`), `${JSON.stringify(results, null, 2)}\n`)
writeFileSync(
  join(resultsDir, `${stamp}.md`),
  `# Bench ${results.date as string}\n\n${table}\n\nbench took ${results.benchSeconds as number} s\n`
)
log(`wrote bench/results/${stamp}.json and .md (${results.benchSeconds as number} s)`)
