import type { BackendExit } from "@vmcp-status/core"

/** Where a backend session is in its lifecycle. */
export type SessionPhase = "idle" | "starting" | "ready" | "restarting" | "closed"

/** What a session announces to its subscribers. */
export type SessionEvent =
  | {
      readonly _tag: "Starting"
      readonly backend: string
      /** Restarts so far, this one included. */
      readonly restarts: number
    }
  | {
      readonly _tag: "Started"
      readonly backend: string
      readonly pid: number | undefined
      readonly restarts: number
      /** How long spawn, connect and `initialize` took. */
      readonly startMs: number
    }
  | {
      readonly _tag: "Lost"
      readonly backend: string
      readonly exit: BackendExit
      /** `exit code 1`, `signal SIGKILL`, `start timed out after 60000 ms`. */
      readonly reason: string
      /** When the next start begins; `undefined` when none is planned. */
      readonly restartInMs: number | undefined
      readonly restarts: number
    }
  | { readonly _tag: "ListsChanged"; readonly backend: string }

const seconds = (ms: number) => (ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`)

/**
 * The log line of a session event, if it deserves one: a loss (warn: the backend, how it ended,
 * its last stderr line, what happens next) and a restart that came up (info). First starts and
 * tool changes are not logged.
 *
 * @example
 * ```ts
 * import { describeSessionEvent } from "@vmcp-status/mcp"
 *
 * describeSessionEvent({ _tag: "Lost", backend: "clock", reason: "signal SIGKILL", restartInMs: 1000,
 *   restarts: 0, exit: { time: "2026-11-25T18:00:00Z", signal: "SIGKILL" } })
 * // { level: "warn", message: "backend clock: process ended (signal SIGKILL); restarting in 1 s (restart 1)" }
 * ```
 */
export const describeSessionEvent = (
  event: SessionEvent
): { readonly level: "info" | "warn"; readonly message: string } | undefined => {
  switch (event._tag) {
    case "Lost": {
      const stderr = event.exit.stderr?.split("\n").at(-1)
      const next =
        event.restartInMs === undefined
          ? "not restarting"
          : `restarting in ${seconds(event.restartInMs)} (restart ${event.restarts + 1})`
      return {
        level: "warn",
        message: `backend ${event.backend}: process ended (${event.reason})${
          stderr === undefined ? "" : `; last stderr: ${stderr}`
        }; ${next}`
      }
    }
    case "Started":
      return event.restarts === 0
        ? undefined
        : {
            level: "info",
            message: `backend ${event.backend}: restarted (restart ${event.restarts}${
              event.pid === undefined ? "" : `, pid ${event.pid}`
            }), up after ${event.startMs} ms`
          }
    default:
      return undefined
  }
}
