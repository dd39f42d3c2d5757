import { it } from "@effect/vitest"
import { FaultProxy } from "@vmcp-status/testkit"
import { describeWithKube } from "@vmcp-status/testkit/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { expect } from "vitest"
import { clientFromOptions } from "../src/internal/KubeClient.ts"
import { makeStatusApplier } from "../src/internal/StatusApplier.ts"
import { objectPath, type Target } from "../src/Target.ts"
import { backend, status, T0 } from "./fixtures.ts"
import { adminKubeconfig, createObject, getObject, ownTarget, toolhiveTarget } from "./kube.ts"

const at = (minute: number) => `2026-11-25T18:${String(minute).padStart(2, "0")}:00Z`

describeWithKube("StatusApplier against a real API server", (kube) => {
  const applier = (target: Target, mode: "full" | "runtime") =>
    Effect.gen(function* () {
      const { client } = yield* clientFromOptions({ kubeconfig: adminKubeconfig(kube) })
      return yield* makeStatusApplier(client, { target, mode, rate: { ratePerSecond: 1000, burst: 1000 } })
    })

  /** The operator: its own field manager, its own fields. */
  const operatorApply = (target: Target, generation: number) =>
    Effect.promise(() =>
      kube.admin.request({
        method: "PATCH",
        path: `${objectPath(target)}/status?fieldManager=toolhive-operator&force=true`,
        contentType: "application/apply-patch+yaml",
        body: {
          apiVersion: `${target.group}/${target.version}`,
          kind: target.kind,
          metadata: { name: target.name, namespace: target.namespace },
          status: {
            url: `http://vmcp.${target.namespace}.svc:4483`,
            observedGeneration: generation,
            conditions: [
              {
                type: "GroupRefValidated",
                status: "True",
                reason: "GroupRefValid",
                message: `generation ${generation}`,
                lastTransitionTime: T0
              }
            ]
          }
        }
      })
    ).pipe(Effect.tap((res) => Effect.sync(() => expect(res.status, res.text).toBe(200))))

  for (const [crd, targetOf] of [
    ["toolhive's CRD", toolhiveTarget],
    ["our CRD", ownTarget]
  ] as const) {
    it.effect(`${crd}: the reporter and an operator alternate 30 writes and neither clobbers the other`, () =>
      Effect.gen(function* () {
        const namespace = yield* Effect.promise(() => kube.namespace("ssa"))
        const target = targetOf(namespace)
        yield* Effect.promise(() => createObject(kube.admin, target))
        const writer = yield* applier(target, "runtime")
        let previous = status([
          backend("alpha", "healthy"),
          backend("beta", "healthy"),
          backend("gamma", "healthy")
        ])
        for (let round = 1; round <= 15; round++) {
          // Rounds alternate which backends exist and how they are; gamma is dropped from round 10.
          const names = round < 10 ? ["alpha", "beta", "gamma"] : ["alpha", "beta"]
          const next = status(
            names.map((n) => backend(n, n === "beta" && round % 2 === 0 ? "unhealthy" : "healthy")),
            { now: at(round), previous }
          )
          expect(yield* writer.report(next)).toBe("written")
          yield* operatorApply(target, round)
          const object = yield* Effect.promise(() => getObject(kube.admin, target))
          const s = object.status ?? {}
          expect(s.url).toBe(`http://vmcp.${namespace}.svc:4483`)
          expect(s.observedGeneration).toBe(round)
          expect(s.discoveredBackends?.map((b) => b.name)).toEqual(names)
          expect(s.discoveredBackends?.find((b) => b.name === "beta")?.status).toBe(
            round % 2 === 0 ? "unavailable" : "ready"
          )
          expect(s.conditions?.map((c) => c.type).sort()).toEqual(
            ["BackendsDiscovered", "Degraded", "GroupRefValidated"].sort()
          )
          // Degraded flips every round: its time follows; BackendsDiscovered never changes status.
          const degraded = s.conditions?.find((c) => c.type === "Degraded")
          expect(degraded?.status).toBe(round % 2 === 0 ? "True" : "False")
          expect(degraded?.lastTransitionTime).toBe(round === 1 ? T0 : at(round))
          expect(s.conditions?.find((c) => c.type === "BackendsDiscovered")?.lastTransitionTime).toBe(T0)
          expect(s.conditions?.find((c) => c.type === "GroupRefValidated")?.reason).toBe("GroupRefValid")
          // runtime mode leaves phase and message to the operator (toolhive's CRD defaults phase).
          expect(s.message).toBeUndefined()
          previous = next
        }
        const managers = (yield* Effect.promise(() =>
          getObject(kube.admin, target)
        )).metadata.managedFields?.map((m) => m.manager)
        expect(managers).toEqual(expect.arrayContaining(["vmcp-status", "toolhive-operator"]))
      })
    )
  }

  it.effect(
    "a newer server's Warning 299 unknown field: learnt from the one successful write, left out of the next, no write on resync",
    () =>
      Effect.gen(function* () {
        const namespace = yield* Effect.promise(() => kube.namespace("warn"))
        // Our CRD declares every field: only the warnings (as Kubernetes >= 1.27 sends them for
        // fields it drops) tell the applier otherwise, so nothing but the header path can learn them.
        const target = ownTarget(namespace)
        yield* Effect.promise(() => createObject(kube.admin, target))
        const proxy = yield* FaultProxy.inFrontOf(kube.connection)
        proxy.addRule({
          method: "PATCH",
          path: `${objectPath(target)}/status`,
          fault: {
            kind: "addResponseHeaders",
            // Two headers, the second with two comma-separated warnings, one not about status.
            headers: {
              warning: [
                '299 - "unknown field \\"status.totalToolCount\\""',
                '299 - "unknown field \\"status.healthyBackends\\"", 299 - "unknown field \\"spec.extra\\""'
              ]
            }
          }
        })
        const { client } = yield* clientFromOptions({ kubeconfig: adminKubeconfig(kube, proxy.url) })
        const writer = yield* makeStatusApplier(client, {
          target,
          mode: "runtime",
          rate: { ratePerSecond: 1000, burst: 1000 },
          resyncIntervalMs: 60_000
        })
        const first = status([backend("alpha", "healthy")])
        expect(yield* writer.report(first)).toBe("written")
        // Learnt from the 200 itself: no repeated apply (the 1.20 rejection path needs one).
        expect(proxy.count({ method: "PATCH" })).toBe(1)
        expect(writer.undeclared()).toEqual(["healthyBackends", "totalToolCount"])

        const second = status([backend("alpha", "healthy"), backend("beta", "healthy")], {
          now: at(1),
          previous: first
        })
        expect(yield* writer.report(second)).toBe("written")
        expect(proxy.count({ method: "PATCH" })).toBe(2)
        // The apply left them out: server-side apply removes what our field manager stopped applying.
        const s = (yield* Effect.promise(() => getObject(kube.admin, target))).status ?? {}
        expect(s).not.toHaveProperty("totalToolCount")
        expect(s).not.toHaveProperty("healthyBackends")
        expect(s.backendCount).toBe(2)
        expect(s.discoveredBackends?.map((b) => b.name)).toEqual(["alpha", "beta"])

        // A resync finds no drift in what the server holds of ours: one GET, no write.
        proxy.resetCounts()
        yield* TestClock.adjust("61 seconds")
        expect(yield* writer.report(second)).toBe("skipped")
        expect(writer.stats().driftChecks).toBe(1)
        expect(proxy.count({ method: "GET" })).toBe(1)
        expect(proxy.count({ method: "PATCH" })).toBe(0)
      })
  )

  it.effect("full mode owns phase, message and Ready; a restarted reporter keeps lastTransitionTime", () =>
    Effect.gen(function* () {
      const namespace = yield* Effect.promise(() => kube.namespace("full"))
      const target = ownTarget(namespace)
      yield* Effect.promise(() => createObject(kube.admin, target))
      const first = yield* applier(target, "full")
      const ready = status([backend("alpha", "healthy")])
      expect(yield* first.report(ready)).toBe("written")
      // A new process: it derives its status afresh (a later `now`), with no memory.
      const restarted = yield* applier(target, "full")
      const later = status([backend("alpha", "healthy"), backend("beta", "healthy")], { now: at(30) })
      expect(yield* restarted.report(later)).toBe("written")
      const s = (yield* Effect.promise(() => getObject(kube.admin, target))).status ?? {}
      expect(s.phase).toBe("Ready")
      expect(s.message).toBe(later.message)
      expect(s.totalToolCount).toBe(8)
      expect(s.backendCount).toBe(2)
      const readyCondition = s.conditions?.find((c) => c.type === "Ready")
      expect(readyCondition?.status).toBe("True")
      expect(readyCondition?.lastTransitionTime).toBe(T0)
    })
  )
})
