import type { BackendHealth, BackendHealthReport } from "./Backend.ts"
import type { Phase } from "./Phase.ts"
import type { RuntimeStatus } from "./RuntimeStatus.ts"

/** One backend whose health changed, appeared or disappeared. */
export interface BackendTransition {
  readonly name: string
  /** `undefined` when the backend is new. */
  readonly from: BackendHealth | undefined
  /** `undefined` when the backend was removed. */
  readonly to: BackendHealth | undefined
  /** Why, from the new report (already free of URLs and secrets). */
  readonly message: string
  readonly consecutiveFailures: number
}

/** What changed between two statuses, for logs and Events. */
export interface Transitions {
  /** Set when the phase changed (or on the first status). */
  readonly phase: { readonly from: Phase | undefined; readonly to: Phase } | undefined
  readonly backends: ReadonlyArray<BackendTransition>
  /** True when phase or any backend health changed. */
  readonly any: boolean
}

/**
 * Compares two statuses by phase and per-backend health (messages and counts alone are not
 * transitions). With no previous status, the phase counts as changed.
 *
 * @example
 * ```ts
 * import { deriveStatus, transitions } from "@vmcp-status/core"
 *
 * const s = deriveStatus({ backends: [], initialRoundComplete: true, now: "2026-11-25T18:00:00Z" })
 * transitions(undefined, s).phase // { from: undefined, to: "Ready" }
 * transitions(s, s).any // false
 * ```
 */
export const transitions = (previous: RuntimeStatus | undefined, next: RuntimeStatus): Transitions => {
  const phase =
    previous === undefined || previous.phase !== next.phase
      ? { from: previous?.phase, to: next.phase }
      : undefined
  const before = new Map<string, BackendHealthReport>((previous?.backends ?? []).map((b) => [b.name, b]))
  const backends: Array<BackendTransition> = []
  for (const backend of next.backends) {
    const old = before.get(backend.name)
    before.delete(backend.name)
    if (old === undefined || old.health !== backend.health) {
      backends.push({
        name: backend.name,
        from: old?.health,
        to: backend.health,
        message: backend.message,
        consecutiveFailures: backend.consecutiveFailures
      })
    }
  }
  for (const removed of before.values()) {
    backends.push({
      name: removed.name,
      from: removed.health,
      to: undefined,
      message: "removed from configuration",
      consecutiveFailures: 0
    })
  }
  backends.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  return { phase, backends, any: phase !== undefined || backends.length > 0 }
}
