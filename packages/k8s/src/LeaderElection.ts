/** Defaults of leader election, as client-go's: 15 s lease, 10 s renew deadline, 2 s retry. */
export const LeaderElectionDefaults = {
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000
} as const

/** Leader election options of `makeK8sReporter` (`leaderElection: { ... }`); every field has a default. */
export interface LeaderElectionOptions {
  /** The Lease's name (default `<object name>-status`, see `defaultLeaseName`). */
  readonly leaseName?: string
  /** This replica's identity (default `<hostname>-<random>`). */
  readonly identity?: string
  /** How long a Lease stays valid without renewal (default 15 s). */
  readonly leaseDurationMs?: number
  /** A leader that cannot renew for this long steps down (default 10 s). */
  readonly renewDeadlineMs?: number
  /** How often every replica tries to acquire or renew (default 2 s). */
  readonly retryPeriodMs?: number
}
