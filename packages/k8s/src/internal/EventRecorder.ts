import {
  type BackendHealth,
  describeExit,
  type RuntimeStatus,
  redactText,
  transitions
} from "@vmcp-status/core"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import type { KubeRequestError } from "../Errors.ts"
import type { K8sEventOptions } from "../K8sReporter.ts"
import type { Target } from "../Target.ts"
import { explainForbidden } from "./Forbidden.ts"
import type { KubeClient } from "./KubeClient.ts"
import { fullBucket, type TokenBucket, takeToken } from "./RateLimiter.ts"

/** One Event to emit about the target object. */
export interface EventDraft {
  readonly type: "Normal" | "Warning"
  readonly reason: string
  readonly note: string
}

const backendReason: Readonly<Record<BackendHealth, string>> = {
  healthy: "BackendHealthy",
  degraded: "BackendDegraded",
  unhealthy: "BackendUnhealthy",
  unauthenticated: "BackendUnauthenticated",
  unknown: "BackendUnknown"
}

/**
 * The Events for a status change: one per phase transition (Warning when degrading to
 * `Degraded`/`Failed`, Normal otherwise), one per backend whose health changed (Warning
 * when it leaves `healthy`, Normal when it recovers) and a Warning `BackendRestarted` per
 * backend whose restart counter grew. Pure.
 *
 * @example
 * ```ts
 * import { eventsFor } from "./EventRecorder.ts"
 *
 * // eventsFor(previousStatus, nextStatus) → [{ type: "Warning", reason: "BackendUnhealthy", note: "..." }]
 * ```
 */
export const eventsFor = (
  previous: RuntimeStatus | undefined,
  next: RuntimeStatus
): ReadonlyArray<EventDraft> => {
  const change = transitions(previous, next)
  const events: Array<EventDraft> = []
  if (change.phase !== undefined && change.phase.from !== undefined) {
    const worse = next.phase === "Degraded" || next.phase === "Failed"
    events.push({
      type: worse ? "Warning" : "Normal",
      reason: `Became${next.phase}`,
      note: redactText(`${change.phase.from} → ${next.phase}: ${next.message}`)
    })
  }
  if (previous === undefined) return events
  // A restart is not a health transition: it is read from the restart counter. The note names
  // how the process ended but not the count, so a crash loop extends one Event's series.
  const restartsBefore = new Map(previous.backends.map((b) => [b.name, b.restarts ?? 0]))
  for (const b of next.backends) {
    const before = restartsBefore.get(b.name)
    if (before === undefined || b.restarts === undefined || b.restarts <= before) continue
    const how =
      b.lastExit === undefined ? "its session was lost" : `its process ended (${describeExit(b.lastExit)})`
    events.push({
      type: "Warning",
      reason: "BackendRestarted",
      note: `backend ${b.name} restarted: ${how}`.slice(0, 1024)
    })
  }
  for (const b of change.backends) {
    if (b.to === undefined) {
      events.push({
        type: "Normal",
        reason: "BackendRemoved",
        note: `backend ${b.name} removed from configuration`
      })
      continue
    }
    if (b.from === undefined) continue
    const why = b.message === "" ? "" : `: ${redactText(b.message)}`
    events.push({
      type: b.to === "healthy" ? "Normal" : "Warning",
      reason: backendReason[b.to],
      note: `backend ${b.name} ${b.from} → ${b.to}${why}`.slice(0, 1024)
    })
  }
  return events
}

/** Options of the Event recorder: the reporter's `events` options and the object. */
export interface EventRecorderOptions extends K8sEventOptions {
  readonly target: Target
  /** The object's uid once known, so `regarding` points at this incarnation of the object. */
  readonly uid?: () => string | undefined
}

/** What the recorder did, for tests and metrics. */
export interface EventStats {
  readonly created: number
  readonly seriesUpdates: number
  readonly dropped: number
  readonly failed: number
}

interface Series {
  readonly name: string
  count: number
  firstAt: number
  lastAt: number
}

const randomSuffix = () => Math.random().toString(36).slice(2, 10)

/**
 * Emits `events.k8s.io/v1` Events about the target, best effort, from its own fiber: callers
 * only enqueue (a bounded queue that drops when full), so status writes are never delayed.
 * Repeats of the same type+reason+note within `seriesWindowMs` become one Event with a growing
 * `series`; a token bucket per object bounds the rate; failures are counted, not raised.
 */
