import type { ProcessEnd } from "./internal/ProcessTransport.ts"

/**
 * A request reached a backend whose process exited (or hung) and is being restarted; `code`
 * `PROCESS_EXITED` lets a classifier (`categorize` in `@vmcp-status/health`) say `process_exited`.
 */
export class BackendRestarting extends Error {
  readonly code = "PROCESS_EXITED"
  constructor(backend: string, detail: string) {
    super(`backend ${backend}: ${detail}`)
    this.name = "BackendRestarting"
  }
}

/**
 * Opening a session failed; `end` says how its process ended, when there was one. `code` is
 * `START_TIMEOUT` when `startTimeoutMs` ran out, the spawn error's code when the process could
 * not be spawned (`ENOENT`, `EACCES`), `PROCESS_EXITED` when it ended while starting, absent
 * otherwise (the cause, e.g. `ECONNREFUSED` or an HTTP status, says more).
 */
export class StartFailed extends Error {
  readonly end: ProcessEnd | undefined
  readonly timedOut: boolean
  readonly code: string | undefined
  constructor(cause: unknown, end: ProcessEnd | undefined, timedOut: boolean) {
    super(cause instanceof Error ? cause.message : String(cause), { cause })
    this.name = "StartFailed"
    this.end = end
    this.timedOut = timedOut
    this.code = timedOut
      ? "START_TIMEOUT"
      : (end?.error ?? (end !== undefined ? "PROCESS_EXITED" : undefined))
  }
}

/** The session was closed (`close()`): it takes no more requests. */
export class SessionClosed extends Error {
  readonly code = "NOT_CONNECTED"
  constructor(backend: string) {
    super(`backend ${backend} is closed`)
    this.name = "SessionClosed"
  }
}
