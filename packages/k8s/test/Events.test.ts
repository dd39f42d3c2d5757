import { it } from "@effect/vitest"
import { Publisher } from "@vmcp-status/core"
import { FaultProxy } from "@vmcp-status/testkit"
import { describeWithKube } from "@vmcp-status/testkit/vitest"
import { Effect } from "effect"
import { expect } from "vitest"
import { type K8sReporterOptions, makeK8sReporter } from "../src/K8sReporter.ts"
import type { Target } from "../src/Target.ts"
import { backend, status } from "./fixtures.ts"
import {
  adminKubeconfig,
  awaitStream,
  createObject,
  getObject,
  ioTurn,
  ownTarget,
  requestTracker
} from "./kube.ts"

interface EventObject {
  readonly type: string
  readonly reason: string
  readonly note: string
  readonly reportingController: string
  readonly action: string
  readonly regarding: { readonly kind: string; readonly name: string; readonly uid?: string }
  readonly series?: { readonly count: number }
}

const EVENTS = /^\/apis\/events\.k8s\.io\//

const healthy = status([backend("alpha", "healthy"), backend("beta", "healthy")])
const betaDown = status([backend("alpha", "healthy"), backend("beta", "unhealthy")], { previous: healthy })

describeWithKube("Events on a real API server", (kube) => {
  const listEvents = (namespace: string) =>
    Effect.promise(async () => {
      const res = await kube.admin.request({
        method: "GET",
        path: `/apis/events.k8s.io/v1/namespaces/${namespace}/events`
      })
      expect(res.status, res.text).toBe(200)
      return ((res.body as { items: Array<EventObject> }).items ?? [])
        .slice()
        .sort((a, b) => `${a.reason}${a.note}`.localeCompare(`${b.reason}${b.note}`))
    })

  const start = (target: Target, server: string, extra: K8sReporterOptions = {}) =>
    Effect.gen(function* () {
      const tracker = requestTracker()
      const publisher = yield* Publisher.make({
        reporters: [
          makeK8sReporter({
            kubeconfig: adminKubeconfig(kube, server),
            group: target.group,
            namespace: target.namespace,
            name: target.name,
            onRequest: tracker.onRequest,
            ...extra
          })
        ],
        jitter: 0
      })
      let eventRequests = 0
      /** Pushes a status and waits until it is written and the Event requests it causes are answered. */
      const push = (s: typeof healthy, expectedEventRequests = 0) =>
        Effect.gen(function* () {
          const before = (yield* publisher.health)[0]?.outcomes.written ?? 0
          yield* publisher.update(s)
          yield* awaitStream(publisher.healthChanges, (h) => (h[0]?.outcomes.written ?? 0) > before)
          eventRequests += expectedEventRequests
          yield* tracker.finishedAtLeast(EVENTS, eventRequests)
          yield* tracker.idle
        })
      return { publisher, tracker, push }
    })

  it.effect(
    "phase and backend transitions become Events; a repeat extends the series instead of a new Event",
    () =>
      Effect.gen(function* () {
        const namespace = yield* Effect.promise(() => kube.namespace("events"))
        const target = ownTarget(namespace)
        const uid = yield* Effect.promise(() => createObject(kube.admin, target))
        const { push } = yield* start(target, kube.connection.url)
        yield* push(healthy)
        expect(yield* listEvents(namespace)).toEqual([])
        yield* push(betaDown, 2)
        yield* push(
          status([backend("alpha", "healthy"), backend("beta", "healthy")], { previous: betaDown }),
          2
        )
        yield* push(betaDown, 2)
        const events = yield* listEvents(namespace)
        expect(events.map((e) => [e.type, e.reason, e.series?.count ?? 1])).toEqual(
          [
            ["Warning", "BackendUnhealthy", 2],
            ["Normal", "BackendHealthy", 1],
            ["Warning", "BecameDegraded", 2],
            ["Normal", "BecameReady", 1]
          ].sort((a, b) => `${a[1]}`.localeCompare(`${b[1]}`))
        )
        for (const e of events) {
          expect(e.regarding).toMatchObject({ kind: "VirtualMCPServer", name: "vmcp", uid })
          expect(e.reportingController).toBe("vmcp-status")
        }
        expect(events.find((e) => e.reason === "BackendUnhealthy")?.note).toBe(
          "backend beta healthy → unhealthy: connection refused"
        )
      })
  )

  it.effect("Events are rate-limited per object: past the burst they are dropped until a token is due", () =>
    Effect.gen(function* () {
      const namespace = yield* Effect.promise(() => kube.namespace("events"))
      const target = ownTarget(namespace)
      yield* Effect.promise(() => createObject(kube.admin, target))
      const { push, tracker } = yield* start(target, kube.connection.url, {
        events: { rate: { burst: 3, ratePerSecond: 1 / 300 } },
        rate: { burst: 1000, ratePerSecond: 1000 }
      })
      // Ten different backends fail one after another: ten distinct Events wanted.
      let previous = status(Array.from({ length: 10 }, (_, i) => backend(`b${i}`, "healthy")))
      yield* push(previous)
      for (let i = 0; i < 10; i++) {
        const next = status(
          Array.from({ length: 10 }, (_, j) => backend(`b${j}`, j <= i ? "unhealthy" : "healthy")),
          { previous }
        )
        // Burst 3: BecameDegraded and b0's Event, then b1's; the rest are dropped without a request.
        yield* push(next, i === 0 ? 2 : i === 1 ? 1 : 0)
        previous = next
      }
      expect((yield* listEvents(namespace)).length).toBe(3)
      // Five minutes later one more token: the next transition gets its Event.
      yield* tracker.step("5 minutes")
      yield* push(
        status(
          Array.from({ length: 10 }, (_, j) => backend(`b${j}`, "healthy")),
          { previous }
        ),
        1
      )
      expect((yield* listEvents(namespace)).length).toBe(4)
    })
  )

  it.effect("a hanging Events endpoint never delays the status write", () =>
    Effect.gen(function* () {
      const namespace = yield* Effect.promise(() => kube.namespace("events"))
      const target = ownTarget(namespace)
      yield* Effect.promise(() => createObject(kube.admin, target))
      const proxy = yield* FaultProxy.inFrontOf(kube.connection)
      const hang = proxy.addRule({ path: "/apis/events.k8s.io/**", fault: { kind: "hang" } })
      const { publisher } = yield* start(target, proxy.url)
      const writes = () => proxy.count({ method: "PATCH", path: /\/status$/ })
      yield* publisher.update(healthy)
      yield* awaitStream(publisher.healthChanges, (h) => (h[0]?.outcomes.written ?? 0) === 1)
      yield* publisher.update(betaDown)
      yield* awaitStream(publisher.healthChanges, (h) => (h[0]?.outcomes.written ?? 0) === 2)
      while (hang.hits() === 0) yield* ioTurn
      // The Event is stuck in the proxy; the status is on the object regardless.
      expect(writes()).toBe(2)
      expect((yield* Effect.promise(() => getObject(kube.admin, target))).status?.phase).toBe("Degraded")
      hang.remove()
    })
  )
})
