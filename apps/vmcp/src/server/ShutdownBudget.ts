/**
 * Shutdown budget: exit within 10 s of SIGTERM (docs/behaviours.md#shutdown). The config's
 * `shutdown.drainTimeout` may not exceed `maxDrainMs`: drain, then the final status, then the
 * close must fit before `hardExitMs`.
 */
export const ShutdownBudget = {
  /** Longest wait for in-flight calls: the maximum of `shutdown.drainTimeout`. */
  maxDrainMs: 5_000,
  /** Time the reporters get for the final status. */
  finalStatusMs: 3_000,
  /** If anything hangs past this, the process exits anyway. */
  hardExitMs: 9_500
} as const
