import { type BackendExit, MAX_EXIT_STDERR, type Redactor, toTimestamp } from "@vmcp-status/core"
import { BackendRestarting, SessionClosed, StartFailed } from "../Errors.ts"
import { restartDelayMs, SessionDefaults } from "../SessionDefaults.ts"
import type { SessionEvent, SessionPhase } from "../SessionEvent.ts"
import type { ProcessEnd } from "./ProcessTransport.ts"

/** A session as `open` hands it over. */
export interface Opened<C> {
  readonly client: C
  readonly pid: number | undefined
  /** Resolves when the session ends by itself (for a process: how it ended). */
  readonly ended: Promise<ProcessEnd | undefined>
  readonly close: () => Promise<void>
  /** Stops a process that hangs (SIGTERM, then SIGKILL after `graceMs`); absent when there is no process. */
  readonly kill?: (graceMs: number) => void
}

/** What `makeSupervisor` needs. */
export interface SupervisorOptions<C> {
  readonly name: string
  /** True for processes: a loss is recorded and followed by a restart with backoff. Otherwise the next request reopens. */
  readonly restartable: boolean
  /** Opens a session; must clean up (kill the process) when `signal` aborts. Rejects with `StartFailed`. */
  readonly open: (signal: AbortSignal) => Promise<Opened<C>>
  readonly startTimeoutMs: number
  readonly redact: Redactor
  readonly emit: (event: SessionEvent) => void
  readonly restart?: { readonly baseMs?: number; readonly capMs?: number; readonly stableAfterMs?: number }
}

/** How `get` treats a session waiting for its restart. */
export interface GetOptions {
  /** Wait for the planned restart (and the start it begins) instead of failing at once. */
  readonly throughRestart?: boolean
}

/** One backend's session through its lifecycle: started on first use, restarted after a loss. */
export interface Supervisor<C> {
  readonly phase: () => SessionPhase
  /**
   * The ready session: now, or once the start in progress completes (the first use starts it).
   * Rejects at once while a lost process waits for its restart. `signal` only stops the wait;
   * it never cuts the start short.
   */
  readonly get: (signal?: AbortSignal, options?: GetOptions) => Promise<C>
  /** True while a first start (or the first restart after a stable run) is in progress: probes report it as pending. */
  readonly startingCleanly: () => boolean
  readonly restarts: () => number
  /** Losses in a row so far (0 once a session has stayed up `stableAfterMs`... and been lost no more). */
  readonly lossesInARow: () => number
  readonly lastExit: () => BackendExit | undefined
  /** Counts the sessions opened so far: a new session may come with other tools. */
  readonly generation: () => number
  /** Drops a reopenable (non-process) session after a transport failure: the next use reopens it. */
  readonly drop: () => void
  /**
   * Stops the ready process of session `generation` because it hangs; its end is a loss with
   * `reason` (then a restart with backoff, like any other loss).
   */
  readonly kill: (generation: number, reason: string, graceMs: number) => void
  readonly close: () => Promise<void>
}

const stderrText = (lines: ReadonlyArray<string>, redact: Redactor): string | undefined => {
  if (lines.length === 0) return undefined
  const text = redact(lines.join("\n"))
  return text.length <= MAX_EXIT_STDERR ? text : `…${text.slice(-(MAX_EXIT_STDERR - 1))}`
}

const whyEnded = (end: ProcessEnd | undefined): string =>
  end === undefined
    ? "session closed"
    : end.signal !== undefined
      ? `signal ${end.signal}`
      : end.exitCode !== undefined
        ? `exit code ${end.exitCode}`
        : end.error !== undefined
          ? `could not start (${end.error})`
          : "session closed"

const withAbort = <A>(promise: Promise<A>, signal: AbortSignal | undefined): Promise<A> => {
  if (signal === undefined) return promise
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise<A>((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    signal.addEventListener("abort", onAbort, { once: true })
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort))
  })
}

/**
 * Runs the lifecycle of one backend session (docs/behaviours.md#backend-lifecycle):
 * `idle` → `starting` (bounded by `startTimeoutMs` alone) → `ready`; for a process, a loss (exit,
 * failed or timed-out start) is recorded (`lastExit`, with its redacted stderr tail) and followed by
 * `restarting`, a wait of `restartDelayMs(n)` for the n-th loss in a row (reset after a run of
 * `stableAfterMs`), then a new start. Requests never close a session.
 */
