import {
  type Condition,
  ReportDeferred,
  ReporterError,
  type ReportOutcome,
  type RuntimeStatus,
  stableJson
} from "@vmcp-status/core"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Semaphore from "effect/Semaphore"
import type { KubeApiError, KubeRequestError } from "../Errors.ts"
import { type OwnershipMode, type StatusPayload, toStatusPayload } from "../StatusMapping.ts"
import { objectPath, type Target } from "../Target.ts"
import { explainForbidden } from "./Forbidden.ts"
import type { KubeClient, KubeResponse } from "./KubeClient.ts"
import {
  DefaultWriteRate,
  fullBucket,
  type TokenBucket,
  type TokenBucketOptions,
  takeToken
} from "./RateLimiter.ts"

/** Defaults of the applier. */
export const ApplierDefaults = {
  fieldManager: "vmcp-status",
  resyncIntervalMs: 5 * 60_000,
  /** How long to wait before retrying after 403 or 404: the fix needs a human. */
  slowRetryMs: 60_000
} as const

/** Options of `makeStatusApplier`. */
export interface StatusApplierOptions {
  readonly target: Target
  readonly mode?: OwnershipMode
  /** The server-side apply field manager (default `vmcp-status`). */
  readonly fieldManager?: string
  /** Check for drift this often and re-apply if the object no longer holds our fields (default 5 min). */
  readonly resyncIntervalMs?: number
  /** Client-side rate limit of writes (default 5/s, burst 10). */
  readonly rate?: TokenBucketOptions
  readonly includeUrls?: boolean
  readonly maxBytes?: number
  /** Retry delay after 403/404 (default 60 s). */
  readonly slowRetryMs?: number
  /** Name in errors (default `k8s`). */
  readonly reporterName?: string
}

/** What the applier has observed, for tests and health. */
export interface ApplierStats {
  readonly applies: number
  readonly skipped: number
  readonly driftChecks: number
  /** GETs: the first read and drift checks. */
  readonly reads: number
}

type Projection = Record<string, unknown>

/**
 * The part of an object's status that corresponds to what we apply: our keys, our condition
 * types, our backend names. Fields another manager owns (the operator's `url`, its conditions,
 * backends it lists) never look like drift; fields a CRD prunes are absent on both sides.
 */
const project = (status: unknown, payload: StatusPayload): string => {
  const source = (typeof status === "object" && status !== null ? status : {}) as Projection
  const ownedTypes = new Set(payload.conditions.map((c) => c.type))
  const ownedNames = new Set(payload.discoveredBackends.map((b) => b.name))
  const out: Projection = {}
  for (const key of Object.keys(payload)) {
    const value = source[key]
    if (key === "conditions" && Array.isArray(value)) {
      out[key] = value
        .filter((c: { type?: string }) => c.type !== undefined && ownedTypes.has(c.type))
        .map(({ type, status, reason, message, lastTransitionTime }: Record<string, unknown>) => ({
          type,
          status,
          reason,
          message,
          lastTransitionTime
        }))
        .sort((a, b) => String(a.type).localeCompare(String(b.type)))
    } else if (key === "discoveredBackends" && Array.isArray(value)) {
      out[key] = value
        .filter((b: { name?: string }) => b.name !== undefined && ownedNames.has(b.name))
        .sort((a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name))
    } else out[key] = value
  }
  return stableJson(out)
}

/**
 * A status field path as the API server names it (`.status.totalToolCount`,
 * `status.discoveredBackends[3].url`) in our notation: `totalToolCount`, `discoveredBackends[].url`.
 */
const statusField = /\.?status\.([A-Za-z0-9_]+)(\[[^\]]*\])?(?:\.([A-Za-z0-9_]+))?/

const fieldOf = (match: RegExpMatchArray): string | undefined => {
  const [, key, index, sub] = match
  if (key === undefined) return undefined
  return index !== undefined && sub !== undefined ? `${key}[].${sub}` : key
}

/**
 * Kubernetes 1.20's server-side apply rejects fields the CRD's schema does not declare (HTTP 500
 * "failed to create typed patch object: .status.totalToolCount: field not declared in schema"),
 * where a plain write would prune them. toolhive's CRD lacks our counts: those paths are learnt
 * from the answer and left out from then on. Returns the undeclared status fields named in
 * `message`: `totalToolCount` or `discoveredBackends[].url`.
 */
