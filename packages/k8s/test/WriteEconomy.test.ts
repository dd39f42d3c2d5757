import { it } from "@effect/vitest"
import { Publisher } from "@vmcp-status/core"
import { FaultProxy } from "@vmcp-status/testkit"
import { describeWithKube } from "@vmcp-status/testkit/vitest"
import { Clock, Effect } from "effect"
import { TestClock } from "effect/testing"
import { expect } from "vitest"
import { makeK8sReporter } from "../src/K8sReporter.ts"
import type { Target } from "../src/Target.ts"
import { backend, status } from "./fixtures.ts"
import {
  adminKubeconfig,
  awaitStream,
  createObject,
  getObject,
  ownTarget,
  reportsDone,
  requestTracker,
  toolhiveTarget
} from "./kube.ts"

const STATUS_WRITE = /\/status$/

/** One line on stderr with a measurement, for the run log (never asserted on time). */
const report = (line: string) => Effect.sync(() => process.stderr.write(`[k8s measurements] ${line}\n`))

describeWithKube("write economy against a real API server", (kube) => {
  const proxy = () => FaultProxy.inFrontOf(kube.connection)

  const reporterFor = (target: Target, server: string, extra: Parameters<typeof makeK8sReporter>[0] = {}) =>
    makeK8sReporter({
      kubeconfig: adminKubeconfig(kube, server),
      group: target.group,
      namespace: target.namespace,
      name: target.name,
      events: false,
      ...extra
    })

  for (const [crd, targetOf] of [
    ["toolhive's CRD (our counts pruned)", toolhiveTarget],
    ["our CRD", ownTarget]
  ] as const) {
    it.effect(`${crd}: two hours of steady state write nothing; drift checks read every 5 min`, () =>
      Effect.gen(function* () {
        const namespace = yield* Effect.promise(() => kube.namespace("steady"))
        const target = targetOf(namespace)
        yield* Effect.promise(() => createObject(kube.admin, target))
        const p = yield* proxy()
        const steady = status([backend("alpha", "healthy"), backend("beta", "unhealthy")])
        const publisher = yield* Publisher.make({
          reporters: [reporterFor(target, p.url)],
          initial: steady,
          jitter: 0
        })
        yield* awaitStream(publisher.healthChanges, (h) => (h[0]?.outcomes.written ?? 0) === 1)
        const writesAtStart = p.count({ method: "PATCH", path: STATUS_WRITE })
        p.resetCounts()
        // 240 ticks of 30 s: each one reaches the reporter, which finds nothing to write.
        for (let tick = 1; tick <= 240; tick++) {
          yield* TestClock.adjust("30 seconds")
          yield* awaitStream(publisher.healthChanges, (h) => reportsDone(h[0]) >= 1 + tick)
          // The same status pushed again (a health round with equal results) is no change either.
          yield* publisher.update({
            ...steady,
            observedAt: `2026-11-25T19:${String(tick % 60).padStart(2, "0")}:00Z`
          })
        }
        const health = (yield* publisher.health)[0]
        expect(health?.outcomes.written).toBe(1)
        expect(health?.outcomes.skipped).toBe(240)
        expect(p.count({ method: "PATCH" })).toBe(0)
        // One GET per resync interval (5 min): 24 in two hours, nothing else.
        expect(p.count({ method: "GET" })).toBe(24)
        expect(p.count()).toBe(24)
        // A real change is written once, at once.
        yield* publisher.update(status([backend("alpha", "healthy"), backend("beta", "healthy")]))
        yield* awaitStream(publisher.healthChanges, (h) => (h[0]?.outcomes.written ?? 0) === 2)
        expect(p.count({ method: "PATCH", path: STATUS_WRITE })).toBe(1)
        const object = yield* Effect.promise(() => getObject(kube.admin, target))
        expect(object.status?.discoveredBackends?.map((b) => b.status)).toEqual(["ready", "ready"])
        yield* report(
          `steady state (${crd}): ${writesAtStart} PATCH to start (undeclared fields learnt), then 0 in 2 h`
        )
      })
    )
  }

  it.effect("drift is repaired at the next resync: a field deleted behind our back is re-applied", () =>
    Effect.gen(function* () {
      const namespace = yield* Effect.promise(() => kube.namespace("drift"))
      const target = ownTarget(namespace)
      yield* Effect.promise(() => createObject(kube.admin, target))
      const p = yield* proxy()
      const steady = status([backend("alpha", "healthy")])
      const publisher = yield* Publisher.make({
        reporters: [reporterFor(target, p.url)],
        initial: steady,
        jitter: 0
      })
      yield* awaitStream(publisher.healthChanges, (h) => (h[0]?.outcomes.written ?? 0) === 1)
      // Someone replaces the status wholesale (a PUT by another client drops our fields).
      const object = yield* Effect.promise(() => getObject(kube.admin, target))
      const put = yield* Effect.promise(() =>
        kube.admin.request({
          method: "PUT",
          path: `/apis/${target.group}/${target.version}/namespaces/${namespace}/${target.plural}/${target.name}/status`,
          body: { ...object, status: { phase: "Failed", message: "clobbered" } }
        })
      )
      expect(put.status, put.text).toBe(200)
      p.resetCounts()
      for (let tick = 1; tick <= 10; tick++) {
        yield* TestClock.adjust("30 seconds")
        yield* awaitStream(publisher.healthChanges, (h) => reportsDone(h[0]) >= 1 + tick)
      }
      expect(p.count({ method: "GET" })).toBe(1)
      expect(p.count({ method: "PATCH", path: STATUS_WRITE })).toBe(1)
      const repaired = (yield* Effect.promise(() => getObject(kube.admin, target))).status
      expect(repaired?.phase).toBe("Ready")
      expect(repaired?.discoveredBackends?.map((b) => b.name)).toEqual(["alpha"])
    })
  )

  it.effect(
    "1 000 rapid changes: writes stay within the token bucket's budget and the final object is exact",
    () =>
      Effect.gen(function* () {
        const namespace = yield* Effect.promise(() => kube.namespace("burst"))
        const target = ownTarget(namespace)
        yield* Effect.promise(() => createObject(kube.admin, target))
        const p = yield* proxy()
        const tracker = requestTracker()
        const publisher = yield* Publisher.make({
          reporters: [reporterFor(target, p.url, { onRequest: tracker.onRequest })],
          jitter: 0
        })
        const change = (i: number) =>
          status([
            backend("alpha", i % 2 === 0 ? "healthy" : "degraded", { toolCount: i }),
            backend("beta", "healthy")
          ])
        // 1 000 changes over one second of (virtual) time, interleaved with real I/O.
        const start = yield* Clock.currentTimeMillis
        for (let i = 1; i <= 1000; i++) {
          yield* publisher.update(change(i))
          if (i % 10 === 0) yield* tracker.step("10 millis")
        }
        // Let the limiter release the newest status: advance until the object shows it.
        const expected = change(1000)
        let object = yield* Effect.promise(() => getObject(kube.admin, target))
        for (let step = 0; step < 100 && object.status?.totalToolCount !== expected.totalToolCount; step++) {
          yield* tracker.step("200 millis")
          object = yield* Effect.promise(() => getObject(kube.admin, target))
        }
        const elapsedSeconds = ((yield* Clock.currentTimeMillis) - start) / 1000
        const writes = p.count({ method: "PATCH", path: STATUS_WRITE })
        const budget = 10 + Math.ceil(5 * elapsedSeconds)
        yield* report(`1000 changes in 1 s: ${writes} writes over ${elapsedSeconds} s (budget ${budget})`)
        expect(writes).toBeGreaterThan(0)
        expect(writes).toBeLessThanOrEqual(budget)
        const s = object.status ?? {}
        expect(s.totalToolCount).toBe(expected.totalToolCount)
        expect(s.phase).toBe(expected.phase)
        expect(s.message).toBe(expected.message)
        expect(s.discoveredBackends).toEqual([
          { name: "alpha", status: "ready", circuitBreakerState: "closed", consecutiveFailures: 0 },
          { name: "beta", status: "ready", circuitBreakerState: "closed", consecutiveFailures: 0 }
        ])
      })
  )
})
