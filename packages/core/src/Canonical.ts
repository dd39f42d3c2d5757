import type { BackendHealthReport } from "./Backend.ts"
import type { RuntimeStatus } from "./RuntimeStatus.ts"
import { stableJson } from "./StableJson.ts"

/** A backend report without its volatile fields. */
export type StableBackendReport = Omit<BackendHealthReport, "lastCheckTime" | "latencyMs">

/** A status without its volatile fields, backends sorted by name and conditions by type. */
export type StableStatus = Omit<RuntimeStatus, "observedAt" | "backends"> & {
  readonly backends: ReadonlyArray<StableBackendReport>
}

const byKey =
  <A>(key: (a: A) => string) =>
  (a: A, b: A) =>
    key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0

/**
 * Strips the volatile fields (`observedAt`, `lastCheckTime`, `latencyMs`) and puts backends and
 * conditions in a fixed order: what is left is what a change means.
 */
export const stable = (status: RuntimeStatus): StableStatus => {
  const { observedAt: _observedAt, backends, conditions, ...rest } = status
  return {
    ...rest,
    backends: backends
      .map(({ lastCheckTime: _c, latencyMs: _l, ...backend }) => backend)
      .sort(byKey((b) => b.name)),
    conditions: conditions.slice().sort(byKey((c) => c.type))
  }
}

/**
 * A string that is equal for two statuses exactly when they differ only in volatile fields,
 * backend order or condition order.
 *
 * @example
 * ```ts
 * import { deriveStatus, fingerprint } from "@vmcp-status/core"
 *
 * const a = deriveStatus({ backends: [], initialRoundComplete: true, now: "2026-11-25T18:00:00Z" })
 * fingerprint(a) === fingerprint({ ...a, observedAt: "2026-11-25T19:00:00Z" }) // true
 * ```
 */
export const fingerprint = (status: RuntimeStatus): string => stableJson(stable(status))

/** True when two statuses differ only in volatile fields or ordering. */
export const isEquivalent = (a: RuntimeStatus, b: RuntimeStatus): boolean => fingerprint(a) === fingerprint(b)
