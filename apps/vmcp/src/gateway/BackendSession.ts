import { type ChildProcess, spawn } from "node:child_process"
import {
  type JSONRPCMessage,
  ReadBuffer,
  serializeMessage,
  type Transport
} from "@modelcontextprotocol/client"
import {
  type BackendExit,
  backoffDelay,
  MAX_EXIT_STDERR,
  type Redactor,
  toTimestamp
} from "@vmcp-status/core"

/**
 * The lifecycle defaults of a backend session, in one place (docs/behaviours.md#backend-lifecycle).
 * `startTimeoutMs` is per backend (`backends[].startTimeout`); the others are fixed.
 */
export const SessionDefaults = {
  /** Spawning/connecting plus `initialize`; never cut short by a probe. */
  startTimeoutMs: 60_000,
  /** The first restart waits this long; each further loss in a row doubles it... */
  restartBaseMs: 1_000,
  /** ...up to this cap. */
  restartCapMs: 60_000,
  /** A session that stayed up this long resets the doubling: its next loss waits `restartBaseMs` again. */
  stableAfterMs: 60_000,
  /** The stderr lines of a process kept for the report of its exit. */
  stderrLines: 20,
  /** Longer stderr lines are cut to this many characters. */
  stderrLineLength: 512,
  /** A `list_changed` is acted on after this much quiet... */
  refreshQuietMs: 100,
  /** ...but no later than this after the first unanswered one, however long the storm. */
  refreshMaxWaitMs: 1_000
} as const

/**
 * The delay before restart number `attempt` (1-based) of a session lost `attempt` times in a
 * row: `restartBaseMs · 2^(attempt−1)`, capped at `restartCapMs`, no jitter (one process per
 * backend, so there is no herd to spread).
 *
 * @example
 * ```ts
 * import { restartDelayMs } from "@vmcp-status/vmcp"
 *
 * [1, 2, 3, 7, 8].map((n) => restartDelayMs(n)) // [1000, 2000, 4000, 60000, 60000]
 * ```
 */
export const restartDelayMs = (
  attempt: number,
  options: { readonly baseMs?: number; readonly capMs?: number } = {}
): number =>
  backoffDelay(attempt, 0.5, {
    baseMs: options.baseMs ?? SessionDefaults.restartBaseMs,
    capMs: options.capMs ?? SessionDefaults.restartCapMs,
    jitter: 0
  })

/**
 * When a burst of change notifications is acted on: after `quietMs` without a new one, but never
 * later than `maxWaitMs` after the first of the burst, so a steady storm still gets a refresh
 * every `maxWaitMs`. Pure.
 *
 * @example
 * ```ts
 * import { refreshDueAt } from "@vmcp-status/vmcp"
 *
 * refreshDueAt(0, 950, 100, 1000) // 1000: the storm began at 0, so the wait ends at 1000
 * ```
 */
export const refreshDueAt = (firstAt: number, lastAt: number, quietMs: number, maxWaitMs: number): number =>
  Math.min(lastAt + quietMs, firstAt + maxWaitMs)

/** The last lines of a stream, bounded in count and length. */
export interface LineRing {
  /** Adds text as it arrives (a chunk may end mid-line). */
  readonly push: (chunk: string) => void
  /** The kept lines, oldest first, the unfinished one last. */
  readonly lines: () => ReadonlyArray<string>
}

/**
 * A ring of the last `maxLines` lines of a stream, each cut to `maxLineLength` characters:
 * memory stays bounded whatever a backend writes to stderr.
 *
 * @example
 * ```ts
 * import { makeLineRing } from "@vmcp-status/vmcp"
 *
 * const ring = makeLineRing(2, 80)
 * ring.push("a\nb\nc")
 * ring.lines() // ["b", "c"]
 * ```
 */
export const makeLineRing = (maxLines: number, maxLineLength: number): LineRing => {
  const kept: Array<string> = []
  let partial = ""
  const cut = (line: string) => (line.length <= maxLineLength ? line : `${line.slice(0, maxLineLength - 1)}…`)
  const add = (line: string) => {
    kept.push(cut(line))
    if (kept.length > maxLines) kept.shift()
  }
  return {
    push: (chunk) => {
      const parts = (partial + chunk).split(/\r?\n/)
      partial = parts.pop() ?? ""
      for (const part of parts) if (part !== "") add(part)
      // An endless line is kept as one cut line rather than growing without bound.
      if (partial.length > maxLineLength) {
        add(partial)
        partial = ""
      }
    },
    lines: () => (partial === "" ? [...kept] : [...kept, cut(partial)].slice(-maxLines))
  }
}