export const makeSupervisor = <C>(options: SupervisorOptions<C>): Supervisor<C> => {
  const { name, redact } = options
  const stableAfterMs = options.restart?.stableAfterMs ?? SessionDefaults.stableAfterMs
  let phase: SessionPhase = "idle"
  let attempt = 0
  let restarts = 0
  let generation = 0
  let lastExit: BackendExit | undefined
  let current: Opened<C> | undefined
  let readyAt: number | undefined
  let starting: Promise<C> | undefined
  let startController: AbortController | undefined
  let restartTimer: NodeJS.Timeout | undefined
  /** Why the current process is being stopped (it hung), for the loss its end is. */
  let killedBecause: string | undefined

  const closedError = () => new SessionClosed(name)
  /** Waiters of `get(…, { throughRestart: true })`, handed the next start when it begins. */
  let restartWaiters: Array<{
    readonly resolve: (p: Promise<C>) => void
    readonly reject: (e: unknown) => void
  }> = []
  const waitForRestart = (): Promise<C> =>
    new Promise<C>((resolve, reject) => {
      restartWaiters.push({ resolve: (next) => resolve(next), reject })
    })

  const lose = (end: ProcessEnd | undefined, reason: string) => {
    const now = Date.now()
    if (readyAt !== undefined && now - readyAt >= stableAfterMs) attempt = 0
    readyAt = undefined
    attempt++
    const stderr = stderrText(end?.stderr ?? [], redact)
    lastExit = {
      time: toTimestamp(now),
      ...(end?.exitCode === undefined ? {} : { exitCode: end.exitCode }),
      ...(end?.signal === undefined ? {} : { signal: end.signal }),
      ...(stderr === undefined ? {} : { stderr })
    }
    const delay = restartDelayMs(attempt, options.restart ?? {})
    phase = "restarting"
    options.emit({ _tag: "Lost", backend: name, exit: lastExit, reason, restartInMs: delay, restarts })
    restartTimer = setTimeout(() => {
      restartTimer = undefined
      if (phase === "restarting") start().catch(() => undefined)
    }, delay)
  }

  const start = (): Promise<C> => {
    phase = "starting"
    const waiters = restartWaiters
    restartWaiters = []
    if (attempt > 0) {
      restarts++
      options.emit({ _tag: "Starting", backend: name, restarts })
    }
    const controller = new AbortController()
    startController = controller
    const t0 = Date.now()
    const timer = setTimeout(
      () => controller.abort(new Error(`start timed out after ${options.startTimeoutMs} ms`)),
      options.startTimeoutMs
    )
    const opening = options.open(controller.signal).then(
      (opened) => {
        clearTimeout(timer)
        startController = undefined
        if (phase === "closed") {
          void opened.close().catch(() => undefined)
          throw closedError()
        }
        current = opened
        phase = "ready"
        readyAt = Date.now()
        generation++
        starting = undefined
        options.emit({ _tag: "Started", backend: name, pid: opened.pid, restarts, startMs: readyAt - t0 })
        void opened.ended.then((end) => {
          if (current !== opened || phase === "closed") return
          current = undefined
          const reason = killedBecause ?? whyEnded(end)
          killedBecause = undefined
          if (options.restartable) lose(end, reason)
          else phase = "idle"
        })
        return opened.client
      },
      (error: unknown) => {
        clearTimeout(timer)
        startController = undefined
        starting = undefined
        if (phase === "closed") throw closedError()
        if (!options.restartable) phase = "idle"
        else {
          const failed = error instanceof StartFailed ? error : undefined
          lose(
            failed?.end,
            failed?.timedOut === true
              ? `start timed out after ${options.startTimeoutMs} ms`
              : failed?.end?.error !== undefined
                ? whyEnded(failed.end)
                : failed?.end !== undefined &&
                    (failed.end.exitCode !== undefined || failed.end.signal !== undefined)
                  ? `${whyEnded(failed.end)} while starting`
                  : `start failed: ${redact(failed?.message ?? String(error))}`
          )
        }
        throw error
      }
    )
    starting = opening
    opening.catch(() => undefined)
    for (const waiter of waiters) waiter.resolve(opening)
    return opening
  }

  return {
    phase: () => phase,
    get: (signal, getOptions) => {
      switch (phase) {
        case "ready":
          return Promise.resolve(current!.client)
        case "starting":
          return withAbort(starting!, signal)
        case "idle":
          return withAbort(start(), signal)
        case "restarting":
          if (getOptions?.throughRestart === true) return withAbort(waitForRestart(), signal)
          return Promise.reject(
            new BackendRestarting(name, `its process exited (${lastExitReason()}); restarting`)
          )
        case "closed":
          return Promise.reject(closedError())
      }
    },
    startingCleanly: () => phase === "starting" && attempt <= 1,
    restarts: () => restarts,
    lossesInARow: () => attempt,
    lastExit: () => lastExit,
    generation: () => generation,
    drop: () => {
      if (options.restartable || phase !== "ready") return
      const old = current
      current = undefined
      phase = "idle"
      void old?.close().catch(() => undefined)
    },
    kill: (target, reason, graceMs) => {
      if (phase !== "ready" || generation !== target || killedBecause !== undefined) return
      if (current?.kill === undefined) return
      killedBecause = reason
      current.kill(graceMs)
    },
    close: async () => {
      phase = "closed"
      if (restartTimer !== undefined) clearTimeout(restartTimer)
      for (const waiter of restartWaiters) waiter.reject(closedError())
      restartWaiters = []
      startController?.abort(closedError())
      const pending = starting
      const old = current
      current = undefined
      await pending?.catch(() => undefined)
      await old?.close().catch(() => undefined)
    }
  }

  function lastExitReason(): string {
    if (lastExit === undefined) return "unknown"
    return lastExit.signal !== undefined
      ? `signal ${lastExit.signal}`
      : lastExit.exitCode !== undefined
        ? `exit code ${lastExit.exitCode}`
        : "start failed"
  }
}
