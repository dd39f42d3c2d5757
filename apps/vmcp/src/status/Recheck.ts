import type { BackendHealthReport } from "@vmcp-status/core"

/** Defaults of recheck on demand; import them instead of restating the numbers. */
export const RecheckDefaults = {
  /** One recheck per backend per this many milliseconds; more are refused with 429. */
  intervalMs: 5_000
} as const

/** `POST /backends/<name>/recheck`. */
export const RECHECK_ROUTE = /^\/backends\/([^/]+)\/recheck$/

/** What one recheck request came to. */
export type RecheckOutcome =
  | { readonly _tag: "Checked"; readonly report: BackendHealthReport }
  | { readonly _tag: "UnknownBackend"; readonly known: ReadonlyArray<string> }
  | { readonly _tag: "RateLimited"; readonly retryAfterMs: number }

/** Options of `makeRecheck`. */
export interface RecheckOptions {
  /** Probes the backend now; `undefined` when it is not configured. */
  readonly probe: (name: string) => Promise<BackendHealthReport | undefined>
  /** The configured backends' names, for the "unknown backend" answer. */
  readonly backends: () => ReadonlyArray<string>
  readonly intervalMs?: number
  /** Epoch milliseconds (default `Date.now`). */
  readonly now?: () => number
}

/**
 * Recheck on demand, rate-limited per backend: a backend rechecked less than `intervalMs` ago is
 * refused with the time to wait, so a script in a loop (or many operators) cannot turn the health
 * checker into a load generator. An unknown name is refused without probing anything.
 *
 * @example
 * ```ts
 * import { makeRecheck } from "@vmcp-status/vmcp"
 *
 * const recheck = makeRecheck({ probe: async () => undefined, backends: () => ["github"] })
 * await recheck("jira") // { _tag: "UnknownBackend", known: ["github"] }
 * ```
 */
export const makeRecheck = (options: RecheckOptions): ((name: string) => Promise<RecheckOutcome>) => {
  const intervalMs = options.intervalMs ?? RecheckDefaults.intervalMs
  const now = options.now ?? Date.now
  const last = new Map<string, number>()
  return async (name) => {
    const known = options.backends()
    if (!known.includes(name)) return { _tag: "UnknownBackend", known }
    const at = now()
    const previous = last.get(name)
    if (previous !== undefined && at - previous < intervalMs)
      return { _tag: "RateLimited", retryAfterMs: intervalMs - (at - previous) }
    last.set(name, at)
    const report = await options.probe(name)
    return report === undefined
      ? { _tag: "UnknownBackend", known: options.backends() }
      : { _tag: "Checked", report }
  }
}
