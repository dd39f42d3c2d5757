import { parseDuration } from "../Config.ts"
import { type CliIo, ExitCode, usageError, writeLine } from "./CommandLine.ts"
import { DEFAULT_URL, POLL_MS, statusHelp } from "./StatusCommand.ts"
import { kubeSource, listAllObjects, type Reading, type StatusSource, urlSource } from "./StatusSource.ts"
import {
  describeWaitTarget,
  formatFleet,
  formatView,
  meets,
  type OutputFormat,
  OutputFormats,
  parseWaitTarget,
  type StatusView,
  type WaitTarget
} from "./StatusView.ts"
import { paintFor } from "./Terminal.ts"

/** A change worth printing again: health, messages, counts and conditions, not probe times. */
const changeKey = (view: StatusView) =>
  JSON.stringify([
    view.phase,
    view.message,
    view.totalToolCount,
    view.backends.map((b) => [b.name, b.health, b.message, b.toolCount, b.circuit]),
    view.conditions
  ])

const abortableDelay = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve()
    const timer = setTimeout(done, ms)
    function done() {
      clearTimeout(timer)
      signal.removeEventListener("abort", done)
      resolve()
    }
    signal.addEventListener("abort", done, { once: true })
  })

/**
 * Reads the source until `signal` aborts: once, then from its stream when it has one (reading
 * again when the stream ends), else every `POLL_MS`.
 */
const observe = async (source: StatusSource, onReading: (reading: Reading) => void, signal: AbortSignal) => {
  let streams = source.follow !== undefined
  while (!signal.aborted) {
    const reading = await source.read()
    if (signal.aborted) return
    onReading(reading)
    if (reading._tag === "view" && streams && source.follow !== undefined) {
      try {
        streams = await source.follow((view) => onReading({ _tag: "view", view }), signal)
      } catch {
        // The stream broke: read again after the pause.
      }
    }
    await abortableDelay(POLL_MS, signal)
  }
}

/** Ctrl-C (or SIGTERM) aborts the controller instead of killing the process mid-line. */
const stopOnSignals = (controller: AbortController) => {
  const stop = () => controller.abort()
  process.once("SIGINT", stop)
  process.once("SIGTERM", stop)
  return () => {
    process.off("SIGINT", stop)
    process.off("SIGTERM", stop)
  }
}

interface Mode {
  readonly format: OutputFormat
  readonly watch: boolean
  readonly wait: WaitTarget | undefined
  readonly timeoutMs: number
}

const CLEAR = "\u001b[H\u001b[2J"

const runOne = async (source: StatusSource, mode: Mode, io: CliIo): Promise<number> => {
  const paint = paintFor(io.stdout)
  const errPaint = paintFor(io.stderr)
  const fail = (code: number, message: string) => {
    writeLine(io.stderr, `${errPaint.red("error:")} ${message}`)
    return code
  }
  if (!mode.watch && mode.wait === undefined) {
    const reading = await source.read()
    if (reading._tag === "unreachable") return fail(ExitCode.unreachable, reading.message)
    if (reading._tag === "absent") return fail(ExitCode.notReady, reading.message)
    writeLine(io.stdout, formatView(reading.view, mode.format, paint))
    return reading.view.phase === "Ready" ? ExitCode.ok : ExitCode.notReady
  }

  const controller = new AbortController()
  const release = stopOnSignals(controller)
  const tty = io.stdout.isTTY === true && mode.format !== "json" && mode.format !== "yaml"
  let last: Reading | undefined
  let lastKey: string | undefined
  let met = false
  let timedOut = false
  // The timeout counts from the first answer (or failed attempt, itself bounded), so a slow
  // first connection (a cold kubeconfig, TLS) does not turn "not there" into "never answered".
  let timer: NodeJS.Timeout | undefined
  const startDeadline = () => {
    if (timer !== undefined || mode.wait === undefined) return
    timer = setTimeout(() => {
      timedOut = true
      controller.abort()
    }, mode.timeoutMs)
  }
  if (mode.wait !== undefined)
    writeLine(
      io.stderr,
      errPaint.dim(
        `waiting up to ${mode.timeoutMs / 1000} s for ${describeWaitTarget(mode.wait)} at ${source.describe}`
      )
    )
  const print = (view: StatusView) => {
    if (mode.format === "json") return writeLine(io.stdout, JSON.stringify(view.raw))
    if (mode.format === "yaml") return writeLine(io.stdout, `---\n${formatView(view, "yaml", paint)}`)
    const stamp = paint.dim(`${source.describe} at ${new Date().toISOString().slice(11, 19)}`)
    const body = formatView(view, mode.format, paint)
    writeLine(io.stdout, tty ? `${CLEAR}${body}\n\n${stamp} (Ctrl-C stops)` : `${body}\n${stamp}\n`)
  }
  try {
    await observe(
      source,
      (reading) => {
        last = reading
        startDeadline()
        if (reading._tag !== "view") return
        const key = changeKey(reading.view)
        if (mode.watch && key !== lastKey) print(reading.view)
        lastKey = key
        if (mode.wait !== undefined && meets(reading.view, mode.wait)) {
          met = true
          controller.abort()
        }
      },
      controller.signal
    )
  } finally {
    clearTimeout(timer)
    release()
  }
  if (mode.wait === undefined) return ExitCode.ok
  if (met) {
    if (!mode.watch && last?._tag === "view") writeLine(io.stdout, formatView(last.view, mode.format, paint))
    return ExitCode.ok
  }
  if (!timedOut) return fail(ExitCode.notReady, `stopped before ${describeWaitTarget(mode.wait)}`)
  if (last === undefined || last._tag === "unreachable")
    return fail(
      ExitCode.unreachable,
      `timed out after ${mode.timeoutMs / 1000} s: ${last?.message ?? `no answer from ${source.describe}`}`
    )
  if (last._tag === "absent")
    return fail(ExitCode.notReady, `timed out after ${mode.timeoutMs / 1000} s: ${last.message}`)
  if (!mode.watch) writeLine(io.stdout, formatView(last.view, mode.format, paint))
  return fail(
    ExitCode.notReady,
    `timed out after ${mode.timeoutMs / 1000} s waiting for ${describeWaitTarget(mode.wait)} (phase ${last.view.phase})`
  )
}

