import { type ChildProcess, spawn } from "node:child_process"
import {
  type JSONRPCMessage,
  ReadBuffer,
  serializeMessage,
  type Transport
} from "@modelcontextprotocol/client"
import { SessionDefaults } from "../SessionDefaults.ts"
import { makeLineRing } from "./LineRing.ts"

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
  #received = 0

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

  /** The messages the process has sent so far: one that sends nothing while asked may hang. */
  get received(): number {
    return this.#received
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
          this.#received++
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

  /** Stops a process that is alive but no longer answers: SIGTERM now, SIGKILL after `graceMs` if it is still there. */
  kill(graceMs: number): void {
    const child = this.#child
    if (child === undefined) return
    const gone = () => child.exitCode !== null || child.signalCode !== null
    child.kill("SIGTERM")
    const timer = setTimeout(() => {
      if (!gone()) child.kill("SIGKILL")
    }, graceMs)
    timer.unref()
    void this.ended.then(() => clearTimeout(timer))
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
