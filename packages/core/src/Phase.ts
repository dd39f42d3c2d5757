import * as Schema from "effect/Schema"
import type { BackendCounts } from "./Backend.ts"

/** The phase of a Virtual MCP Server, as `kubectl get vmcp` shows it. */
export const Phase = Schema.Literals(["Pending", "Ready", "Degraded", "Failed"])
export type Phase = typeof Phase.Type

/** What the phase is derived from. */
export interface PhaseInput {
  readonly counts: BackendCounts
  /** True once the first health round has finished for every configured backend. */
  readonly initialRoundComplete: boolean
  /** False when the server itself cannot serve (listener down, fatal config); default true. */
  readonly serverOperational?: boolean
  /** True while the server drains for shutdown. */
  readonly shuttingDown?: boolean
}

/**
 * Derives the phase (docs/status-model.md#phase):
 * - the server not operational: `Failed`;
 * - shutting down, or backends configured and the first round not finished: `Pending`;
 * - zero backends, or every backend healthy: `Ready`;
 * - some routable (healthy or degraded) and some not healthy: `Degraded`;
 * - backends configured and none routable: `Failed`.
 *
 * @example
 * ```ts
 * import { countBackends, derivePhase } from "@vmcp-status/core"
 *
 * derivePhase({ counts: countBackends([]), initialRoundComplete: false }) // "Ready"
 * ```
 */
export const derivePhase = (input: PhaseInput): Phase => {
  const { counts } = input
  if (input.serverOperational === false) return "Failed"
  if (input.shuttingDown === true) return "Pending"
  if (counts.total === 0) return "Ready"
  if (!input.initialRoundComplete) return "Pending"
  if (counts.healthy === counts.total) return "Ready"
  if (counts.healthy + counts.degraded > 0) return "Degraded"
  return "Failed"
}
