import { it } from "@effect/vitest"
import { Publisher } from "@vmcp-status/core"
import { FaultProxy, type FaultRule } from "@vmcp-status/testkit"
import { describeWithKube } from "@vmcp-status/testkit/vitest"
import { Clock, Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { expect } from "vitest"
import { makeK8sReporter } from "../src/K8sReporter.ts"
import { objectPath, type Target } from "../src/Target.ts"
import { backend, status } from "./fixtures.ts"
import {
  adminKubeconfig,
  awaitStream,
  captureLogs,
  createObject,
  getObject,
  ioTurn,
  kubeconfigFile,
  ownTarget,
  reportsDone,
  requestTracker
} from "./kube.ts"

const first = status([backend("alpha", "healthy")])
const second = status([backend("alpha", "healthy"), backend("beta", "degraded")])

/** One line on stderr with a measurement, for the run log (never asserted on time). */
const measured = (line: string) => Effect.sync(() => process.stderr.write(`[k8s measurements] ${line}\n`))

describeWithKube("faults between the reporter and a real API server", (kube) => {
  const setup = (options: { readonly create?: boolean; readonly target?: (ns: string) => Target } = {}) =>
    Effect.gen(function* () {
      const namespace = yield* Effect.promise(() => kube.namespace("faults"))
      const target = (options.target ?? ownTarget)(namespace)
      if (options.create !== false) yield* Effect.promise(() => createObject(kube.admin, target))
      const proxy = yield* FaultProxy.inFrontOf(kube.connection)
      return { namespace, target, proxy, tracker: requestTracker() }
    })

  const publisherFor = (
    target: Target,
    server: string,
    tracker: ReturnType<typeof requestTracker>,
    token = kube.connection.adminToken
  ) =>
    Publisher.make({
      reporters: [
        makeK8sReporter({
          kubeconfig: kubeconfigFile({ server, ca: kube.connection.ca, token }),
          group: target.group,
          namespace: target.namespace,
          name: target.name,
          events: false,
          requestTimeoutMs: 2_000,
          onRequest: tracker.onRequest
        })
      ],
      jitter: 0
    })

  const statusPath = (target: Target) => `${objectPath(target)}/status`

  const transient: ReadonlyArray<readonly [string, FaultRule["fault"], number]> = [
    ["429 with Retry-After: 7", { kind: "status", status: 429, retryAfterSeconds: 7 }, 7_000],
    ["503 with Retry-After: 4", { kind: "status", status: 503, retryAfterSeconds: 4 }, 4_000],
    ["500", { kind: "status", status: 500 }, 0],
    ["409", { kind: "status", status: 409 }, 0],
    ["a connection reset", { kind: "reset" }, 0]
  ]
  for (const [name, fault, retryAfterMs] of transient) {
    it.effect(
      `${name} on the status write is retried${retryAfterMs > 0 ? " no sooner than asked" : " with backoff"}`,
      () =>
        Effect.gen(function* () {
          const { target, proxy, tracker } = yield* setup()
          proxy.addRule({ method: "PATCH", path: statusPath(target), fault, times: 1 })
          const publisher = yield* publisherFor(target, proxy.url, tracker)
          yield* publisher.update(first)
          const failed = yield* awaitStream(publisher.healthChanges, (h) => h[0]?.state === "failing")
          expect(failed[0]?.consecutiveFailures).toBe(1)
          yield* tracker.idle
          expect(proxy.count({ method: "PATCH" })).toBe(1)
          if (retryAfterMs > 0) {
            // The backoff alone (200 ms ± 20 %) would retry long before Retry-After.
            yield* tracker.step(retryAfterMs - 500)
            expect(proxy.count({ method: "PATCH" })).toBe(1)
            yield* tracker.step("1 second")
          } else {
            yield* tracker.step("250 millis")
          }
          const healthy = yield* awaitStream(publisher.healthChanges, (h) => h[0]?.state === "healthy")
          expect(healthy[0]?.outcomes.written).toBe(1)
          expect(proxy.count({ method: "PATCH" })).toBe(2)
          expect((yield* Effect.promise(() => getObject(kube.admin, target))).status?.phase).toBe("Ready")
        })
    )
  }

  it.effect("a TLS failure (an untrusted certificate) is retried with backoff and recovers", () =>
    Effect.gen(function* () {
      const { target, proxy, tracker } = yield* setup()
      yield* Effect.promise(() => proxy.setTls("untrusted"))
      const publisher = yield* publisherFor(target, proxy.url, tracker)
      yield* publisher.update(first)
      const failing = yield* awaitStream(publisher.healthChanges, (h) => h[0]?.state === "failing")
      expect(failing[0]?.lastError).toContain(": tls:")
      yield* tracker.idle
      yield* Effect.promise(() => proxy.setTls("trusted"))
      for (let s = 0; s < 10 && (yield* publisher.health)[0]?.state !== "healthy"; s++)
        yield* tracker.step("1 second")
      expect((yield* publisher.health)[0]?.state).toBe("healthy")
      expect((yield* Effect.promise(() => getObject(kube.admin, target))).status?.phase).toBe("Ready")
    })
  )

  it.effect("a hanging API server: the request times out on the Effect clock and the retry lands", () =>
    Effect.gen(function* () {
      const { target, proxy, tracker } = yield* setup()
      const hang = proxy.addRule({
        method: "PATCH",
        path: statusPath(target),
        fault: { kind: "hang" },
        times: 1
      })
      const publisher = yield* publisherFor(target, proxy.url, tracker)
      yield* publisher.update(first)
      while (hang.hits() === 0) yield* ioTurn
      // Deliberately while the request is in flight: it must time out.
      yield* TestClock.adjust("2 seconds")
      const failing = yield* awaitStream(publisher.healthChanges, (h) => h[0]?.state === "failing")
      expect(failing[0]?.lastError).toContain("timeout: no answer")
      yield* tracker.idle
      yield* tracker.step("250 millis")
      yield* awaitStream(publisher.healthChanges, (h) => h[0]?.state === "healthy")
      expect((yield* Effect.promise(() => getObject(kube.admin, target))).status?.phase).toBe("Ready")
      // The timed-out request was aborted, not left pending: releasing the hang forwards nothing.
      hang.remove()
      expect(proxy.count({ method: "PATCH" })).toBe(2)
    })
  )

  it.effect(
    "a long outage: backoff grows to its cap and stays there; after recovery the newest status lands within the cap",
    () =>
      Effect.gen(function* () {
        const { target, proxy, tracker } = yield* setup()
        const outage = proxy.addRule({
          method: "PATCH",
          path: statusPath(target),
          fault: { kind: "status", status: 503 }
        })
        const publisher = yield* publisherFor(target, proxy.url, tracker)
        yield* publisher.update(first)
        yield* awaitStream(publisher.healthChanges, (h) => h[0]?.state === "failing")
        yield* tracker.idle
        const attempts: Array<number> = [0]
        /** One second of virtual time; an attempt that fell due has finished when it returns. */
        const oneSecond = Effect.gen(function* () {
          yield* tracker.step("1 second")
          const sent = proxy.count({ method: "PATCH" })
          if (sent > attempts.length) {
            const h = yield* awaitStream(publisher.healthChanges, (h) => reportsDone(h[0]) >= sent)
            if (h[0]?.state === "failing") attempts.push(h[0]?.lastAttemptAt ?? -1)
          }
        })
        for (let s = 0; s < 600; s++) {
          if (s === 300) yield* publisher.update(second)
          yield* oneSecond
        }
        const gaps = attempts.slice(1).map((t, i) => t - (attempts[i] as number))
        // 200 ms doubling, capped at 30 s ± 20 %: the late gaps sit at the cap, none above it.
        expect(Math.max(...gaps)).toBeLessThanOrEqual(36_000)
        expect(gaps.slice(-5).every((g) => g >= 24_000)).toBe(true)
        expect(outage.hits()).toBe(attempts.length)
        const recoveredAt = yield* Clock.currentTimeMillis
        outage.remove()
        for (let s = 0; s < 36 && (yield* publisher.health)[0]?.state !== "healthy"; s++) yield* oneSecond
        const health = (yield* publisher.health)[0]
        expect(health?.state).toBe("healthy")
        expect((health?.lastSuccessAt ?? Number.POSITIVE_INFINITY) - recoveredAt).toBeLessThanOrEqual(36_000)
        const s = (yield* Effect.promise(() => getObject(kube.admin, target))).status
        expect(s?.phase).toBe("Degraded")
        expect(s?.discoveredBackends?.map((b) => b.name)).toEqual(["alpha", "beta"])
        yield* measured(
          `10 min of 503: ${attempts.length} attempts, gaps ${gaps.map((g) => g / 1000).join(" ")} s; written ${((health?.lastSuccessAt ?? 0) - recoveredAt) / 1000} s after recovery`
        )
      })
  )

  it.effect(
    "stop aborts a hanging request and finishes within its deadline; nothing reaches the server later",
    () =>
      Effect.gen(function* () {
        const { target, proxy, tracker } = yield* setup()
        const hang = proxy.addRule({ method: "PATCH", path: statusPath(target), fault: { kind: "hang" } })
        const publisher = yield* publisherFor(target, proxy.url, tracker)
        yield* publisher.update(first)
        while (hang.hits() === 0) yield* ioTurn
        const stopping = yield* Effect.forkChild(publisher.stop)
        // The final report hangs too (a second request); the stop deadline (5 s) interrupts it.
        while (hang.hits() < 2) yield* ioTurn
        yield* TestClock.adjust("5 seconds")
        yield* Fiber.join(stopping)
        yield* tracker.idle
        expect(tracker.inFlight()).toBe(0)
        hang.remove()
        const object = yield* Effect.promise(() => getObject(kube.admin, target))
        expect(object.status?.phase).toBeUndefined()
        expect((yield* publisher.health)[0]?.state).toBe("stopped")
      })
  )

  const clearFailures: ReadonlyArray<
    readonly [
      string,
      { readonly create?: boolean; readonly target?: (ns: string) => Target },
      boolean,
      RegExp
    ]
  > = [
    [
      "403 (no RBAC): one log line naming the verb, resource and namespace",
      {},
      true,
      /RBAC: get on virtualmcpservers "vmcp" in namespace "faults-[0-9a-f]+" is forbidden .*Fix: grant verb "get" on resource "virtualmcpservers"/
    ],
    [
      "404 for a missing object: says to create it",
      { create: false },
      false,
      /the VirtualMCPServer "vmcp" does not exist in namespace "faults-[0-9a-f]+": create it/
    ],
    [
      "404 for a missing CRD: says to install it",
      { create: false, target: (ns) => ({ ...ownTarget(ns), group: "absent.vmcp-status.test" }) },
      false,
      /does not serve virtualmcpservers\.absent\.vmcp-status\.test\/v1beta1: install the CRD/
    ]
  ]
  for (const [name, options, restricted, expected] of clearFailures) {
    it.effect(`${name}, then a slow retry, visible in health`, () => {
      const logs = captureLogs()
      return Effect.gen(function* () {
        const { target, proxy, tracker } = yield* setup(options)
        const publisher = yield* publisherFor(
          target,
          proxy.url,
          tracker,
          restricted ? kube.connection.restrictedToken : kube.connection.adminToken
        )
        yield* publisher.update(first)
        const failing = yield* awaitStream(publisher.healthChanges, (h) => h[0]?.state === "failing")
        expect(failing[0]?.lastError).toMatch(expected)
        yield* tracker.idle
        expect(proxy.count()).toBe(1)
        // Slow retry: nothing for a minute, whatever the backoff would say.
        yield* tracker.step("59 seconds")
        expect(proxy.count()).toBe(1)
        yield* tracker.step("2 seconds")
        yield* awaitStream(publisher.healthChanges, (h) => (h[0]?.consecutiveFailures ?? 0) === 2)
        expect(proxy.count()).toBe(2)
        const warnings = logs.lines.filter((l) => expected.test(l.text))
        expect(warnings).toHaveLength(1)
        expect(warnings[0]?.level).toBe("Warn")
        expect(reportsDone((yield* publisher.health)[0])).toBe(2)
      }).pipe(Effect.provide(logs.layer))
    })
  }

  it.effect("the same reporter straight to the server (no proxy) writes: the control", () =>
    Effect.gen(function* () {
      const { target } = yield* setup()
      const publisher = yield* Publisher.make({
        reporters: [
          makeK8sReporter({
            kubeconfig: adminKubeconfig(kube),
            group: target.group,
            namespace: target.namespace,
            name: target.name,
            events: false
          })
        ]
      })
      yield* publisher.update(first)
      yield* awaitStream(publisher.healthChanges, (h) => h[0]?.state === "healthy")
      expect((yield* Effect.promise(() => getObject(kube.admin, target))).status?.phase).toBe("Ready")
    })
  )
})