export const makeEventRecorder = (client: KubeClient, options: EventRecorderOptions) =>
  Effect.gen(function* () {
    const target = options.target
    const controller = options.controller ?? "vmcp-status"
    const instance = (options.instance ?? process.env.HOSTNAME ?? "vmcp").slice(0, 128)
    const rate = options.rate ?? { ratePerSecond: 1 / 300, burst: 25 }
    const windowMs = options.seriesWindowMs ?? 30 * 60_000
    const queue = yield* Queue.dropping<EventDraft>(256)
    const series = new Map<string, Series>()
    const stats = { created: 0, seriesUpdates: 0, dropped: 0, failed: 0 }
    let bucket: TokenBucket = fullBucket(rate, yield* Clock.currentTimeMillis)
    const basePath = `/apis/events.k8s.io/v1/namespaces/${target.namespace}/events`

    const regarding = () => {
      const uid = options.uid?.()
      return {
        apiVersion: `${target.group}/${target.version}`,
        kind: target.kind,
        name: target.name,
        namespace: target.namespace,
        ...(uid === undefined ? {} : { uid })
      }
    }

    const microTime = (ms: number) => new Date(ms).toISOString().replace("Z", "000Z")

    /** True after a failure was logged; the next success re-arms the log line. */
    let failing = false

    const failed = (verb: "create" | "patch", error: KubeRequestError) =>
      Effect.gen(function* () {
        stats.failed++
        if (failing) return
        failing = true
        const detail =
          error._tag === "KubeApiError" && error.status === 403
            ? explainForbidden(
                { verb, group: "events.k8s.io", resource: "events", namespace: target.namespace },
                error.message
              )
            : error._tag === "KubeApiError"
              ? `HTTP ${error.status} ${error.reason}: ${error.message}`
              : `${error.kind}: ${error.message}`
        yield* Effect.logWarning(
          `Events about ${target.kind} ${target.namespace}/${target.name} are not being recorded (best effort; status is unaffected): ${verb} failed: ${detail}`
        )
      })

    const succeeded = Effect.sync(() => {
      failing = false
    })

    const create = (draft: EventDraft, key: string, now: number) =>
      Effect.gen(function* () {
        const taken = takeToken(bucket, rate, now)
        bucket = taken.bucket
        if (taken.waitMs > 0) {
          stats.dropped++
          return
        }
        const name = `${target.name}.${now.toString(16)}${randomSuffix()}`.slice(0, 253)
        yield* client.request({
          method: "POST",
          path: basePath,
          body: {
            apiVersion: "events.k8s.io/v1",
            kind: "Event",
            metadata: { name, namespace: target.namespace },
            eventTime: microTime(now),
            reportingController: controller,
            reportingInstance: instance,
            action: "StatusChange",
            reason: draft.reason,
            note: draft.note,
            type: draft.type,
            regarding: regarding()
          }
        })
        stats.created++
        series.set(key, { name, count: 1, firstAt: now, lastAt: now })
        for (const [k, s] of series) if (now - s.lastAt >= windowMs) series.delete(k)
        yield* succeeded
      }).pipe(Effect.catch((e: KubeRequestError) => failed("create", e)))

    const send = (draft: EventDraft) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const key = `${draft.type}/${draft.reason}/${draft.note}`
        const existing = series.get(key)
        if (existing === undefined || now - existing.lastAt >= windowMs) return yield* create(draft, key, now)
        existing.count++
        existing.lastAt = now
        yield* client
          .request({
            method: "PATCH",
            path: `${basePath}/${existing.name}`,
            contentType: "application/merge-patch+json",
            body: { series: { count: existing.count, lastObservedTime: microTime(now) } }
          })
          .pipe(
            Effect.andThen(() => {
              stats.seriesUpdates++
              return succeeded
            }),
            Effect.catch((e: KubeRequestError) =>
              // The Event expired (the API server keeps them about an hour): start a new series.
              e._tag === "KubeApiError" && e.status === 404
                ? Effect.suspend(() => {
                    series.delete(key)
                    return create(draft, key, now)
                  })
                : failed("patch", e)
            )
          )
      })

    yield* Effect.forkScoped(Effect.forever(Queue.take(queue).pipe(Effect.flatMap(send))))

    return {
      /** Enqueues Events for a status change; never blocks. */
      record: (previous: RuntimeStatus | undefined, next: RuntimeStatus) =>
        Effect.sync(() => {
          for (const draft of eventsFor(previous, next)) {
            if (!Queue.offerUnsafe(queue, draft)) stats.dropped++
          }
        }),
      /** Sends what is queued now (for a final flush within the caller's deadline). */
      drain: Effect.gen(function* () {
        while (true) {
          const next = yield* Queue.poll(queue)
          if (Option.isNone(next)) return
          yield* send(next.value)
        }
      }),
      stats: (): EventStats => ({ ...stats })
    }
  })
