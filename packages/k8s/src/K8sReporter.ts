import { Reporter, type ScopedReporter, shuttingDown, toTimestamp } from "@vmcp-status/core"
import { Clock, Effect } from "effect"
import { clientFromOptions, type KubeConfigOptions } from "./KubeClient.ts"
import type { TokenBucketOptions } from "./RateLimiter.ts"
import { makeStatusApplier } from "./StatusApplier.ts"
import type { OwnershipMode } from "./StatusMapping.ts"
import { resolveTarget, type TargetOptions } from "./Target.ts"

/** Options of `makeK8sReporter`. Every field has a default. */
export interface K8sReporterOptions extends TargetOptions, KubeConfigOptions {
  /** The reporter's name in publisher health (default `k8s`). */
  readonly name?: string
  /** `full` (default, standalone) or `runtime` (beside an operator). */
  readonly mode?: OwnershipMode
  /** Server-side apply field manager (default `vmcp-status`). */
  readonly fieldManager?: string
  /** Drift check interval in ms (default 5 min). */
  readonly resyncIntervalMs?: number
  /** Write rate limit (default 5/s, burst 10). */
  readonly rate?: TokenBucketOptions
  /** Timeout of each API request in ms (default 10 s). */
  readonly requestTimeoutMs?: number
  /** Write redacted backend URLs into the status (default false). */
  readonly includeUrls?: boolean
  /** Bound for the status payload in bytes (default 1 MiB); past it backends are cut, with a marker. */
  readonly maxBytes?: number
  /** Fail publisher start when this reporter cannot start (default false: log and go on). */
  readonly required?: boolean
}

/**
 * The Kubernetes reporter: writes the owned part of the custom resource's `.status` by
 * server-side apply (see `makeStatusApplier`). On stop it writes the final status; in `full`
 * mode that is `Ready=False` with reason `ShuttingDown`.
 *
 * @example
 * ```ts
 * import { start } from "@vmcp-status/core"
 * import { makeK8sReporter } from "@vmcp-status/k8s"
 *
 * // VMCP_NAME / VMCP_NAMESPACE name the VirtualMCPServer; in-cluster config or KUBECONFIG.
 * const publisher = await start({ reporters: [makeK8sReporter({ mode: "full" })] })
 * ```
 */
export const makeK8sReporter = (options: K8sReporterOptions = {}): ScopedReporter => {
  const name = options.name ?? "k8s"
  const mode = options.mode ?? "full"
  const acquire = Effect.gen(function* () {
    const { client, loaded } = yield* clientFromOptions({
      ...options,
      ...(options.requestTimeoutMs === undefined ? {} : { timeoutMs: options.requestTimeoutMs })
    })
    const target = yield* resolveTarget(options, options.env ?? process.env, loaded.podNamespace)
    const applier = yield* makeStatusApplier(client, {
      target,
      mode,
      reporterName: name,
      ...(options.fieldManager === undefined ? {} : { fieldManager: options.fieldManager }),
      ...(options.resyncIntervalMs === undefined ? {} : { resyncIntervalMs: options.resyncIntervalMs }),
      ...(options.rate === undefined ? {} : { rate: options.rate }),
      ...(options.includeUrls === undefined ? {} : { includeUrls: options.includeUrls }),
      ...(options.maxBytes === undefined ? {} : { maxBytes: options.maxBytes })
    })
    return Reporter.make(name, (status, context) =>
      context.trigger === "final"
        ? Clock.currentTimeMillis.pipe(
            Effect.flatMap((now) =>
              applier.report(mode === "full" ? shuttingDown(status, toTimestamp(now)) : status, {
                final: true
              })
            )
          )
        : applier.report(status)
    )
  })
  return Reporter.scoped(name, acquire, { required: options.required ?? false })
}
