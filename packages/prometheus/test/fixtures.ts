import {
  type BackendHealth,
  type BackendHealthReport,
  backendReport,
  deriveStatus,
  type RuntimeStatus
} from "@vmcp-status/core"
import { Effect } from "effect"
import type { Registry } from "prom-client"

export const T0 = "2026-11-25T18:00:00Z"
export const T1 = "2026-11-25T18:00:30Z"
export const T2 = "2026-11-25T18:01:00Z"
export const T3 = "2026-11-25T18:01:30Z"

export const backend = (
  name: string,
  health: BackendHealth,
  extra: Partial<BackendHealthReport> = {}
): BackendHealthReport =>
  backendReport({
    name,
    health,
    lastTransitionTime: T0,
    ...extra
  })

export const status = (
  backends: ReadonlyArray<BackendHealthReport>,
  initialRoundComplete = true
): RuntimeStatus => deriveStatus({ backends, initialRoundComplete, now: T0, lastDiscoveryTime: T0 })

/** A probe of `latencyMs` that ran at `at`. */
export const probe = (at: string, latencyMs: number) => ({ lastCheckTime: at, latencyMs })

export const github = (health: BackendHealth, extra: Partial<BackendHealthReport> = {}) =>
  backend("github", health, {
    toolCount: 9,
    url: "https://gh-user:hunter2@github.mcp.local/mcp?token=tok3n",
    ...extra
  })
export const jira = (health: BackendHealth, extra: Partial<BackendHealthReport> = {}) =>
  backend("jira", health, { toolCount: 5, ...extra })
export const slack = (health: BackendHealth, extra: Partial<BackendHealthReport> = {}) =>
  backend("slack", health, { toolCount: 5, ...extra })
export const jiraDown = (extra: Partial<BackendHealthReport> = {}) =>
  jira("unhealthy", {
    message: "connection refused to http://admin:s3cret@jira.local:8080/mcp?api_key=k3y",
    consecutiveFailures: 5,
    circuit: "open",
    ...extra
  })
/** Strings of the fixtures that must never reach the exposition. */
export const SECRETS = ["hunter2", "tok3n", "s3cret", "k3y", "gh-user", "admin", "connection refused", "://"]

/** One sample line of the exposition text: `name{labels} value`. */
export interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g

/** Parses the Prometheus text format, ignoring `# HELP` and `# TYPE` lines. */
export const parseExposition = (text: string): ReadonlyArray<Sample> =>
  text
    .split("\n")
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => {
      const match = LINE.exec(line)
      if (match === null) throw new Error(`not an exposition line: ${line}`)
      const labels: Record<string, string> = {}
      for (const [, key, value] of (match[2] ?? "").matchAll(LABEL))
        labels[key!] = value!.replace(/\\(.)/g, "$1")
      const raw = match[3]!
      const value = raw === "+Inf" ? Infinity : raw === "-Inf" ? -Infinity : Number(raw)
      return { name: match[1]!, labels, value }
    })

/** A parsed scrape: every sample, with look-ups by name and exact labels. */
export interface Scrape {
  readonly text: string
  readonly samples: ReadonlyArray<Sample>
  /** The samples of one metric name. */
  readonly series: (name: string) => ReadonlyArray<Sample>
  /** The value of the series with exactly these labels, or undefined. */
  readonly value: (name: string, labels?: Readonly<Record<string, string>>) => number | undefined
  /** `{ [label value]: value }` of a metric keyed by one label, restricted by `where`. */
  readonly by: (
    name: string,
    key: string,
    where?: Readonly<Record<string, string>>
  ) => Readonly<Record<string, number>>
}

const sameLabels = (a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>) => {
  const ak = Object.keys(a)
  return ak.length === Object.keys(b).length && ak.every((k) => a[k] === b[k])
}

export const scrape = (registry: Registry) =>
  Effect.promise(async (): Promise<Scrape> => {
    const text = await registry.metrics()
    const samples = parseExposition(text)
    const series = (name: string) => samples.filter((s) => s.name === name)
    return {
      text,
      samples,
      series,
      value: (name, labels = {}) => series(name).find((s) => sameLabels(s.labels, labels))?.value,
      by: (name, key, where = {}) =>
        Object.fromEntries(
          series(name)
            .filter((s) => Object.entries(where).every(([k, v]) => s.labels[k] === v))
            .map((s) => [s.labels[key], s.value])
        )
    }
  })

/** Lets forked fibers run to their next suspension point. */
export const settle = Effect.gen(function* () {
  for (let i = 0; i < 20; i++) yield* Effect.yieldNow
})
