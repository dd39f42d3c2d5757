import { hostname } from "node:os"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as SubscriptionRef from "effect/SubscriptionRef"
import type { KubeRequestError } from "../Errors.ts"
import { LeaderElectionDefaults, type LeaderElectionOptions } from "../LeaderElection.ts"
import { explainForbidden } from "./Forbidden.ts"
import type { KubeClient } from "./KubeClient.ts"

/** What an elector knows, observable for tests and health. */
export interface LeaderState {
  readonly leader: boolean
  /** The holder last seen in the Lease (`undefined` when free or unknown). */
  readonly holder: string | undefined
  /** Completed acquire/renew attempts. */
  readonly rounds: number
  /** The last failure, if the last attempt failed. */
  readonly lastError: string | undefined
}

interface LeaseSpec {
  readonly holderIdentity?: string
  readonly leaseDurationSeconds?: number
  readonly acquireTime?: string
  readonly renewTime?: string
  readonly leaseTransitions?: number
}

interface LeaseObject {
  readonly metadata: { readonly resourceVersion?: string }
  readonly spec?: LeaseSpec
}

/** `metav1.MicroTime`: RFC 3339 with microseconds. */
const microTime = (ms: number) => new Date(ms).toISOString().replace("Z", "000Z")

const verbs: Readonly<Record<string, string>> = { GET: "get", POST: "create", PUT: "update" }

const describe = (error: KubeRequestError, namespace: string, leaseName: string) => {
  if (error._tag === "KubeTransportError") return `${error.kind}: ${error.message}`
  if (error.status !== 403) return `HTTP ${error.status} ${error.reason}: ${error.message}`
  const verb = verbs[error.method] ?? error.method.toLowerCase()
  return explainForbidden(
    {
      verb,
      group: "coordination.k8s.io",
      resource: "leases",
      namespace,
      // `create` cannot be limited by name: the object does not exist before the request.
      ...(verb === "create" ? {} : { name: leaseName })
    },
    error.message
  )
}

/**
 * Leader election on a `coordination.k8s.io/v1` Lease, as client-go's `leaderelection`: every
 * `retryPeriodMs` each replica reads the Lease; the holder renews it; the others take it over
 * (optimistic concurrency on `resourceVersion`) once they have seen no renewal for
 * `leaseDurationMs` by their own clock (no clock-skew assumptions). A leader that cannot renew
 * for `renewDeadlineMs` stops leading before its Lease can expire. Closing the scope releases
 * the Lease (empty holder) so a successor takes over on its next attempt instead of waiting.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import { makeLeaderElector } from "./LeaderElector.ts"
 *
 * const program = (client: KubeClient) => Effect.scoped(Effect.gen(function* () {
 *   const elector = yield* makeLeaderElector(client, { namespace: "tools", leaseName: "my-vmcp-status" })
 *   if (elector.isLeader()) yield* Effect.log("writing")
 * }))
 * ```
 */
