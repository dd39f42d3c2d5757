import type { ReporterSource } from "@vmcp-status/core"
import type { PrometheusReporter } from "@vmcp-status/prometheus"
import type { VmcpConfig } from "../Config.ts"

/** The reporters the app knows. */
export const ReporterKinds = ["log", "k8s", "prometheus"] as const
export type ReporterKind = (typeof ReporterKinds)[number]

/** Which reporters run, which of them must start, and why. */
export interface ReporterSelection {
  readonly kinds: ReadonlyArray<ReporterKind>
  readonly required: ReadonlyArray<ReporterKind>
  /** One line for the startup log: where the choice came from. */
  readonly reason: string
}

/** What the choice is made from. */
export interface SelectionInput {
  /** `--reporters` (wins over `VMCP_REPORTERS`). */
  readonly reporters?: string
  /** `--require-reporters` (wins over `VMCP_REQUIRED_REPORTERS`). */
  readonly required?: string
  readonly env: Readonly<Record<string, string | undefined>>
}

const set = (value: string | undefined) => value !== undefined && value.trim() !== ""

const parseList = (text: string, what: string): ReadonlyArray<ReporterKind> | string => {
  const out: Array<ReporterKind> = []
  for (const raw of text.split(",")) {
    const item = raw.trim()
    if (item === "") continue
    if (!(ReporterKinds as ReadonlyArray<string>).includes(item))
      return `${what}: unknown reporter ${JSON.stringify(item)}; choose from ${ReporterKinds.join(", ")}`
    if (!out.includes(item as ReporterKind)) out.push(item as ReporterKind)
  }
  return out
}

/**
 * Environment detection (docs/architecture.md#environment-detection): in a cluster (`KUBERNETES_SERVICE_HOST`) with
 * `VMCP_NAME` and `VMCP_NAMESPACE`, the k8s reporter joins log and prometheus (and the log
 * writes JSON lines); elsewhere log and prometheus. An explicit list (`--reporters` or
 * `VMCP_REPORTERS`) replaces the detection. Required reporters (`--require-reporters`,
 * `VMCP_REQUIRED_REPORTERS`) are added to the list and fail startup when they cannot start.
 * Returns the selection, or the usage error as a string. Pure.
 *
 * @example
 * ```ts
 * import { selectReporters } from "@vmcp-status/vmcp"
 *
 * selectReporters({ env: { KUBERNETES_SERVICE_HOST: "10.96.0.1", VMCP_NAME: "a", VMCP_NAMESPACE: "b" } })
 * // { kinds: ["log", "k8s", "prometheus"], required: [], reason: "in a cluster ..." }
 * ```
 */
export const selectReporters = (input: SelectionInput): ReporterSelection | string => {
  const { env } = input
  const requiredText = input.required ?? env.VMCP_REQUIRED_REPORTERS
  const required = set(requiredText)
    ? parseList(
        requiredText!,
        input.required !== undefined ? "--require-reporters" : "VMCP_REQUIRED_REPORTERS"
      )
    : []
  if (typeof required === "string") return required
  const listText = input.reporters ?? env.VMCP_REPORTERS
  if (set(listText)) {
    const listed = parseList(listText!, input.reporters !== undefined ? "--reporters" : "VMCP_REPORTERS")
    if (typeof listed === "string") return listed
    const kinds = [...listed, ...required.filter((r) => !listed.includes(r))]
    return {
      kinds,
      required,
      reason: `reporters ${kinds.join(", ")} (from ${input.reporters !== undefined ? "--reporters" : "VMCP_REPORTERS"})`
    }
  }
  const inCluster = set(env.KUBERNETES_SERVICE_HOST)
  const named = set(env.VMCP_NAME) && set(env.VMCP_NAMESPACE)
  const detected: Array<ReporterKind> =
    inCluster && named ? ["log", "k8s", "prometheus"] : ["log", "prometheus"]
  for (const r of required) if (!detected.includes(r)) detected.push(r)
  const reason =
    inCluster && named
      ? `in a cluster (KUBERNETES_SERVICE_HOST, VMCP_NAME, VMCP_NAMESPACE set): reporters ${detected.join(", ")}`
      : inCluster
        ? `in a cluster but VMCP_NAME/VMCP_NAMESPACE are not set, so the k8s reporter is off (set both, as \`vmcp manifests\` does): reporters ${detected.join(", ")}`
        : `not in a cluster: reporters ${detected.join(", ")} (add k8s with --reporters log,k8s,prometheus)`
  return { kinds: detected, required, reason }
}

