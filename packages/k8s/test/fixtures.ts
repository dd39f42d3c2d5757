import {
  type BackendHealth,
  type BackendHealthReport,
  deriveStatus,
  type RuntimeStatus
} from "@vmcp-status/core"

export const T0 = "2026-11-25T18:00:00Z"
export const T1 = "2026-11-25T18:05:00Z"

export const backend = (
  name: string,
  health: BackendHealth,
  extra: Partial<BackendHealthReport> = {}
): BackendHealthReport => ({
  name,
  transport: "streamable-http",
  health,
  message: health === "healthy" ? "" : "connection refused",
  toolCount: 4,
  consecutiveFailures: health === "unhealthy" ? 3 : 0,
  circuit: health === "unhealthy" ? "open" : "closed",
  lastTransitionTime: T0,
  ...extra
})

export const status = (
  backends: ReadonlyArray<BackendHealthReport>,
  extra: { now?: string; previous?: RuntimeStatus } = {}
): RuntimeStatus =>
  deriveStatus({
    backends,
    initialRoundComplete: true,
    now: extra.now ?? T0,
    lastDiscoveryTime: T0,
    ...(extra.previous === undefined ? {} : { previous: extra.previous })
  })