export const makeLeaderElector = (
  client: KubeClient,
  options: LeaderElectionOptions & {
    readonly namespace: string
    readonly leaseName: string
    /** Runs (in the elector's fiber) when this replica becomes leader. */
    readonly onStartedLeading?: Effect.Effect<void>
    /** Runs when this replica stops leading (lost, deadline passed, released). */
    readonly onStoppedLeading?: Effect.Effect<void>
  }
) =>
  Effect.gen(function* () {
    const leaseDurationMs = options.leaseDurationMs ?? LeaderElectionDefaults.leaseDurationMs
    const renewDeadlineMs = options.renewDeadlineMs ?? LeaderElectionDefaults.renewDeadlineMs
    const retryPeriodMs = options.retryPeriodMs ?? LeaderElectionDefaults.retryPeriodMs
    const identity = options.identity ?? `${hostname()}-${Math.random().toString(36).slice(2, 8)}`
    const collection = `/apis/coordination.k8s.io/v1/namespaces/${options.namespace}/leases`
    const path = `${collection}/${options.leaseName}`
    // A Lease request that hangs must not outlive the renew deadline (client-go bounds the renewal too).
    const timeoutMs = Math.max(1_000, Math.floor(renewDeadlineMs / 2))
    const state = yield* SubscriptionRef.make<LeaderState>({
      leader: false,
      holder: undefined,
      rounds: 0,
      lastError: undefined
    })
    let leader = false
    let lastRenewAt = 0
    /** The last Lease record seen and when (our clock) it was first seen. */
    let observed: { readonly key: string; readonly at: number } | undefined

    const setLeader = (value: boolean) =>
      Effect.gen(function* () {
        if (value === leader) return
        leader = value
        yield* SubscriptionRef.update(state, (s) => ({ ...s, leader: value }))
        if (value) {
          yield* Effect.logInfo(
            `leader election: ${identity} now leads Lease ${options.namespace}/${options.leaseName}`
          )
          // Forked: a slow first write must not hold up renewals.
          if (options.onStartedLeading) yield* Effect.forkChild(options.onStartedLeading)
        } else {
          yield* Effect.logInfo(
            `leader election: ${identity} stopped leading Lease ${options.namespace}/${options.leaseName}`
          )
          if (options.onStoppedLeading) yield* options.onStoppedLeading
        }
      })

    const spec = (now: number, previous: LeaseSpec | undefined): LeaseSpec => {
      const holding = previous?.holderIdentity === identity
      return {
        holderIdentity: identity,
        leaseDurationSeconds: Math.max(1, Math.ceil(leaseDurationMs / 1000)),
        acquireTime: holding && previous?.acquireTime !== undefined ? previous.acquireTime : microTime(now),
        renewTime: microTime(now),
        leaseTransitions: (previous?.leaseTransitions ?? 0) + (holding || previous === undefined ? 0 : 1)
      }
    }

    /** One attempt: true when this replica holds the Lease afterwards. */
    const attempt = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const current = yield* client.request({ method: "GET", path, timeoutMs }).pipe(
        Effect.map((r) => r.body as LeaseObject),
        Effect.catchIf(
          (e) => e._tag === "KubeApiError" && e.status === 404,
          () => Effect.succeed(undefined)
        )
      )
      if (current === undefined) {
        const created = yield* client
          .request({
            method: "POST",
            path: collection,
            timeoutMs,
            body: {
              apiVersion: "coordination.k8s.io/v1",
              kind: "Lease",
              metadata: { name: options.leaseName, namespace: options.namespace },
              spec: spec(now, undefined)
            }
          })
          .pipe(
            Effect.as(true),
            Effect.catchIf(
              (e) => e._tag === "KubeApiError" && e.status === 409,
              () => Effect.succeed(false)
            )
          )
        return { holding: created, holder: created ? identity : undefined }
      }
      const record = current.spec ?? {}
      const holder = record.holderIdentity === "" ? undefined : record.holderIdentity
      const key = `${holder}/${record.renewTime}/${current.metadata.resourceVersion}`
      if (observed?.key !== key) observed = { key, at: now }
      const heldByOther = holder !== undefined && holder !== identity
      if (heldByOther && now - observed.at < leaseDurationMs) return { holding: false, holder }
      const updated = yield* client
        .request({
          method: "PUT",
          path,
          timeoutMs,
          body: {
            apiVersion: "coordination.k8s.io/v1",
            kind: "Lease",
            metadata: {
              name: options.leaseName,
              namespace: options.namespace,
              resourceVersion: current.metadata.resourceVersion
            },
            spec: spec(now, record)
          }
        })
        .pipe(
          Effect.as(true),
          Effect.catchIf(
            (e) => e._tag === "KubeApiError" && e.status === 409,
            () => Effect.succeed(false)
          )
        )
      return { holding: updated, holder: updated ? identity : holder }
    })

    const round = Effect.gen(function* () {
      const result = yield* Effect.result(attempt)
      const now = yield* Clock.currentTimeMillis
      if (result._tag === "Success") {
        if (result.success.holding) lastRenewAt = now
        yield* SubscriptionRef.update(state, (s) => ({
          ...s,
          holder: result.success.holder,
          rounds: s.rounds + 1,
          lastError: undefined
        }))
        yield* setLeader(result.success.holding)
        return
      }
      const message = describe(result.failure, options.namespace, options.leaseName)
      const previous = (yield* SubscriptionRef.get(state)).lastError
      yield* SubscriptionRef.update(state, (s) => ({ ...s, rounds: s.rounds + 1, lastError: message }))
      // One line per distinct failure, not one per retry period.
      if (message !== previous)
        yield* Effect.logWarning(
          `leader election on Lease ${options.namespace}/${options.leaseName} failed (${identity} keeps trying every ${retryPeriodMs} ms and does not write meanwhile unless it leads): ${message}`
        )
      if (leader && now - lastRenewAt >= renewDeadlineMs) {
        yield* Effect.logWarning(
          `leader election: could not renew Lease ${options.namespace}/${options.leaseName} for ${renewDeadlineMs} ms (${message}); stepping down`
        )
        yield* setLeader(false)
      }
    })

    const release = Effect.gen(function* () {
      if (!leader) return
      yield* setLeader(false)
      const now = yield* Clock.currentTimeMillis
      yield* client.request({ method: "GET", path }).pipe(
        Effect.flatMap((r) => {
          const current = r.body as LeaseObject
          if (current.spec?.holderIdentity !== identity) return Effect.void
          return client
            .request({
              method: "PUT",
              path,
              body: {
                apiVersion: "coordination.k8s.io/v1",
                kind: "Lease",
                metadata: {
                  name: options.leaseName,
                  namespace: options.namespace,
                  resourceVersion: current.metadata.resourceVersion
                },
                // client-go's release: no holder, a 1 s lease, so nobody waits.
                spec: {
                  ...current.spec,
                  holderIdentity: "",
                  leaseDurationSeconds: 1,
                  renewTime: microTime(now)
                }
              }
            })
            .pipe(Effect.asVoid)
        }),
        Effect.catch((e: KubeRequestError) =>
          Effect.logWarning(
            `leader election: could not release Lease ${options.namespace}/${options.leaseName} (${describe(e, options.namespace, options.leaseName)}); a successor takes over when it expires`
          )
        )
      )
    })

    // Finalizers run last-in first-out: the loop stops first, then the Lease is released.
    yield* Effect.addFinalizer(() => release)
    yield* Effect.forkScoped(
      Effect.gen(function* () {
        while (true) {
          yield* round
          yield* Effect.sleep(retryPeriodMs)
        }
      })
    )

    return {
      identity,
      /** True while this replica holds the Lease. */
      isLeader: (): boolean => leader,
      state,
      /** Stops leading and frees the Lease now (also done when the scope closes). */
      release
    }
  })

/** A running leader elector. */
export type LeaderElector = Effect.Success<ReturnType<typeof makeLeaderElector>>
