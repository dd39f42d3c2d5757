import {
  type Condition,
  ReportDeferred,
  ReporterError,
  type ReportOutcome,
  type RuntimeStatus,
  stableJson
} from "@vmcp-status/core"
import { Clock, Effect } from "effect"
import type { KubeApiError, KubeRequestError } from "./Errors.ts"
import type { KubeClient } from "./KubeClient.ts"
import {
  DefaultWriteRate,
  fullBucket,
  type TokenBucket,
  type TokenBucketOptions,
  takeToken
} from "./RateLimiter.ts"
import { type OwnershipMode, type StatusPayload, toStatusPayload } from "./StatusMapping.ts"
import { objectPath, type Target } from "./Target.ts"

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
}

type Projection = Record<string, unknown>

/** The part of an object's status that corresponds to the keys we apply, for drift checks. */
const project = (status: unknown, payload: StatusPayload): string => {
  const source = (typeof status === "object" && status !== null ? status : {}) as Projection
  const ownedTypes = new Set(payload.conditions.map((c) => c.type))
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
    } else out[key] = value
  }
  return stableJson(out)
}

const describeForbidden = (
  error: KubeApiError,
  target: Target,
  fieldManager: string,
  verb: string,
  resource: string
) =>
  `RBAC: ${verb} on ${resource} "${target.name}" in namespace "${target.namespace}" is forbidden (${error.message}). ` +
  `Fix: grant verb "${verb}" on resource "${resource}" (apiGroup "${target.group}", resourceNames ["${target.name}"]) ` +
  `to this identity in namespace "${target.namespace}"; \`vmcp manifests\` or minimalRules() prints the Role. Field manager: ${fieldManager}.`

const describeNotFound = (error: KubeApiError, target: Target) => {
  const objectMissing = error.message.includes(`"${target.name}"`) && error.message.includes("not found")
  return objectMissing
    ? `the ${target.kind} "${target.name}" does not exist in namespace "${target.namespace}": create it (kubectl apply) or set VMCP_NAME/VMCP_NAMESPACE to an existing object`
    : `the API server does not serve ${target.plural}.${target.group}/${target.version}: install the CRD (or check group/version/plural), e.g. with \`vmcp manifests --with-crd\``
}

/**
 * Writes the owned part of `.status` by server-side apply on the `/status` subresource, with
 * its own field manager, and only when needed:
 * - no request when the payload equals the last acknowledged one;
 * - every `resyncIntervalMs`, one GET compares the object with what the server acknowledged
 *   (fields a CRD does not know are pruned on both sides, so they never look like drift) and
 *   re-applies only on drift;
 * - a token bucket limits writes; without a token the report is deferred, so the publisher
 *   hands over the newest status when a token is due (latest wins).
 * Errors become `ReporterError`s with outcome and `retryAfterMs` for the publisher's backoff;
 * 403 and 404 say what is missing and how to fix it, and retry slowly.
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

    let bucket: TokenBucket = fullBucket(rate, yield* Clock.currentTimeMillis)
    let acked:
      | {
          readonly payload: string
          readonly projection: string
          readonly conditions: ReadonlyArray<Condition>
        }
      | undefined
    let checkedAt = 0
    const stats = { applies: 0, skipped: 0, driftChecks: 0 }

    const toReporterError = (error: KubeRequestError, verb: string): ReporterError => {
      if (error._tag === "KubeTransportError")
        return new ReporterError({
          reporter,
          message: `${error.method} ${error.path}: ${error.kind}: ${error.message}`
        })
      const base = `${error.method} ${error.path}: HTTP ${error.status} ${error.reason}`
      switch (error.status) {
        case 403:
          return new ReporterError({
            reporter,
            message: describeForbidden(
              error,
              target,
              fieldManager,
              verb,
              verb === "get" ? target.plural : `${target.plural}/status`
            ),
            retryAfterMs: slowRetryMs
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

    const apply = (payload: StatusPayload, fingerprint: string, now: number) =>
      client
        .request({
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
        .pipe(
          Effect.mapError((e) => toReporterError(e, "patch")),
          Effect.map((response) => {
            stats.applies++
            const stored = (response.body as { status?: unknown } | undefined)?.status
            acked = {
              payload: fingerprint,
              projection: project(stored, payload),
              conditions: payload.conditions
            }
            checkedAt = now
            return "written" as const
          })
        )

    /** Compares the object with what the server acknowledged; true when our fields drifted. */
    const drifted = (payload: StatusPayload) =>
      client.request({ method: "GET", path }).pipe(
        Effect.mapError((e) => toReporterError(e, "get")),
        Effect.map((response) => {
          stats.driftChecks++
          const stored = (response.body as { status?: unknown } | undefined)?.status
          return acked === undefined || project(stored, payload) !== acked.projection
        })
      )

    const report = (status: RuntimeStatus, options: { readonly final?: boolean } = {}) =>
      Effect.gen(function* () {
        const payload = toStatusPayload(status, {
          mode,
          ...(acked === undefined ? {} : { existingConditions: acked.conditions }),
          ...(optionsOf.includeUrls === undefined ? {} : { includeUrls: optionsOf.includeUrls }),
          ...(optionsOf.maxBytes === undefined ? {} : { maxBytes: optionsOf.maxBytes })
        })
        const fingerprint = stableJson(payload)
        const now = yield* Clock.currentTimeMillis
        if (acked !== undefined && acked.payload === fingerprint) {
          if (now - checkedAt < resyncMs || options.final === true) {
            stats.skipped++
            return "skipped" as ReportOutcome
          }
          checkedAt = now
          if (!(yield* drifted(payload))) {
            stats.skipped++
            return "skipped" as ReportOutcome
          }
        }
        if (options.final !== true) {
          const taken = takeToken(bucket, rate, now)
          bucket = taken.bucket
          if (taken.waitMs > 0) return yield* new ReportDeferred({ retryAfterMs: taken.waitMs })
        }
        return yield* apply(payload, fingerprint, now)
      })

    const optionsOf = options
    return {
      report,
      stats: (): ApplierStats => ({ ...stats })
    }
  })
