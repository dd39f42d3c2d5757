import type { RuntimeStatus } from "@vmcp-status/core"
import { toStatusPayload } from "@vmcp-status/k8s"
import type { TestKubeClient } from "@vmcp-status/testkit"

/**
 * What the original design did: every interval, GET the object and PUT it back with the full
 * status, whether or not anything changed (last writer wins).
 */
export const startBaseline = (
  client: TestKubeClient,
  objectPath: string,
  current: () => RuntimeStatus,
  intervalMs: number
) => {
  let stopped = false
  let running: Promise<void> = Promise.resolve()
  const ticks: Array<number> = []
  const tick = async () => {
    const t0 = performance.now()
    const got = await client.request({ method: "GET", path: objectPath })
    if (got.status !== 200) throw new Error(`baseline GET ${got.status}: ${got.text}`)
    const object = got.body as Record<string, unknown>
    const status = toStatusPayload(current(), { mode: "full" })
    const put = await client.request({
      method: "PUT",
      path: `${objectPath}/status`,
      body: { ...object, status }
    })
    if (put.status !== 200) throw new Error(`baseline PUT ${put.status}: ${put.text}`)
    ticks.push(performance.now() - t0)
  }
  const timer = setInterval(() => {
    if (!stopped) running = running.then(tick)
  }, intervalMs)
  return {
    /** How long each GET + PUT took, in ms. */
    tickMs: (): ReadonlyArray<number> => ticks,
    stop: async () => {
      stopped = true
      clearInterval(timer)
      await running
    }
  }
}
