import { Reporter, type RuntimeStatus, type ScopedReporter } from "@vmcp-status/core"
import * as Effect from "effect/Effect"
import { makeEventRecorder } from "./internal/EventRecorder.ts"
import { clientFromOptions, type KubeConfigOptions, type RequestEvent } from "./internal/KubeClient.ts"
import { makeLeaderElector } from "./internal/LeaderElector.ts"
import type { TokenBucketOptions } from "./internal/RateLimiter.ts"
import { makeStatusApplier } from "./internal/StatusApplier.ts"
import type { LeaderElectionOptions } from "./LeaderElection.ts"
import { defaultLeaseName } from "./Rbac.ts"
import type { OwnershipMode } from "./StatusMapping.ts"
import { resolveTarget, type TargetOptions } from "./Target.ts"

export type { KubeConfigOptions, RequestEvent } from "./internal/KubeClient.ts"
export type { TokenBucketOptions } from "./internal/RateLimiter.ts"

/** Event options of `makeK8sReporter` (`events: { ... }`); every field has a default. */
export interface K8sEventOptions {
  /** `reportingController` of the Events (default `vmcp-status`). */
  readonly controller?: string
  /** `reportingInstance` (default the host name). */
  readonly instance?: string
  /** Per-object budget (default burst 25, one more every 5 minutes as client-go's spam filter). */
  readonly rate?: TokenBucketOptions
  /** Repeats of the same Event within this window extend its series instead of creating one (default 30 min). */
  readonly seriesWindowMs?: number
}

/** Options of `makeK8sReporter`. Every field has a default. */
export interface K8sReporterOptions extends TargetOptions, KubeConfigOptions {
  /** The reporter's name in publisher health and metrics (default `k8s`). `name` is the object's. */
  readonly reporterName?: string
  /** `full` (default, standalone) or `runtime` (beside an operator). */
  readonly mode?: OwnershipMode
  /** Server-side apply field manager (default `vmcp-status`). Replicas share it. */
  readonly fieldManager?: string
  /** Drift check interval in ms (default 5 min). */
  readonly resyncIntervalMs?: number
  /** Write rate limit (default 5/s, burst 10). */
  readonly rate?: TokenBucketOptions
  /** Timeout of each API request in ms (default 10 s). */
  readonly requestTimeoutMs?: number
  /** Retry delay after 403/404, which need a human to fix (default 60 s). */
  readonly slowRetryMs?: number
  /** Write redacted backend URLs into the status (default false). */
  readonly includeUrls?: boolean
  /** Bound for the status payload in bytes (default 1 MiB); past it backends are cut, with a marker. */
  readonly maxBytes?: number
  /** `events.k8s.io/v1` Events on phase and backend transitions (default on; `false` turns them off). */
  readonly events?: boolean | K8sEventOptions
  /**
   * Leader election on a Lease so that only one replica writes (default off). `true` uses
   * the defaults: Lease `<name>-status`, 15 s lease, 10 s renew deadline, 2 s retry period.
   */
  readonly leaderElection?: boolean | LeaderElectionOptions
  /** Fail publisher start when this reporter cannot start (default false: log and go on). */
  readonly required?: boolean
  /** Sees every API request start and end (e.g. for metrics); must not throw. */
  readonly onRequest?: (event: RequestEvent) => void
}

/**
 * The Kubernetes reporter: writes the owned part of the custom resource's `.status` by
 * server-side apply (see `makeStatusApplier`), emits Events on transitions (see
 * `makeEventRecorder`) and, with `leaderElection`, writes only while it holds the Lease (see
 * `makeLeaderElector`). On stop the leader writes the final status the publisher derived
 * (`Ready=False`, reason `ShuttingDown`; in `runtime` mode only the fields it owns), then
 * releases the Lease.
 *
 * @example
 * ```ts
 * import { start } from "@vmcp-status/core"
 * import { makeK8sReporter } from "@vmcp-status/k8s"
 *
 * // VMCP_NAME / VMCP_NAMESPACE name the VirtualMCPServer; in-cluster config or KUBECONFIG.
 * const publisher = await start({ reporters: [makeK8sReporter({ mode: "runtime", leaderElection: true })] })
 * ```
 */
export const makeK8sReporter = (options: K8sReporterOptions = {}): ScopedReporter => {
  const name = options.reporterName ?? "k8s"
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
      ...(options.slowRetryMs === undefined ? {} : { slowRetryMs: options.slowRetryMs }),
      ...(options.includeUrls === undefined ? {} : { includeUrls: options.includeUrls }),
      ...(options.maxBytes === undefined ? {} : { maxBytes: options.maxBytes })
    })
    const events =
      options.events === false
        ? undefined
        : yield* makeEventRecorder(client, {
            ...(options.events === true || options.events === undefined ? {} : options.events),
            target,
            uid: applier.uid
          })
    /** The newest status handed to us, written at once when this replica becomes leader. */
    let latest: RuntimeStatus | undefined
    /** The status Events were last derived from: retries and skipped ticks emit nothing twice. */
    let evented: RuntimeStatus | undefined
    const election =
      options.leaderElection === undefined || options.leaderElection === false
        ? undefined
        : yield* makeLeaderElector(client, {
            ...(options.leaderElection === true ? {} : options.leaderElection),
            namespace: target.namespace,
            leaseName:
              (options.leaderElection === true ? undefined : options.leaderElection.leaseName) ??
              defaultLeaseName(target),
            onStartedLeading: Effect.gen(function* () {
              yield* applier.forget
              // Events already emitted by the previous leader are not repeated.
              evented = latest
              if (latest !== undefined)
                yield* applier
                  .report(latest)
                  .pipe(
                    Effect.catchCause((cause) =>
                      Effect.logDebug("first write as leader failed; the publisher retries", cause)
                    )
                  )
            }),
            onStoppedLeading: applier.forget
          })
    const isLeader = () => election === undefined || election.isLeader()

    const record = (status: RuntimeStatus) =>
      Effect.gen(function* () {
        if (events === undefined) return
        if (evented !== undefined) yield* events.record(evented, status)
        evented = status
      })

    return Reporter.make(name, (status, context) =>
      Effect.gen(function* () {
        latest = status
        if (!isLeader()) return "skipped" as const
        if (context.trigger === "final") {
          // The publisher derived the final status (`shuttingDown`); it is written as given.
          yield* record(status)
          return yield* applier.report(status, { final: true })
        }
        // Enqueued only: Events never delay the status write.
        yield* record(status)
        return yield* applier.report(status)
      })
    )
  })
  return Reporter.scoped(name, acquire, { required: options.required ?? false })
}
