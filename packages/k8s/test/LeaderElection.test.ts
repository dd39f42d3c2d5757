import { it } from "@effect/vitest"
import { Publisher } from "@vmcp-status/core"
import { FaultProxy, type FaultProxyHandle } from "@vmcp-status/testkit"
import { describeWithKube } from "@vmcp-status/testkit/vitest"
import { Clock, Effect } from "effect"
import { expect } from "vitest"
import { makeK8sReporter } from "../src/K8sReporter.ts"
import { defaultLeaseName } from "../src/Rbac.ts"
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

const ready = status([backend("alpha", "healthy")])
const degraded = status([backend("alpha", "healthy"), backend("beta", "unhealthy")])

const election = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 }

describeWithKube("leader election on a real Lease", (kube) => {
  /** Three replicas of the reporter on one object, each behind its own fault proxy. */
  const replicas = (mode: "full" | "runtime" = "full") =>
    Effect.gen(function* () {
      const namespace = yield* Effect.promise(() => kube.namespace("lease"))
      const target = ownTarget(namespace)
      yield* Effect.promise(() => createObject(kube.admin, target))
      const started: Array<{
        readonly identity: string
        readonly proxy: FaultProxyHandle
        readonly tracker: ReturnType<typeof requestTracker>
        readonly publisher: Publisher.Publisher
      }> = []
      for (const identity of ["replica-0", "replica-1", "replica-2"]) {
        const proxy = yield* FaultProxy.inFrontOf(kube.connection)
        const tracker = requestTracker()
        const publisher = yield* Publisher.make({
          reporters: [
            makeK8sReporter({
              kubeconfig: adminKubeconfig(kube, proxy.url),
              group: target.group,
              namespace,
              name: target.name,
              mode,
              events: false,
              requestTimeoutMs: 2_000,
              leaderElection: { ...election, identity },
              onRequest: tracker.onRequest
            })
          ],
          jitter: 0
        })
        started.push({ identity, proxy, tracker, publisher })
      }
      /** Waits until no replica has a request in flight (twice: a response may start the next request). */
      const settle = Effect.gen(function* () {
        for (let pass = 0; pass < 3; pass++) {
          for (const r of started) yield* r.tracker.idle
          yield* ioTurn
        }
      })
      /** Moves virtual time in 1 s steps, settling after each. */
      const advance = (seconds: number) =>
        Effect.gen(function* () {
          for (let s = 0; s < seconds; s++) {
            yield* started[0]?.tracker.step("1 second") ?? Effect.void
            yield* settle
          }
        })
      const lease = Effect.promise(async () => {
        const res = await kube.admin.request({
          method: "GET",
          path: `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases/${defaultLeaseName(target)}`
        })
        return res.status === 200
          ? (res.body as { spec: { holderIdentity?: string; leaseTransitions?: number } }).spec
          : undefined
      })
      const writes = (r: (typeof started)[number]) =>
        r.tracker.finished(/\/status$/).filter((e) => e.method === "PATCH").length
      yield* settle
      return { namespace, target, replicas: started, settle, advance, lease, writes }
    })

  it.effect("three replicas on one object: exactly one holds the Lease and only it writes", () =>
    Effect.gen(function* () {
      const { replicas: rs, advance, lease, writes, settle, target } = yield* replicas()
      const holder = (yield* lease)?.holderIdentity
      expect(rs.map((r) => r.identity)).toContain(holder)
      for (const r of rs) yield* r.publisher.update(ready)
      for (const r of rs)
        yield* awaitStream(r.publisher.healthChanges, (h) => (h[0]?.lastAttemptAt ?? -1) >= 0)
      yield* settle
      expect(rs.map((r) => (r.identity === holder ? writes(r) === 1 : writes(r) === 0))).toEqual([
        true,
        true,
        true
      ])
      // A minute of renewals and a change later: still one leader, still the only writer.
      yield* advance(60)
      for (const r of rs) yield* r.publisher.update(degraded)
      yield* settle
      expect((yield* lease)?.holderIdentity).toBe(holder)
      expect(rs.map((r) => writes(r))).toEqual(rs.map((r) => (r.identity === holder ? 2 : 0)))
      expect((yield* Effect.promise(() => getObject(kube.admin, target))).status?.phase).toBe("Degraded")
    })
  )

  it.effect(
    "a leader cut off from the API server is replaced once its Lease expires in the others' eyes",
    () =>
      Effect.gen(function* () {
        const { replicas: rs, advance, lease, writes, settle, target } = yield* replicas()
        for (const r of rs) yield* r.publisher.update(ready)
        yield* settle
        const old = (yield* lease)?.holderIdentity
        const leader = rs.find((r) => r.identity === old)
        expect(leader).toBeDefined()
        // The leader "dies": every request it makes is reset from now on; it never releases.
        leader?.proxy.addRule({ fault: { kind: "reset" } })
        const diedAt = yield* Clock.currentTimeMillis
        // The others must not take over early.
        yield* advance(14)
        expect((yield* lease)?.holderIdentity).toBe(old)
        // In the meantime the status changed: the successor writes the newest status when it takes over.
        for (const r of rs) yield* r.publisher.update(degraded)
        yield* settle
        let successor: string | undefined = old
        while (successor === old && (yield* Clock.currentTimeMillis) - diedAt < 30_000) {
          yield* advance(1)
          successor = (yield* lease)?.holderIdentity
        }
        const tookOverAfter = (yield* Clock.currentTimeMillis) - diedAt
        expect(successor).not.toBe(old)
        // Followers time the Lease by their own clock from the last renewal they saw (no clock-skew
        // assumption, as client-go): that renewal is at most one retry period before the death, and
        // the takeover happens on the first attempt after the lease duration.
        expect(tookOverAfter).toBeGreaterThanOrEqual(election.leaseDurationMs - election.retryPeriodMs)
        expect(tookOverAfter).toBeLessThanOrEqual(election.leaseDurationMs + 2 * election.retryPeriodMs)
        const next = rs.find((r) => r.identity === successor)
        expect(next !== undefined && writes(next)).toBe(1)
        expect((yield* Effect.promise(() => getObject(kube.admin, target))).status?.phase).toBe("Degraded")
        yield* Effect.sync(() =>
          process.stderr.write(
            `[k8s measurements] dead leader replaced after ${tookOverAfter / 1000} s (virtual)\n`
          )
        )
      })
  )

  it.effect(
    "a leader that stops writes Ready=False/ShuttingDown and releases the Lease: the successor takes over at once",
    () =>
      Effect.gen(function* () {
        const { replicas: rs, advance, lease, writes, settle, target } = yield* replicas()
        for (const r of rs) yield* r.publisher.update(ready)
        yield* settle
        const old = (yield* lease)?.holderIdentity
        const leader = rs.find((r) => r.identity === old)
        yield* leader?.publisher.stop ?? Effect.void
        yield* settle
        const final = (yield* Effect.promise(() => getObject(kube.admin, target))).status
        const readyCondition = (final?.conditions ?? []).find((c) => c.type === "Ready")
        expect(readyCondition?.status).toBe("False")
        expect(readyCondition?.reason).toBe("ShuttingDown")
        expect((yield* lease)?.holderIdentity ?? "").toBe("")
        // One retry period, not a lease duration.
        yield* advance(election.retryPeriodMs / 1000)
        const successor = (yield* lease)?.holderIdentity
        expect(rs.filter((r) => r !== leader).map((r) => r.identity)).toContain(successor)
        const next = rs.find((r) => r.identity === successor)
        expect(next !== undefined && writes(next)).toBe(1)
        expect((yield* Effect.promise(() => getObject(kube.admin, target))).status?.phase).toBe("Ready")
      })
  )

  it.effect(
    "a leader that cannot renew its Lease (but could still write) stops writing after the renew deadline: never two writers",
    () =>
      Effect.gen(function* () {
        const { replicas: rs, advance, lease, writes, settle } = yield* replicas()
        for (const r of rs) yield* r.publisher.update(ready)
        yield* settle
        const old = (yield* lease)?.holderIdentity
        const leader = rs.find((r) => r.identity === old)
        if (leader === undefined) return yield* Effect.die("no leader")
        // Only its Lease requests fail; status writes would still go through.
        leader.proxy.addRule({ path: "/apis/coordination.k8s.io/**", fault: { kind: "status", status: 503 } })
        const writesBefore = writes(leader)
        // Past the renew deadline, before the Lease expires for the others: a change must not be written.
        yield* advance(election.renewDeadlineMs / 1000 + 1)
        expect((yield* lease)?.holderIdentity).toBe(old)
        for (const r of rs) yield* r.publisher.update(degraded)
        yield* settle
        expect(writes(leader)).toBe(writesBefore)
        expect(rs.filter((r) => r !== leader).map((r) => writes(r))).toEqual([0, 0])
        // Then a follower takes over and writes the change.
        yield* advance(10)
        const holder = (yield* lease)?.holderIdentity
        const successor = rs.find((r) => r.identity === holder)
        expect(successor).not.toBe(leader)
        expect(successor !== undefined && writes(successor)).toBe(1)
        expect(writes(leader)).toBe(writesBefore)
      })
  )
})
