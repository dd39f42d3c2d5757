/**
 * 200 start/stop cycles of the publisher with every reporter (log, k8s on the real API server,
 * prometheus): nothing may pile up, neither handles nor heap.
 */
import { Writable } from "node:stream"
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"
import { deriveStatus, start } from "@vmcp-status/core"
import { makeK8sReporter } from "@vmcp-status/k8s"
import { makeLogReporter } from "@vmcp-status/log"
import { makePrometheusReporter } from "@vmcp-status/prometheus"
import { eventually } from "@vmcp-status/testkit"
import { describeWithKube } from "@vmcp-status/testkit/vitest"
import { expect, it } from "vitest"

setFlagsFromString("--expose-gc")
const gc = runInNewContext("gc") as () => void

/** Live handles by type (sockets, timers, ...), as Node counts them. */
const resources = () => {
  const counts: Record<string, number> = {}
  for (const type of process.getActiveResourcesInfo()) counts[type] = (counts[type] ?? 0) + 1
  return counts
}
const total = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0)
const heapMb = () => {
  gc()
  gc()
  return process.memoryUsage().heapUsed / 2 ** 20
}
/** Sockets: a stopped reporter closes them asynchronously, so they are waited for, not slept on. */
const sockets = (counts: Record<string, number>) =>
  Object.entries(counts)
    .filter(([type]) => /TCP|TLS|Pipe/.test(type))
    .reduce((n, [, count]) => n + count, 0)

const CYCLES = 200
/** Stated bounds: what may remain after 200 cycles beyond what one cycle leaves. */
const HANDLE_SLACK = 2
const HEAP_GROWTH_MB = 16

describeWithKube("repeated start/stop", (kube) => {
  it(`${CYCLES} start/stop cycles with log, k8s and prometheus reporters leave handles and heap within bounds`, async () => {
    const namespace = await kube.namespace("cycles")
    const created = await kube.admin.request({
      method: "POST",
      path: `/apis/toolhive.stacklok.dev/v1beta1/namespaces/${namespace}/virtualmcpservers`,
      body: {
        apiVersion: "toolhive.stacklok.dev/v1beta1",
        kind: "VirtualMCPServer",
        metadata: { name: "cycles" },
        spec: {}
      }
    })
    expect(created.status).toBe(201)
    const sink = new Writable({ write: (_chunk, _encoding, done) => done() })
    const cycle = async (i: number) => {
      const publisher = await start({
        reporters: [
          makeLogReporter({ stream: sink, format: "json", vmcp: "cycles" }),
          makeK8sReporter({ kubeconfig: kube.connection.kubeconfigs.admin.path, namespace, name: "cycles" }),
          makePrometheusReporter()
        ]
      })
      const backends = [
        {
          name: "alpha",
          transport: "stdio" as const,
          health: i % 2 === 0 ? ("healthy" as const) : ("unhealthy" as const),
          message: i % 2 === 0 ? "" : "connection refused",
          toolCount: i,
          consecutiveFailures: i % 2 === 0 ? 0 : 3,
          circuit: "closed" as const,
          lastTransitionTime: "2026-11-27T00:00:00Z"
        }
      ]
      publisher.update(deriveStatus({ backends, initialRoundComplete: true, now: new Date().toISOString() }))
      await publisher.stop()
      const states = publisher.health().map((h) => h.state)
      expect(states, `cycle ${i}`).toEqual(["stopped", "stopped", "stopped"])
    }

    const idle = resources()
    await cycle(0)
    await eventually("the first cycle's sockets to close", () =>
      sockets(resources()) <= sockets(idle) ? true : undefined
    )
    const handlesBefore = resources()
    const heapBefore = heapMb()
    for (let i = 1; i <= CYCLES; i++) await cycle(i)
    // Waits for the last cycle's sockets to close; a leak never gets there, and fails below.
    await eventually("the handles to come back within bounds", () =>
      total(resources()) <= total(handlesBefore) + HANDLE_SLACK ? true : undefined
    ).catch(() => undefined)
    const handlesAfter = resources()
    const heapAfter = heapMb()
    console.info(
      `after ${CYCLES} cycles: handles ${JSON.stringify(handlesBefore)} → ${JSON.stringify(handlesAfter)}, heap ${heapBefore.toFixed(1)} → ${heapAfter.toFixed(1)} MB`
    )

    expect(
      total(handlesAfter),
      `handles before ${JSON.stringify(handlesBefore)}, after ${JSON.stringify(handlesAfter)}`
    ).toBeLessThanOrEqual(total(handlesBefore) + HANDLE_SLACK)
    expect(heapAfter - heapBefore, `heap ${heapBefore.toFixed(1)} → ${heapAfter.toFixed(1)} MB`).toBeLessThan(
      HEAP_GROWTH_MB
    )
    // The last cycle's status is on the object: every cycle really wrote.
    const object = await kube.admin.request({
      method: "GET",
      path: `/apis/toolhive.stacklok.dev/v1beta1/namespaces/${namespace}/virtualmcpservers/cycles`
    })
    expect((object.body as { status: { totalToolCount: number } }).status.totalToolCount).toBe(CYCLES)
  })
})