/** How a process ended: its code or signal (or the spawn error), and its last stderr lines. */
export interface ProcessEnd {
  readonly exitCode?: number
  readonly signal?: string
  /** A spawn failure's code (`ENOENT`, `EACCES`). */
  readonly error?: string
  readonly stderr: ReadonlyArray<string>
}

/** What spawning a stdio backend takes. */
export interface ProcessParams {
  readonly command: string
  readonly args: ReadonlyArray<string>
  readonly env: Readonly<Record<string, string>>
  readonly cwd?: string
  /** Also copy the child's stderr to ours (`inherit`) or only keep its tail (`ignore`, the default). */
  readonly stderr?: "inherit" | "ignore"
}

/**
 * An MCP stdio client transport over a child process that, unlike the SDK's, tells how the
 * process ended (code or signal) and keeps the tail of its stderr, so a crash can be reported.
 */
export class ProcessTransport implements Transport {
  onclose?: () => void
  onerror?: (error: Error) => void
  onmessage?: (message: JSONRPCMessage) => void
  /** Resolves once the process has exited and its pipes closed (or it could not be spawned). */
  readonly ended: Promise<ProcessEnd>
  readonly #params: ProcessParams
  readonly #buffer = new ReadBuffer()
  readonly #stderr = makeLineRing(SessionDefaults.stderrLines, SessionDefaults.stderrLineLength)
  #child: ChildProcess | undefined
  #end!: (end: ProcessEnd) => void
  #hasEnded = false

  constructor(params: ProcessParams) {
    this.#params = params
    this.ended = new Promise((resolve) => {
      this.#end = (end) => {
        this.#hasEnded = true
        resolve(end)
      }
    })
  }

  /** True once the process has ended (so a request that just failed failed because of it). */
  get hasEnded(): boolean {
    return this.#hasEnded
  }

  /** The process id once spawned. */
  get pid(): number | undefined {
    return this.#child?.pid
  }

  start(): Promise<void> {
    if (this.#child !== undefined) return Promise.reject(new Error("ProcessTransport already started"))
    return new Promise((resolve, reject) => {
      const child = spawn(this.#params.command, [...this.#params.args], {
        env: { ...this.#params.env },
        stdio: ["pipe", "pipe", "pipe"],
        shell: false,
        ...(this.#params.cwd === undefined ? {} : { cwd: this.#params.cwd })
      })
      this.#child = child
      let spawned = false
      child.on("spawn", () => {
        spawned = true
        resolve()
      })
      child.on("error", (error: NodeJS.ErrnoException) => {
        if (!spawned) {
          this.#end({
            ...(error.code === undefined ? {} : { error: error.code }),
            stderr: this.#stderr.lines()
          })
          this.#child = undefined
          reject(error)
          this.onclose?.()
          return
        }
        this.onerror?.(error)
      })
      // `close` comes after `exit` once stdout and stderr are drained: the tail is complete.
      child.on("close", () => {
        this.#end({
          ...(child.exitCode === null ? {} : { exitCode: child.exitCode }),
          ...(child.signalCode === null ? {} : { signal: child.signalCode }),
          stderr: this.#stderr.lines()
        })
        if (this.#child === child) this.#child = undefined
        this.onclose?.()
      })
      child.stdin?.on("error", (error) => this.onerror?.(error))
      child.stdout?.on("data", (chunk: Buffer) => {
        this.#buffer.append(chunk)
        while (true) {
          let message: JSONRPCMessage | null
          try {
            message = this.#buffer.readMessage()
          } catch (error) {
            this.onerror?.(error as Error)
            continue
          }
          if (message === null) break
          this.onmessage?.(message)
        }
      })
      child.stderr?.on("data", (chunk: Buffer) => {
        const text = chunk.toString("utf8")
        this.#stderr.push(text)
        if (this.#params.stderr === "inherit") process.stderr.write(chunk)
      })
    })
  }

  send(message: JSONRPCMessage): Promise<void> {
    const stdin = this.#child?.stdin
    if (stdin === undefined || stdin === null || stdin.destroyed)
      return Promise.reject(Object.assign(new Error("Not connected"), { code: "NOT_CONNECTED" }))
    return new Promise((resolve) => {
      if (stdin.write(serializeMessage(message))) resolve()
      else stdin.once("drain", resolve)
    })
  }

  /** Ends stdin, then SIGTERM after 2 s and SIGKILL after 2 more, until the process is gone. */
  async close(): Promise<void> {
    const child = this.#child
    if (child === undefined) return
    const gone = () => child.exitCode !== null || child.signalCode !== null
    const closed = this.ended.then(() => undefined)
    const within = (ms: number) =>
      Promise.race([closed, new Promise<void>((resolve) => setTimeout(resolve, ms).unref())])
    try {
      child.stdin?.end()
    } catch {}
    await within(2_000)
    if (!gone()) child.kill("SIGTERM")
    await within(2_000)
    if (!gone()) child.kill("SIGKILL")
    this.#buffer.clear()
  }
}

