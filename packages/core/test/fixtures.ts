import {
  type BackendHealth,
  type BackendHealthReport,
  backendReport,
  deriveStatus,
  type RuntimeStatus
} from "../src/index.ts"

export const T0 = "2026-11-25T18:00:00Z"
export const T1 = "2026-11-25T18:01:00Z"

export const backend = (
  name: string,
  health: BackendHealth,
  extra: Partial<BackendHealthReport> = {}
): BackendHealthReport =>
  backendReport({
    name,
    health,
    lastTransitionTime: T0,
    message: health === "healthy" ? "" : `${health} probe`,
    toolCount: 3,
    consecutiveFailures: health === "unhealthy" ? 3 : 0,
    ...extra
  })

export const status = (
  backends: ReadonlyArray<BackendHealthReport>,
  extra: { now?: string; previous?: RuntimeStatus; initialRoundComplete?: boolean } = {}
): RuntimeStatus =>
  deriveStatus({
    backends,
    initialRoundComplete: extra.initialRoundComplete ?? true,
    now: extra.now ?? T0,
    lastDiscoveryTime: T0,
    ...(extra.previous ? { previous: extra.previous } : {})
  })

/** A distinct status per `n`: n healthy backends. */
export const nth = (n: number): RuntimeStatus =>
  status(Array.from({ length: n }, (_, i) => backend(`b${String(i).padStart(3, "0")}`, "healthy")))

/** A fixed-seed pseudo-random source (a linear congruential generator): the same cases on every run. */
export const seeded = (seed: number) => {
  let state = seed
  const random = () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31
    return state / 2 ** 31
  }
  const pickOne = <A>(xs: ReadonlyArray<A>): A => xs[Math.floor(random() * xs.length)] as A
  return { random, pickOne }
}
