import { type ChildProcess, spawn } from "node:child_process"
import type { Writable } from "node:stream"

/** A child started in its own process group (pgid = pid), with the tail of its output. */
export interface Managed {
  readonly name: string
  readonly pid: number
  readonly child: ChildProcess
  /** Resolves with the exit code (or signal) once the process has exited. */
  readonly exited: Promise<string>
  readonly hasExited: () => boolean
  readonly logTail: () => string
}

const TAIL_LINES = 40

/**
 * Starts `command` detached, so it leads its own process group and a stop can reach anything
 * it forks. Output is drained into a ring of the last lines for error messages.
 */
export const startManaged = (name: string, command: string, args: ReadonlyArray<string>): Managed => {
  const child = spawn(command, args, { detached: true, stdio: ["ignore", "pipe", "pipe"] })
  const lines: Array<string> = []
  const collect = (chunk: Buffer) => {
    for (const line of chunk.toString("utf8").split("\n")) {
      if (line.trim().length === 0) continue
      lines.push(line)
      if (lines.length > TAIL_LINES) lines.shift()
    }
  }
  child.stdout?.on("data", collect)
  child.stderr?.on("data", collect)
  let done = false
  const exited = new Promise<string>((resolve) => {
    child.once("exit", (code, signal) => {
      done = true
      resolve(signal ?? `exit code ${code}`)
    })
    child.once("error", (error) => {
      done = true
      lines.push(error.message)
      resolve(`spawn failed: ${error.message}`)
    })
  })
  if (child.pid === undefined) {
    return { name, pid: -1, child, exited, hasExited: () => true, logTail: () => lines.join("\n") }
  }
  return { name, pid: child.pid, child, exited, hasExited: () => done, logTail: () => lines.join("\n") }
}

const signalGroup = (pid: number, signal: NodeJS.Signals) => {
  try {
    process.kill(-pid, signal)
  } catch {
    // Already gone.
  }
}

/** SIGTERM to the process group, SIGKILL after `graceMs`; resolves once the leader has exited. */
export const stopManaged = async (managed: Managed, graceMs = 5_000): Promise<void> => {
  if (managed.pid < 0 || managed.hasExited()) return
  signalGroup(managed.pid, "SIGTERM")
  let timer: NodeJS.Timeout | undefined
  const killed = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      signalGroup(managed.pid, "SIGKILL")
      resolve()
    }, graceMs)
  })
  await Promise.race([managed.exited, killed])
  clearTimeout(timer)
  await managed.exited
}

/** Whether a process with this pid exists (signal 0 probes without sending anything). */
export const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

// The reaper reads "pid N" / "dir PATH" lines on stdin. Its stdin closes when the process
// that started it dies for any reason (even SIGKILL); it then stops those process groups
// (SIGTERM, SIGKILL after 3 s) and removes the folders. "done" means a clean stop already
// happened.
const REAPER = `
const { rmSync } = require("node:fs")
const pids = []; const dirs = []; let done = false; let buffer = ""
process.stdin.setEncoding("utf8")
process.stdin.on("data", (chunk) => {
  buffer += chunk
  let i
  while ((i = buffer.indexOf("\\n")) >= 0) {
    const line = buffer.slice(0, i); buffer = buffer.slice(i + 1)
    if (line.startsWith("pid ")) pids.push(Number(line.slice(4)))
    else if (line.startsWith("dir ")) dirs.push(line.slice(4))
    else if (line === "done") done = true
  }
})
process.stdin.on("end", () => {
  if (done) process.exit(0)
  const send = (sig) => { for (const pid of pids) { try { process.kill(-pid, sig) } catch {} } }
  send("SIGTERM")
  setTimeout(() => {
    send("SIGKILL")
    for (const dir of dirs) { try { rmSync(dir, { recursive: true, force: true }) } catch {} }
    process.exit(0)
  }, 3000)
})
`

/** A watchdog process that cleans up after this process if it dies without stopping. */
export interface Reaper {
  readonly pid: number
  readonly watchPid: (pid: number) => void
  readonly watchDir: (dir: string) => void
  /** Everything was stopped cleanly: the reaper exits without touching anything. */
  readonly release: () => Promise<void>
}

export const startReaper = (): Reaper => {
  const child = spawn(process.execPath, ["-e", REAPER], {
    detached: true,
    stdio: ["pipe", "ignore", "ignore"]
  })
  const stdin = child.stdin as Writable & { unref?: () => void }
  // Neither the reaper nor its pipe may keep this process alive.
  child.unref()
  stdin.unref?.()
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  const send = (line: string) => {
    if (!stdin.destroyed) stdin.write(`${line}\n`)
  }
  return {
    pid: child.pid ?? -1,
    watchPid: (pid) => send(`pid ${pid}`),
    watchDir: (dir) => send(`dir ${dir}`),
    release: async () => {
      send("done")
      stdin.end()
      let timer: NodeJS.Timeout | undefined
      await Promise.race([exited, new Promise<void>((resolve) => (timer = setTimeout(resolve, 2_000)))])
      clearTimeout(timer)
    }
  }
}