export const undeclaredFields = (message: string): ReadonlyArray<string> => {
  const found: Array<string> = []
  const pattern = new RegExp(`${statusField.source}: field not declared in schema`, "g")
  for (const match of message.matchAll(pattern)) {
    const field = fieldOf(match)
    if (field !== undefined) found.push(field)
  }
  return found
}

/**
 * With field validation `Warn` (the default since 1.25, always available from 1.27) an API server
 * that drops an unknown field succeeds and says so in a `Warning: 299 - "unknown field
 * \"status.x\""` header, one warning per field (list items as `status.discoveredBackends[0].url`).
 * Returns the status fields such warning texts name, in the notation of `undeclaredFields`.
 */
export const droppedFields = (warnings: ReadonlyArray<string>): ReadonlyArray<string> => {
  const found: Array<string> = []
  const pattern = new RegExp(`^unknown field "${statusField.source}"$`)
  for (const text of warnings) {
    const match = pattern.exec(text)
    const field = match === null ? undefined : fieldOf(match)
    if (field !== undefined) found.push(field)
  }
  return found
}

/** Leaves out the fields the target's schema does not declare (see `undeclaredFields`). */
export const withoutFields = (payload: StatusPayload, undeclared: ReadonlySet<string>): StatusPayload => {
  if (undeclared.size === 0) return payload
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(payload)) {
    if (undeclared.has(key)) continue
    if (Array.isArray(value)) {
      const subs = [...undeclared]
        .filter((f) => f.startsWith(`${key}[].`))
        .map((f) => f.slice(key.length + 3))
      out[key] =
        subs.length === 0
          ? value
          : value.map((item: Record<string, unknown>) =>
              Object.fromEntries(Object.entries(item).filter(([k]) => !subs.includes(k)))
            )
    } else out[key] = value
  }
  return out as unknown as StatusPayload
}

/**
 * A 404 is either the object missing (the API server names it in `details`) or the resource not
 * served at all (CRD not installed, or wrong group/version/plural: a plain "404 page not found").
 */
export const describeNotFound = (error: KubeApiError, target: Target): string =>
  error.detailsName === target.name ||
  (error.reason === "NotFound" && error.message.includes(`"${target.name}"`))
    ? `the ${target.kind} "${target.name}" does not exist in namespace "${target.namespace}": create it (kubectl apply) or point VMCP_NAME/VMCP_NAMESPACE at an existing object`
    : `the API server does not serve ${target.plural}.${target.group}/${target.version}: install the CRD (e.g. \`vmcp manifests crd | kubectl apply -f -\`), or fix group/version/plural`

/**
 * Writes the owned part of `.status` by server-side apply on the `/status` subresource, with
 * its own field manager, and only when needed:
 * - the first report reads the object once: conditions keep their `lastTransitionTime` across
 *   restarts, and the object's `uid` is learnt (for Events);
 * - no request when the payload equals the last acknowledged one;
 * - every `resyncIntervalMs`, one GET compares the object with what the server acknowledged
 *   (fields a CRD does not know are pruned on both sides, so they never look like drift) and
 *   re-applies only on drift;
 * - a token bucket limits writes; without a token the report is deferred, so the publisher
 *   hands over the newest status when a token is due (latest wins).
 * Errors become `ReporterError`s with outcome and `retryAfterMs` for the publisher's backoff;
 * 403 and 404 say what is missing and how to fix it, and retry slowly.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import { resolveTarget } from "../Target.ts"
 * import { clientFromOptions } from "./KubeClient.ts"
 * import { makeStatusApplier } from "./StatusApplier.ts"
 *
 * const program = (status: RuntimeStatus) => Effect.scoped(Effect.gen(function* () {
 *   const { client } = yield* clientFromOptions({ kubeconfig: "/tmp/admin.kubeconfig" })
 *   const target = yield* resolveTarget({ name: "my-vmcp", namespace: "tools" }, {})
 *   const applier = yield* makeStatusApplier(client, { target, mode: "runtime" })
 *   return yield* applier.report(status) // "written", then "skipped" while nothing changes
 * }))
 * ```
 */
