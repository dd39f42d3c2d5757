/**
 * `pnpm bench`: our k8s reporter side by side with a seed-style baseline (GET + full PUT every
 * interval) on one real API server, in one run. Prints one table and writes
 * `bench/results/<date>.json` and `.md`. See bench/README.md for what each figure means.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { setTimeout as delay } from "node:timers/promises"
import { fileURLToPath } from "node:url"
import { type RuntimeStatus, start } from "@vmcp-status/core"
import { makeK8sReporter, toStatusPayload } from "@vmcp-status/k8s"
import {
  type FaultProxyHandle,
  kubeClient,
  kubeconfigYaml,
  startFaultProxy,
  startKubeApiServer
} from "@vmcp-status/testkit"
import { startBaseline } from "./baseline.ts"
import { statusOf, variantOf } from "./statuses.ts"
import { watchObject } from "./watch.ts"

const CRD = fileURLToPath(new URL("../../packages/k8s/crd/virtualmcpservers.yaml", import.meta.url))
/** Simulated time runs this much faster than real time where a scenario says "compressed". */
const COMPRESSION = 1000
const INTERVAL_MS = 30_000
const RESYNC_MS = 5 * 60_000
const HOUR_MS = 3_600_000

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`)
const percentile = (values: ReadonlyArray<number>, p: number) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN
}
const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits
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
      : new Promise<number>((resolve) => waiters.push({ name, check, resolve }))
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
    let current = statusOf(3, 100)
    const baseline = startBaseline(
      baseClient,
      `${collection}/baseline`,
      () => current,
      INTERVAL_MS / COMPRESSION
    )
    const base: Array<number> = []
    for (let k = 0; k < 50; k++) {
      await delay(Math.random() * (INTERVAL_MS / COMPRESSION))
      const t0 = performance.now()
      current = statusOf(3, 300 + k)
      base.push(((await visible("baseline", shows(3, 300 + k))) - t0) * COMPRESSION)
    }
    await baseline.stop()
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
    const exact = sameOwnedStatus(seen.get("ours")?.status, final)
    results.burst = {
      ours: {
        changes: statuses.length,
        seconds: round(elapsedS, 2),
        writes,
        budget: Math.floor(10 + 5 * ((visibleAt - t0) / 1_000)),
        finalVisibleAfterLastChangeMs: round(visibleAt - burstEnd),
        finalExact: exact
      },
      baseline: {
        writes: `≤ ${Math.ceil(elapsedS / (INTERVAL_MS / 1_000))} (one per interval)`,
        finalVisibleAfterLastChangeMs: `up to ${INTERVAL_MS} (next interval)`
      }
    }
    await ours.stop()
  }

  // 4 + 5. 1 000 backends: object size, CPU per change, RSS.
  log("1 000 backends: size, CPU per change, RSS")
  {
    const big = await start({ reporters: [makeK8sReporter({ kubeconfig, namespace: ns, name: "big" })] })
    const statuses = Array.from({ length: 500 }, (_, i) => statusOf(1_000, 1 + i, 100))
    const cpu0 = process.cpuUsage()
    const t0 = performance.now()
    for (const s of statuses) big.update(s)
    const updateCpu = process.cpuUsage(cpu0)
    await visible("big", shows(1_000, 500, 100))
    const allCpu = process.cpuUsage(cpu0)
    const wall = performance.now() - t0
    const object = await kube.admin.request({ method: "GET", path: `${collection}/big` })
    const statusBytes = Buffer.byteLength(JSON.stringify((object.body as { status: unknown }).status))
    const objectBytes = Buffer.byteLength(object.text)
    results.thousandBackends = {
      statusBytes,
      objectBytes,
      etcdLimitBytes: 1.5 * 1024 * 1024,
      cpuMsPerChange: round((updateCpu.user + updateCpu.system) / 1_000 / statuses.length, 3),
      cpuMsPerChangeIncludingWrites: round((allCpu.user + allCpu.system) / 1_000 / statuses.length, 3),
      wallMsUntilVisible: round(wall),
      rssMb: round(process.memoryUsage().rss / 2 ** 20)
    }
    await big.stop()
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

/** The owned fields of the object equal those of `status` (condition times aside). */
function sameOwnedStatus(actual: Record<string, unknown> | undefined, status: RuntimeStatus) {
  if (actual === undefined) return false
  const expected = toStatusPayload(status, { mode: "full" }) as unknown as Record<string, unknown>
  const strip = (v: unknown) =>
    JSON.stringify(v, (key, value) =>
      key === "lastTransitionTime" || key === "lastDiscoveryTime" ? undefined : value
    )
  return Object.keys(expected).every((key) => strip(actual[key]) === strip(expected[key]))
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
  ["health change → visible, p50 (ms)", String(r.latencyMs.ours.p50), `${r.latencyMs.baseline.p50} (scaled)`],
  ["health change → visible, p99 (ms)", String(r.latencyMs.ours.p99), `${r.latencyMs.baseline.p99} (scaled)`],
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
  ["1 000 backends: .status size (bytes, limit 1.5 MiB)", String(r.thousandBackends.statusBytes), "-"],
  ["1 000 backends: CPU per status change (ms)", String(r.thousandBackends.cpuMsPerChange), "-"],
  [
    "1 000 backends: CPU per change incl. writes (ms)",
    String(r.thousandBackends.cpuMsPerChangeIncludingWrites),
    "-"
  ],
  ["RSS of the bench process (MB)", String(r.thousandBackends.rssMb), "-"]
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
