import {
  type BackendHealth,
  type BackendHealthReport,
  backendReport,
  deriveStatus,
  type RuntimeStatus
} from "@vmcp-status/core"

export const T0 = "2026-11-25T18:00:00Z"
export const T1 = "2026-11-25T18:05:00Z"

export const backend = (
  name: string,
  health: BackendHealth,
  extra: Partial<BackendHealthReport> = {}
): BackendHealthReport =>
  backendReport({
    name,
    health,
    lastTransitionTime: T0,
    message: health === "healthy" ? "" : "connection refused",
    toolCount: 4,
    consecutiveFailures: health === "unhealthy" ? 3 : 0,
    circuit: health === "unhealthy" ? "open" : "closed",
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
