import type { Phase, RuntimeStatus } from "@vmcp-status/core"

/** What `/readyz` answers: 200 with `ready: true`, or 503 with a short reason. */
export type Readiness =
  | { readonly ready: true; readonly phase?: Phase }
  | { readonly ready: false; readonly phase?: Phase; readonly reason: string }

/**
 * Whether this replica should get traffic. Ready once the first health round is done, while at
 * least one backend is routable: `Ready` and `Degraded` are ready (some tools answer), `Failed`
 * (backends configured and none routable) is not, nor `Pending` (first round, shutting down).
 * Zero backends is `Ready`. Readiness is not liveness: a `Failed` replica keeps running and
 * probing, and comes back into the Service once a backend does.
 *
 * @example
 * ```ts
 * import { deriveStatus } from "@vmcp-status/core"
 * import { readiness } from "@vmcp-status/vmcp"
 *
 * const status = deriveStatus({ backends: [], initialRoundComplete: true, now: "2026-11-27T23:00:00Z" })
 * readiness({ stopping: false, initialRoundComplete: true, status }) // { ready: true, phase: "Ready" }
 * ```
 */
export const readiness = (input: {
  readonly stopping: boolean
  readonly initialRoundComplete: boolean
  readonly status: RuntimeStatus | undefined
}): Readiness => {
  const { status } = input
  if (input.stopping) return { ready: false, reason: "shutting down" }
  if (!input.initialRoundComplete || status === undefined)
    return { ready: false, reason: "waiting for the first health round" }
  switch (status.phase) {
    case "Failed": {
      const routable = status.healthyBackends + status.degradedBackends
      return {
        ready: false,
        phase: "Failed",
        reason:
          routable === 0
            ? `no backend is routable (0 of ${status.backends.length})`
            : "the server is not operational"
      }
    }
    case "Pending":
      return { ready: false, phase: "Pending", reason: "waiting for the first health round" }
    default:
      return { ready: true, phase: status.phase }
  }
}
