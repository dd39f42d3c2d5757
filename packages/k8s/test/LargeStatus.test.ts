import { it } from "@effect/vitest"
import { describeWithKube } from "@vmcp-status/testkit/vitest"
import { Effect } from "effect"
import { expect } from "vitest"
import { clientFromOptions } from "../src/internal/KubeClient.ts"
import { makeStatusApplier } from "../src/internal/StatusApplier.ts"
import { backend, status } from "./fixtures.ts"
import { adminKubeconfig, createObject, getObject, ownTarget } from "./kube.ts"

const thousand = status(
  Array.from({ length: 1000 }, (_, i) =>
    backend(`backend-${String(i).padStart(4, "0")}`, i % 10 === 0 ? "unhealthy" : "healthy", {
      ...(i % 10 === 0 ? { message: `dial tcp 10.0.${i % 255}.1:8080: connect: connection refused` } : {}),
      url: `https://backend-${i}.tools.svc:8080/mcp`
    })
  )
)

describeWithKube("large statuses on a real API server", (kube) => {
  it.effect(
    "1 000 backends fit and land whole; a tighter bound cuts the list with a marker, counts intact",
    () =>
      Effect.gen(function* () {
        const namespace = yield* Effect.promise(() => kube.namespace("large"))
        const target = ownTarget(namespace)
        yield* Effect.promise(() => createObject(kube.admin, target))
        const { client } = yield* clientFromOptions({ kubeconfig: adminKubeconfig(kube) })
        const whole = yield* makeStatusApplier(client, { target, includeUrls: true })
        expect(yield* whole.report(thousand)).toBe("written")
        const object = yield* Effect.promise(() => getObject(kube.admin, target))
        expect(object.status?.discoveredBackends).toHaveLength(1000)
        expect(object.status?.unhealthyBackends).toBe(100)
        const bytes = Buffer.byteLength(JSON.stringify(object))
        expect(bytes).toBeLessThan(1.5 * 1024 * 1024)

        const bounded = yield* makeStatusApplier(client, { target, includeUrls: true, maxBytes: 64 * 1024 })
        expect(yield* bounded.report(thousand)).toBe("written")
        const cut = (yield* Effect.promise(() => getObject(kube.admin, target))).status
        const listed = cut?.discoveredBackends?.length ?? 0
        expect(listed).toBeGreaterThan(0)
        expect(listed).toBeLessThan(1000)
        expect(cut?.unhealthyBackends).toBe(100)
        expect(cut?.conditions?.find((c) => c.type === "BackendsDiscovered")).toMatchObject({
          status: "True"
        })
        expect(JSON.stringify(cut?.conditions)).toContain(
          `status truncated: ${listed} of 1000 backends listed`
        )
        yield* Effect.sync(() =>
          process.stderr.write(
            `[k8s measurements] 1000 backends: object ${Math.round(bytes / 1024)} KiB; 64 KiB bound lists ${listed}\n`
          )
        )
      })
  )
})
