/**
 * Child processes for the gateway bench, and what /proc says about them. Every child is started
 * detached (its own process group, so a stdio backend that vmcp spawned goes with it) and
 * remembered; `stopAll` ends exactly those groups, also on SIGINT/SIGTERM/an uncaught error.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { closeSync, openSync, readdirSync, readFileSync } from "node:fs"
import { request } from "node:http"
import { setTimeout as delay } from "node:timers/promises"

export interface Child {
  readonly pid: number
  readonly process: ChildProcess
  readonly exited: Promise<number | null>
  readonly logFile: string
  /** SIGTERM, then SIGKILL of the whole group if it has not exited within `graceMs`. */
  readonly stop: (graceMs?: number) => Promise<void>
}

const running = new Set<Child>()

const killGroup = (pid: number, signal: NodeJS.Signals) => {
  try {
    process.kill(-pid, signal)
  } catch {
    // already gone
  }
}

/** Starts `command args` with stdout and stderr appended to `logFile`; `stdin: "pipe"` keeps a pipe the child may watch. */
export const startChild = (
  command: string,
  args: ReadonlyArray<string>,
  options: { logFile: string; env?: NodeJS.ProcessEnv; stdin?: "pipe" | "ignore"; stdout?: "pipe" | "log" }
): Child => {
  const fd = openSync(options.logFile, "a")
  const child = spawn(command, args, {
    detached: true,
    env: options.env ?? process.env,
    stdio: [options.stdin ?? "ignore", options.stdout === "pipe" ? "pipe" : fd, fd]
  })
  closeSync(fd)
  if (child.pid === undefined) throw new Error(`could not start ${command}`)
  const pid = child.pid
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
  const handle: Child = {
    pid,
    process: child,
    exited,
    logFile: options.logFile,
    stop: async (graceMs = 12_000) => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM")
        const timer = setTimeout(() => killGroup(pid, "SIGKILL"), graceMs)
        await exited
        clearTimeout(timer)
      }
      killGroup(pid, "SIGKILL") // whatever it started and left behind
      running.delete(handle)
    }
  }
  running.add(handle)
  return handle
}

/** Ends every child this process started (and their groups) at once, synchronously. */
export const killAll = () => {
  for (const child of running) {
    killGroup(child.pid, "SIGTERM")
    killGroup(child.pid, "SIGKILL")
  }
  running.clear()
}

let installed = false
/** Children never outlive the bench: on Ctrl-C, SIGTERM, an uncaught error or a normal exit. */
export const installCleanup = () => {
  if (installed) return
  installed = true
  process.once("exit", killAll)
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const)
    process.once(signal, () => {
      process.stderr.write(`[bench] ${signal}: stopping the children\n`)
      killAll()
      process.exit(130)
    })
}

const CLK_TCK = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100
  } catch {
    return 100
  }
})()

/** User + system CPU seconds of `pid` so far (/proc/<pid>/stat utime + stime), undefined once gone. */
export const cpuSeconds = (pid: number): number | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK
  } catch {
    return undefined
  }
}

/** VmRSS and VmHWM of `pid` in MiB (/proc/<pid>/status). */
export const memoryMiB = (pid: number): { rss: number; hwm: number } => {
  const status = readFileSync(`/proc/${pid}/status`, "utf8")
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN)
  return { rss: kb("VmRSS") / 1024, hwm: kb("VmHWM") / 1024 }
}

/** The pids whose parent is `pid` (scanning /proc, which every kernel has). */
export const childPids = (pid: number): Array<number> => {
  const found: Array<number> = []
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8")
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
      if (ppid === pid) found.push(Number(entry))
    } catch {
      // exited while we looked
    }
  }
  return found
}

/** The status code of `GET url` (one connection, no keep-alive), or 0 if nothing answered. */
export const httpStatus = (url: string, timeoutMs = 2_000) =>
  new Promise<number>((resolve) => {
    const req = request(url, { agent: false, timeout: timeoutMs }, (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    req.on("timeout", () => req.destroy())
    req.on("error", () => resolve(0))
    req.end()
  })

/**
 * Polls `url` every `everyMs` until it answers 200; resolves with performance.now() of the answer.
 * Gives up after `boundMs` (a bound for a broken build, not a speed limit) or if `child` exits.
 */
export const waitFor200 = async (url: string, child: Child | undefined, everyMs = 10, boundMs = 60_000) => {
  const start = performance.now()
  while (performance.now() - start < boundMs) {
    if (child !== undefined && child.process.exitCode !== null)
      throw new Error(
        `the process exited (${child.process.exitCode}) before ${url} answered 200; see ${child.logFile}`
      )
    const tried = performance.now()
    if ((await httpStatus(url)) === 200) return performance.now()
    await delay(Math.max(0, everyMs - (performance.now() - tried)))
  }
  throw new Error(
    `${url} did not answer 200 within ${boundMs / 1000} s${child ? `; see ${child.logFile}` : ""}`
  )
}
