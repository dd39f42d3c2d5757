import { InvalidOptionError } from "@vmcp-status/core"
import { Counter, Gauge, Histogram, type Registry } from "prom-client"

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/

/** The labels our metrics use; constant labels may not take these names. */
const OWN_LABELS = [
  "phase",
  "health",
  "backend",
  "state",
  "reporter",
  "outcome",
  "window",
  "le",
  "quantile"
] as const

type Labels = Record<string, string>

/** The metric names after the prefix (`vmcp_` by default). */
export const METRIC_SUFFIXES = [
  "phase",
  "backends",
  "tools",
  "backend_health",
  "backend_circuit_state",
  "backend_tools",
  "backend_consecutive_failures",
  "backend_probe_duration_seconds",
  "backend_healthy_since_seconds",
  "backend_availability_ratio",
  "backend_restarts_total",
  "reports_total",
  "reporter_consecutive_failures",
  "reporter_last_success_timestamp_seconds"
] as const

/** Every metric this package registers, created once per reporter. */
export interface Metrics {
  readonly constLabels: Readonly<Labels>
  readonly phase: Gauge<string>
  readonly backends: Gauge<string>
  readonly tools: Gauge<string>
  readonly backendHealth: Gauge<string>
  readonly backendCircuitState: Gauge<string>
  readonly backendTools: Gauge<string>
  readonly backendConsecutiveFailures: Gauge<string>
  readonly backendProbeDuration: Histogram<string>
  readonly backendHealthySince: Gauge<string>
  readonly backendAvailability: Gauge<string>
  readonly backendRestarts: Counter<string>
  readonly reportsTotal: Counter<string>
  readonly reporterConsecutiveFailures: Gauge<string>
  readonly reporterLastSuccess: Gauge<string>
}

export interface MetricsConfig {
  readonly registry: Registry
  readonly prefix: string
  readonly labels: Readonly<Labels>
  readonly buckets: ReadonlyArray<number>
  /** Called before the reporter metrics are read on a scrape. */
  readonly collectReporterHealth: () => void
  /** Called before the history metrics are read on a scrape. */
  readonly collectHistory: () => void
}

const checkLabels = (labels: Readonly<Labels>) => {
  for (const [name, value] of Object.entries(labels)) {
    if (!LABEL_NAME.test(name) || name.startsWith("__"))
      throw new InvalidOptionError({
        option: "labels",
        message: `constant label name "${name}" is not a valid Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)`
      })
    if ((OWN_LABELS as ReadonlyArray<string>).includes(name))
      throw new InvalidOptionError({
        option: "labels",
        message: `constant label "${name}" clashes with a label of the vmcp metrics; choose another name`
      })
    if (typeof value !== "string")
      throw new InvalidOptionError({
        option: "labels",
        message: `constant label "${name}" must have a string value`
      })
  }
}

const checkBuckets = (buckets: ReadonlyArray<number>) => {
  const ok =
    buckets.length > 0 &&
    buckets.every((b, i) => Number.isFinite(b) && b > 0 && (i === 0 || b > (buckets[i - 1] as number)))
  if (!ok)
    throw new InvalidOptionError({
      option: "buckets",
      message: `buckets must be positive, finite and strictly increasing (in seconds), got [${buckets.join(", ")}]`
    })
}

/**
 * Creates and registers every metric. Constant labels are ordinary labels that every series
 * carries, so they work on a shared registry without touching its default labels.
 */
export const createMetrics = (config: MetricsConfig): Metrics => {
  if (!METRIC_NAME.test(`${config.prefix}phase`))
    throw new InvalidOptionError({
      option: "prefix",
      message: `prefix "${config.prefix}" does not make valid Prometheus metric names ([a-zA-Z_:][a-zA-Z0-9_:]*), e.g. "vmcp_"`
    })
  checkLabels(config.labels)
  checkBuckets(config.buckets)
  const constNames = Object.keys(config.labels)
  const registers = [config.registry]
  // Check every name before registering any, so a clash leaves the registry untouched.
  for (const name of METRIC_SUFFIXES) {
    const full = `${config.prefix}${name}`
    if (config.registry.getSingleMetric(full) !== undefined)
      throw new InvalidOptionError({
        option: "registry",
        message: `the registry already has a metric named ${full}; give this reporter its own registry or another prefix`
      })
  }
  const guard = <M>(name: (typeof METRIC_SUFFIXES)[number], create: (name: string) => M): M =>
    create(`${config.prefix}${name}`)
  const gauge = (
    name: (typeof METRIC_SUFFIXES)[number],
    help: string,
    labelNames: ReadonlyArray<string>,
    collect?: () => void
  ) =>
    guard(
      name,
      (full) =>
        new Gauge({
          name: full,
          help,
          labelNames: [...constNames, ...labelNames],
          registers,
          ...(collect === undefined ? {} : { collect })
        })
    )
  const collect = config.collectReporterHealth

  return {
    constLabels: { ...config.labels },
    phase: gauge("phase", "The server's phase: 1 for the current phase, 0 for the others.", ["phase"]),
    backends: gauge("backends", "Number of configured backends by health.", ["health"]),
    tools: gauge("tools", "Tools clients can call now (those of healthy and degraded backends).", []),
    backendHealth: gauge("backend_health", "A backend's health: 1 for the current value, 0 for the others.", [
      "backend",
      "health"
    ]),
    backendCircuitState: gauge(
      "backend_circuit_state",
      "A backend's circuit-breaker state: 1 for the current state, 0 for the others.",
      ["backend", "state"]
    ),
    backendTools: gauge("backend_tools", "Tools a backend offered at its last discovery.", ["backend"]),
    backendConsecutiveFailures: gauge(
      "backend_consecutive_failures",
      "Consecutive failed health probes of a backend.",
      ["backend"]
    ),
    backendProbeDuration: guard(
      "backend_probe_duration_seconds",
      (full) =>
        new Histogram({
          name: full,
          help: "Duration of backend health probes, one observation per probe.",
          labelNames: [...constNames, "backend"],
          buckets: [...config.buckets],
          registers
        })
    ),
    backendHealthySince: gauge(
      "backend_healthy_since_seconds",
      "Unix time a backend last became healthy; absent while it is not healthy.",
      ["backend"],
      config.collectHistory
    ),
    backendAvailability: gauge(
      "backend_availability_ratio",
      "Share of the window (1h, 24h) a backend was routable (healthy or degraded), 0..1, of the time its health was known since the process started.",
      ["backend", "window"],
      config.collectHistory
    ),
    backendRestarts: guard(
      "backend_restarts_total",
      (full) =>
        new Counter({
          name: full,
          help: "Restarts of a backend's session by the gateway (e.g. its stdio process exited).",
          labelNames: [...constNames, "backend"],
          registers
        })
    ),
    reportsTotal: guard(
      "reports_total",
      (full) =>
        new Counter({
          name: full,
          help: "Status reports per reporter by outcome (written, skipped, conflict, throttled, error).",
          labelNames: [...constNames, "reporter", "outcome"],
          registers,
          collect
        })
    ),
    reporterConsecutiveFailures: gauge(
      "reporter_consecutive_failures",
      "Consecutive failed reports of a reporter; 0 once it succeeds.",
      ["reporter"],
      collect
    ),
    reporterLastSuccess: gauge(
      "reporter_last_success_timestamp_seconds",
      "Unix time of a reporter's last successful report.",
      ["reporter"],
      collect
    )
  }
}

/** The constant labels merged with a series' own labels. */
export const labelsOf = (metrics: Metrics, own: Readonly<Labels>): Labels => ({
  ...metrics.constLabels,
  ...own
})