const runFleet = async (kubeconfig: string | undefined, mode: Mode, io: CliIo): Promise<number> => {
  const paint = paintFor(io.stdout)
  const views = await listAllObjects(kubeconfig === undefined ? {} : { kubeconfig })
  if ("unreachable" in views) {
    writeLine(io.stderr, `${paintFor(io.stderr).red("error:")} ${views.unreachable}`)
    return ExitCode.unreachable
  }
  if (mode.format === "json")
    writeLine(
      io.stdout,
      JSON.stringify(
        views.map((v) => ({ object: v.source, status: v.raw })),
        null,
        2
      )
    )
  else if (views.length === 0) writeLine(io.stderr, "no VirtualMCPServer in any namespace")
  else writeLine(io.stdout, formatFleet(views, paint))
  return views.every((v) => v.phase === "Ready") ? ExitCode.ok : ExitCode.notReady
}

/** What `vmcp status` does, loaded when it runs (`StatusCommand.ts` holds its flags and help). */
export const runStatus = async (values: Record<string, unknown>, io: CliIo): Promise<number> => {
  const usage = (message: string) => usageError(io, message, statusHelp)
  const output = (values.output as string | undefined) ?? (values.json === true ? "json" : "text")
  if (!(OutputFormats as ReadonlyArray<string>).includes(output))
    return usage(`-o must be one of ${OutputFormats.join(", ")}, got ${JSON.stringify(output)}`)
  const format = output as OutputFormat
  let wait: WaitTarget | undefined
  if (values.wait === true) {
    const target = parseWaitTarget((values.for as string | undefined) ?? "ready")
    if (typeof target === "string") return usage(target)
    wait = target
  } else if (values.for !== undefined || values.timeout !== undefined)
    return usage("--for and --timeout go with --wait")
  const timeoutMs = parseDuration((values.timeout as string | undefined) ?? "60s")
  if (timeoutMs === undefined || timeoutMs <= 0 || timeoutMs > 2_147_483_647)
    return usage(`--timeout must be a duration such as 60s or 5m, got ${JSON.stringify(values.timeout)}`)
  const mode: Mode = { format, watch: values.watch === true, wait, timeoutMs }
  const kubeconfig = values.kubeconfig as string | undefined
  const name = values.name as string | undefined
  const namespace = values.namespace as string | undefined

  if (values["all-namespaces"] === true) {
    if (name !== undefined || values.url !== undefined || namespace !== undefined)
      return usage("-A lists every VirtualMCPServer: leave out --name, --namespace and --url")
    if (mode.wait !== undefined || mode.watch) return usage("-A prints once: leave out --wait and --watch")
    return runFleet(kubeconfig, mode, io)
  }
  if (name !== undefined) {
    if (values.url !== undefined)
      return usage("choose one source: --url (a server) or --name (its custom resource)")
    return runOne(
      kubeSource({
        name,
        ...(namespace === undefined ? {} : { namespace }),
        ...(kubeconfig === undefined ? {} : { kubeconfig })
      }),
      mode,
      io
    )
  }
  if (namespace !== undefined || kubeconfig !== undefined)
    return usage("--namespace and --kubeconfig read a custom resource: add --name <object> (or -A)")
  const base = ((values.url as string | undefined) ?? DEFAULT_URL).replace(/\/+$/, "")
  if (!URL.canParse(base)) return usage(`--url must be a URL, got ${JSON.stringify(base)}`)
  return runOne(urlSource(base), mode, io)
}