/** A probe or request reached a backend whose process exited and is being restarted. */
export class BackendRestarting extends Error {
  readonly code = "PROCESS_EXITED"
  constructor(backend: string, detail: string) {
    super(`backend ${backend}: ${detail}`)
    this.name = "BackendRestarting"
  }
}

/** Opening a session failed; `end` says how its process ended, when there was one. */
export class StartFailed extends Error {
  readonly end: ProcessEnd | undefined
  readonly timedOut: boolean
  constructor(cause: unknown, end: ProcessEnd | undefined, timedOut: boolean) {
    super(cause instanceof Error ? cause.message : String(cause), { cause })
    this.name = "StartFailed"
    this.end = end
    this.timedOut = timedOut
  }
}

/** A session as `open` hands it over. */
export interface Opened<C> {
  readonly client: C
  readonly pid: number | undefined
  /** Resolves when the session ends by itself (for a process: how it ended). */
  readonly ended: Promise<ProcessEnd | undefined>
  readonly close: () => Promise<void>
}

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

/** One backend's session through its lifecycle: started on first use, restarted after a loss. */
export interface Supervisor<C> {
  readonly phase: () => SessionPhase
  /**
   * The ready session: now, or once the start in progress completes (the first use starts it).
   * Rejects at once while a lost process waits for its restart. `signal` only stops the wait;
   * it never cuts the start short.
   */
  readonly get: (signal?: AbortSignal) => Promise<C>
  /** True while a first start (or the first restart after a stable run) is in progress: probes report it as pending. */
  readonly startingCleanly: () => boolean
  readonly restarts: () => number
  readonly lastExit: () => BackendExit | undefined
  /** Counts the sessions opened so far: a new session may come with other tools. */
  readonly generation: () => number
  /** Drops a reopenable (non-process) session after a transport failure: the next use reopens it. */
  readonly drop: () => void
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

  const closedError = () => new Error(`backend ${name} is closed`)

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
          if (options.restartable) lose(end, whyEnded(end))
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
    return opening
  }

  return {
    phase: () => phase,
    get: (signal) => {
      switch (phase) {
        case "ready":
          return Promise.resolve(current!.client)
        case "starting":
          return withAbort(starting!, signal)
        case "idle":
          return withAbort(start(), signal)
        case "restarting":
          return Promise.reject(
            new BackendRestarting(name, `its process exited (${lastExitReason()}); restarting`)
          )
        case "closed":
          return Promise.reject(closedError())
      }
    },
    startingCleanly: () => phase === "starting" && attempt <= 1,
    restarts: () => restarts,
    lastExit: () => lastExit,
    generation: () => generation,
    drop: () => {
      if (options.restartable || phase !== "ready") return
      const old = current
      current = undefined
      phase = "idle"
      void old?.close().catch(() => undefined)
    },
    close: async () => {
      phase = "closed"
      if (restartTimer !== undefined) clearTimeout(restartTimer)
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

const seconds = (ms: number) => (ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`)

/**
 * The log line of a session event, if it deserves one: a loss (warn: the backend, how it ended,
 * its last stderr line, what happens next) and a restart that came up (info). First starts and
 * tool changes are not logged.
 *
 * @example
 * ```ts
 * import { describeSessionEvent } from "@vmcp-status/vmcp"
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
