/**
 * The reporting stack in a process of its own, so its RSS is its own: health checks of 1 000
 * backends (plain HTTP, on the parent's loopback servers) → the core publisher → the k8s
 * reporter. Prints one JSON line per phase: the health round, then CPU and RSS.
 *
 * It reaches the API server as a pod does (KUBERNETES_SERVICE_HOST/PORT and a service-account
 * folder with a token and the CA), so no kubeconfig machinery is loaded.
 *
 * Env: BENCH_SERVICE_HOST, BENCH_SERVICE_PORT, BENCH_SA_DIR, BENCH_NAMESPACE, BENCH_OBJECT,
 * BENCH_URLS (JSON array of URLs).
 */

import { Publisher, type RuntimeStatus, start } from "@vmcp-status/core"
import { startHealthChecks } from "@vmcp-status/health"
import { makeK8sReporter } from "@vmcp-status/k8s"
import { Effect } from "effect"
import { statusOf } from "./statuses.ts"

const env = (name: string) => {
  const value = process.env[name]
  if (value === undefined) throw new Error(`${name} is not set`)
  return value
}
const urls = JSON.parse(env("BENCH_URLS")) as Array<string>
const print = (value: object) => {
  process.stdout.write(`${JSON.stringify(value)}\n`)
  process.stderr.write(`[bench:stack] ${JSON.stringify(value)}\n`)
}
const memory = () => {
  globalThis.gc?.()
  const m = process.memoryUsage()
  return { rssMb: m.rss / 2 ** 20, heapUsedMb: m.heapUsed / 2 ** 20 }
}
// The parent writes one line and closes stdin: nothing of it keeps this process alive.
const waitLine = () => new Promise<void>((resolve) => process.stdin.once("data", () => resolve()))

const reporter = makeK8sReporter({
  env: {
    KUBERNETES_SERVICE_HOST: env("BENCH_SERVICE_HOST"),
    KUBERNETES_SERVICE_PORT: env("BENCH_SERVICE_PORT")
  },
  serviceAccountDir: env("BENCH_SA_DIR"),
  namespace: env("BENCH_NAMESPACE"),
  name: env("BENCH_OBJECT")
})
const publisher = await start({ reporters: [reporter] })
const t0 = performance.now()
const health = await startHealthChecks({
  publisher,
  backends: Array.from({ length: 1_000 }, (_, i) => ({
    name: `b${String(i).padStart(4, "0")}`,
    transport: "http" as const,
    url: `${urls[i % urls.length]}/b${i}`
  }))
})
while (!health.snapshot().initialRoundComplete) await new Promise((resolve) => setTimeout(resolve, 2))
print({ roundMs: performance.now() - t0, backends: health.snapshot().backends.length, ...memory() })
await waitLine() // the parent saw the status land
await health.stop()

// CPU per status change, 1 000 backends: statuses are made outside the measured span.
const cpuPerChange = (update: (s: RuntimeStatus) => void, n = 300) => {
  let micros = 0
  for (let i = 0; i < n; i++) {
    const status = statusOf(1_000, 10_000 + i, 100)
    const before = process.cpuUsage()
    update(status)
    const spent = process.cpuUsage(before)
    micros += spent.user + spent.system
  }
  return micros / 1_000 / n
}
const promiseMs = cpuPerChange((s) => publisher.update(s))
// As a health round pushes: one probe per change, so only that backend's report is new (its
// check time and latency); `statusOf` above stamps every backend with a new check time.
const probed = statusOf(1_000, 10_000, 100)
const promiseOneProbeMs = cpuPerChange((s) => {
  const i = s.totalToolCount % 1_000
  const backends = probed.backends.map((b, j) =>
    j === i ? { ...b, lastCheckTime: s.observedAt, latencyMs: (b.latencyMs ?? 0) + 1 } : b
  )
  publisher.update({ ...s, backends })
})
const effectMs = await Effect.runPromise(
  Effect.scoped(
    Effect.gen(function* () {
      const p = yield* Publisher.make({ reporters: [] })
      return cpuPerChange((s) => Effect.runSync(p.update(s)))
    })
  )
)
await new Promise((resolve) => setTimeout(resolve, 1_500)) // let the last coalesced write go out
print({
  cpuMsPerChangePromiseApi: promiseMs,
  cpuMsPerChangePromiseApiOneProbe: promiseOneProbeMs,
  cpuMsPerChangeEffectApi: effectMs,
  ...memory()
})
await publisher.stop()