export const makeStatusApplier = (client: KubeClient, options: StatusApplierOptions) =>
  Effect.gen(function* () {
    const target = options.target
    const mode = options.mode ?? "full"
    const fieldManager = options.fieldManager ?? ApplierDefaults.fieldManager
    const resyncMs = options.resyncIntervalMs ?? ApplierDefaults.resyncIntervalMs
    const rate = options.rate ?? DefaultWriteRate
    const slowRetryMs = options.slowRetryMs ?? ApplierDefaults.slowRetryMs
    const reporter = options.reporterName ?? "k8s"
    const path = objectPath(target)
    const applyPath = `${path}/status?fieldManager=${encodeURIComponent(fieldManager)}&force=true`
    const lock = yield* Semaphore.make(1)

    let bucket: TokenBucket = fullBucket(rate, yield* Clock.currentTimeMillis)
    let acked:
      | {
          readonly payload: string
          readonly projection: string
          readonly conditions: ReadonlyArray<Condition>
        }
      | undefined
    /** Conditions found on the object by the first read, before we wrote anything. */
    let found: ReadonlyArray<Condition> | undefined
    let uid: string | undefined
    let checkedAt = 0
    const undeclared = new Set<string>()
    const stats = { applies: 0, skipped: 0, driftChecks: 0, reads: 0 }

    const toReporterError = (error: KubeRequestError, verb: "get" | "patch"): ReporterError => {
      if (error._tag === "KubeTransportError")
        return new ReporterError({
          reporter,
          message: `${error.method} ${error.path}: ${error.kind}: ${error.message}${
            error.kind === "tls"
              ? " (the API server's certificate is not trusted: check the CA, ca.crt in a cluster or certificate-authority-data in the kubeconfig)"
              : ""
          }`
        })
      const base = `${error.method} ${error.path}: HTTP ${error.status} ${error.reason}`
      switch (error.status) {
        case 403:
          return new ReporterError({
            reporter,
            message: `${explainForbidden(
              {
                verb,
                group: target.group,
                resource: verb === "get" ? target.plural : `${target.plural}/status`,
                namespace: target.namespace,
                name: target.name
              },
              error.message
            )} (field manager ${fieldManager})`,
            retryAfterMs: slowRetryMs
          })
        case 401:
          return new ReporterError({
            reporter,
            message: `${base}: the API server rejected the credentials (expired or revoked token, wrong cluster?): in a cluster check the service-account token mount; otherwise refresh the kubeconfig's credentials`
          })
        case 404:
          return new ReporterError({
            reporter,
            message: `${base}: ${describeNotFound(error, target)}`,
            retryAfterMs: slowRetryMs
          })
        case 409:
          return new ReporterError({ reporter, message: `${base}: ${error.message}`, outcome: "conflict" })
        case 429:
          return new ReporterError({
            reporter,
            message: `${base}: the API server asks to slow down`,
            outcome: "throttled",
            ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs })
          })
        default:
          return new ReporterError({
            reporter,
            message: `${base}: ${error.message}`,
            ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs })
          })
      }
    }

    const statusOf = (body: unknown) => (body as { status?: unknown } | undefined)?.status

    const conditionsOf = (status: unknown): ReadonlyArray<Condition> => {
      const list = (status as { conditions?: unknown } | undefined)?.conditions
      return Array.isArray(list) ? (list as ReadonlyArray<Condition>) : []
    }

    const patch = (payload: StatusPayload) =>
      client.request({
        method: "PATCH",
        path: applyPath,
        contentType: "application/apply-patch+yaml",
        body: {
          apiVersion: `${target.group}/${target.version}`,
          kind: target.kind,
          metadata: { name: target.name, namespace: target.namespace },
          status: payload
        }
      })

    /** Remembers fields the target does not hold (at most 32: a bound against a confused server). */
    const learn = (fields: ReadonlyArray<string>, how: string) =>
      Effect.gen(function* () {
        const fresh = [...new Set(fields)].filter((f) => !undeclared.has(f)).slice(0, 32 - undeclared.size)
        if (fresh.length === 0) return false
        for (const f of fresh) undeclared.add(f)
        yield* Effect.logInfo(
          `${target.plural}.${target.group} does not declare status ${fresh.join(", ")} (${how}); not writing ${fresh.length === 1 ? "it" : "them"}`
        )
        return true
      })

    /**
     * One apply. Fields the target does not declare are learnt and left out from then on: from a
     * 1.20 rejection, after which the apply is repeated without them (a few requests once per
     * process), or from the `unknown field` warnings of a newer server that dropped them and
     * succeeded (no request more).
     */
    const applyLearning = (
      payload: StatusPayload
    ): Effect.Effect<{ response: KubeResponse; sent: StatusPayload }, KubeRequestError> =>
      Effect.suspend(() =>
        patch(withoutFields(payload, undeclared)).pipe(
          Effect.tap((response) => learn(droppedFields(response.warnings), "the API server dropped it")),
          // What the object holds of ours: without the fields just learnt, whatever the server kept.
          Effect.map((response) => ({ response, sent: withoutFields(payload, undeclared) })),
          Effect.catchIf(
            (e): e is KubeApiError =>
              e._tag === "KubeApiError" &&
              e.status === 500 &&
              undeclaredFields(e.message).some((f) => !undeclared.has(f)) &&
              undeclared.size < 32,
            (e) =>
              learn(undeclaredFields(e.message), "server-side apply rejected it").pipe(
                Effect.andThen(applyLearning(payload))
              )
          )
        )
      )

    const apply = (payload: StatusPayload, fingerprint: string, now: number) =>
      applyLearning(payload).pipe(
        Effect.mapError((e) => toReporterError(e, "patch")),
        Effect.map(({ response, sent }) => {
          stats.applies++
          uid = (response.body as { metadata?: { uid?: string } } | undefined)?.metadata?.uid ?? uid
          acked = {
            payload: fingerprint,
            projection: project(statusOf(response.body), sent),
            conditions: payload.conditions
          }
          checkedAt = now
          return "written" as const
        })
      )

    const read = client.request({ method: "GET", path }).pipe(
      Effect.mapError((e) => toReporterError(e, "get")),
      Effect.map((response) => {
        stats.reads++
        uid = (response.body as { metadata?: { uid?: string } } | undefined)?.metadata?.uid ?? uid
        return statusOf(response.body)
      })
    )

    const report = (status: RuntimeStatus, reportOptions: { readonly final?: boolean } = {}) =>
      Effect.gen(function* () {
        if (acked === undefined && found === undefined) found = conditionsOf(yield* read)
        const existing = acked?.conditions ?? found
        const payload = toStatusPayload(status, {
          mode,
          ...(existing === undefined ? {} : { existingConditions: existing }),
          ...(options.includeUrls === undefined ? {} : { includeUrls: options.includeUrls }),
          ...(options.maxBytes === undefined ? {} : { maxBytes: options.maxBytes })
        })
        const fingerprint = stableJson(payload)
        const now = yield* Clock.currentTimeMillis
        if (acked !== undefined && acked.payload === fingerprint) {
          if (now - checkedAt < resyncMs || reportOptions.final === true) {
            stats.skipped++
            return "skipped" as ReportOutcome
          }
          checkedAt = now
          stats.driftChecks++
          if (project(yield* read, withoutFields(payload, undeclared)) === acked.projection) {
            stats.skipped++
            return "skipped" as ReportOutcome
          }
        }
        if (reportOptions.final !== true) {
          const taken = takeToken(bucket, rate, now)
          bucket = taken.bucket
          if (taken.waitMs > 0) return yield* new ReportDeferred({ retryAfterMs: taken.waitMs })
        }
        return yield* apply(payload, fingerprint, now)
      }).pipe(lock.withPermit)

    return {
      /** Applies the owned fields of `status` if they differ from what the server acknowledged. */
      report,
      /**
       * Forgets what was acknowledged (e.g. after losing leadership, another replica wrote): the
       * next report reads the object again and writes.
       */
      forget: Effect.sync(() => {
        acked = undefined
        found = undefined
      }).pipe(lock.withPermit),
      /** The object's uid, once a request has returned it. */
      uid: (): string | undefined => uid,
      /** Status fields the target's schema does not declare, learnt from the server. */
      undeclared: (): ReadonlyArray<string> => [...undeclared].sort(),
      stats: (): ApplierStats => ({ ...stats })
    }
  })

/** A running status applier. */
export type StatusApplier = Effect.Success<ReturnType<typeof makeStatusApplier>>