/** What the reporters are built from, besides the selection and the config. */
export interface ReporterEnvironment {
  readonly env: Readonly<Record<string, string | undefined>>
  /** Where the log reporter writes (default stdout). */
  readonly stream?: NodeJS.WritableStream
  /** `--kubeconfig`. */
  readonly kubeconfig?: string
  /** The VirtualMCPServer's name and namespace (default `VMCP_NAME`/`VMCP_NAMESPACE`). */
  readonly objectName?: string
  readonly objectNamespace?: string
}

/** The reporters to give the publisher, and the Prometheus registry to mount on `/metrics`. */
export interface BuiltReporters {
  readonly sources: ReadonlyArray<ReporterSource>
  readonly prometheus: PrometheusReporter | undefined
}

/**
 * Builds the selected reporters from the config.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import { buildReporters, decodeConfig } from "@vmcp-status/vmcp"
 *
 * const config = Effect.runSync(decodeConfig({}, "inline"))
 * const { sources } = await buildReporters({ kinds: ["log"], required: [], reason: "" }, config, { env: process.env })
 * ```
 */
export const buildReporters = async (
  selection: ReporterSelection,
  config: VmcpConfig,
  environment: ReporterEnvironment
): Promise<BuiltReporters> => {
  // Each reporter's package (the Kubernetes one is large) is loaded only when that reporter runs.
  const runs = (kind: ReporterKind) => selection.kinds.includes(kind)
  const [log, k8s, prom] = await Promise.all([
    runs("log") ? import("@vmcp-status/log") : undefined,
    runs("k8s") ? import("@vmcp-status/k8s") : undefined,
    runs("prometheus") ? import("@vmcp-status/prometheus") : undefined
  ])
  const sources: Array<ReporterSource> = []
  let prometheus: PrometheusReporter | undefined
  const { env } = environment
  const vmcp = environment.objectName ?? env.VMCP_NAME ?? config.name
  for (const kind of selection.kinds) {
    const required = selection.required.includes(kind)
    switch (kind) {
      case "log":
        sources.push(
          log!.makeLogReporter({
            vmcp,
            env,
            format: config.status.log.format,
            mode: config.status.log.mode,
            ...(environment.stream === undefined ? {} : { stream: environment.stream }),
            ...(config.status.log.summaryInterval === undefined
              ? {}
              : { summaryInterval: config.status.log.summaryInterval })
          })
        )
        break
      case "k8s":
        sources.push(
          k8s!.makeK8sReporter({
            env,
            ...(environment.objectName === undefined ? {} : { name: environment.objectName }),
            ...(environment.objectNamespace === undefined ? {} : { namespace: environment.objectNamespace }),
            mode: config.status.k8s.mode,
            slowRetryMs: config.status.k8s.slowRetry,
            required,
            leaderElection: config.status.k8s.leaderElection
              ? { ...(set(env.POD_NAME) ? { identity: env.POD_NAME! } : {}) }
              : false,
            ...(environment.kubeconfig === undefined ? {} : { kubeconfig: environment.kubeconfig })
          })
        )
        break
      case "prometheus":
        prometheus = prom!.makePrometheusReporter({ labels: { vmcp } })
        sources.push(prometheus)
        break
    }
  }
  return { sources, prometheus }
}
