import {
  type BackendHealth,
  type BackendHealthReport,
  deriveStatus,
  type RuntimeStatus
} from "@vmcp-status/core"

const T0 = "2026-11-27T00:00:00Z"

/** `count` backends named b0000…; the last `unhealthy` of them down; backend 0 offers `variant` tools. */
export const statusOf = (count: number, variant: number, unhealthy = 0): RuntimeStatus => {
  const backends: Array<BackendHealthReport> = Array.from({ length: count }, (_, i) => {
    const health: BackendHealth = i >= count - unhealthy ? "unhealthy" : "healthy"
    return {
      name: `b${String(i).padStart(4, "0")}`,
      transport: "streamable-http",
      health,
      message: health === "healthy" ? "" : "connection refused",
      toolCount: i === 0 ? variant : 5,
      consecutiveFailures: health === "healthy" ? 0 : 3,
      circuit: "closed",
      lastTransitionTime: T0,
      lastCheckTime: new Date().toISOString(),
      latencyMs: 3
    }
  })
  return deriveStatus({
    backends,
    initialRoundComplete: true,
    now: new Date().toISOString(),
    lastDiscoveryTime: T0
  })
}

/** The value a watcher reads back to know which status it sees. */
export const variantOf = (status: { totalToolCount?: number } | undefined, count: number, unhealthy = 0) =>
  status?.totalToolCount === undefined ? undefined : status.totalToolCount - 5 * (count - 1 - unhealthy)
