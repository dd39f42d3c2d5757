import { type BackendHealthReport, deriveStatus, type RuntimeStatus, toTimestamp } from "@vmcp-status/core"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { HealthOptions } from "./Config.ts"
import type { InvalidHealthConfig } from "./Errors.ts"
import { type HealthChecker, type HealthSnapshot, make } from "./HealthChecker.ts"

/** Anything with the core publisher's `update` (a `Publisher` from `Publisher.make`). */
export interface StatusSink {
  readonly update: (status: RuntimeStatus) => Effect.Effect<void>
}

/**
 * How often a snapshot that differs from the last published one only in volatile fields
 * (`lastCheckTime`, `latencyMs`) is published: deriving and fingerprinting a status costs O(backends),
 * and with many backends such snapshots arrive several times a second while changing nothing a
 * reporter writes.
 */
export const VOLATILE_PUBLISH_INTERVAL_MS = 1_000

const sameStable = (a: BackendHealthReport, b: BackendHealthReport): boolean =>
  a.name === b.name &&
  a.health === b.health &&
  a.message === b.message &&
  a.toolCount === b.toolCount &&
  a.resourceCount === b.resourceCount &&
  a.resourceTemplateCount === b.resourceTemplateCount &&
  a.promptCount === b.promptCount &&
  a.consecutiveFailures === b.consecutiveFailures &&
  a.circuit === b.circuit &&
  a.lastTransitionTime === b.lastTransitionTime &&
  a.transport === b.transport &&
  a.url === b.url

/** True when two snapshots differ at most in volatile fields. */
export const onlyVolatileChanges = (a: HealthSnapshot, b: HealthSnapshot): boolean =>
  a.initialRoundComplete === b.initialRoundComplete &&
  a.lastDiscoveryTime === b.lastDiscoveryTime &&
  a.backends.length === b.backends.length &&
  a.backends.every((backend, i) => sameStable(backend, b.backends[i]!))

/**
 * The `RuntimeStatus` of a snapshot at `now` (epoch ms). Pass the previous status so that
 * conditions keep their `lastTransitionTime` while they do not change.
 *
 * @example
 * ```ts
 * import { toStatus } from "@vmcp-status/health"
 *
 * toStatus({ backends: [], initialRoundComplete: true, lastDiscoveryTime: undefined }, Date.now()).phase // "Ready"
 * ```
 */
export const toStatus = (snapshot: HealthSnapshot, now: number, previous?: RuntimeStatus): RuntimeStatus =>
  deriveStatus({
    backends: snapshot.backends,
    initialRoundComplete: snapshot.initialRoundComplete,
    now: toTimestamp(now),
    ...(snapshot.lastDiscoveryTime === undefined ? {} : { lastDiscoveryTime: snapshot.lastDiscoveryTime }),
    ...(previous === undefined ? {} : { previous })
  })

/**
 * Feeds the snapshots of `checker` to `publisher.update` as `RuntimeStatus`es, starting with the
 * current one, until the scope closes. Every meaningful change is published at once; a snapshot
 * that only refreshes volatile fields (`lastCheckTime`, `latencyMs`) at most once per
 * `VOLATILE_PUBLISH_INTERVAL_MS`; when snapshots arrive faster than they are published, the
 * newest wins. The publisher then decides what is a change worth
 * reporting (volatile fields such as `lastCheckTime` and `latencyMs` are not).
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import { Publisher } from "@vmcp-status/core"
 * import { HealthChecker, publishTo } from "@vmcp-status/health"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const publisher = yield* Publisher.make({ reporters: [] })
 *   const checker = yield* HealthChecker.make({ backends: [] })
 *   yield* publishTo(checker, publisher)
 * }))
 * ```
 */
export const publishTo = (
  checker: HealthChecker,
  publisher: StatusSink
): Effect.Effect<void, never, Scope.Scope> =>
  Effect.suspend(() => {
    let previous: RuntimeStatus | undefined
    let published: HealthSnapshot | undefined
    let publishedAt = Number.NEGATIVE_INFINITY
    return checker.changes.pipe(
      // Latest wins: a snapshot holds the whole state, so one that is superseded while the
      // previous one is being published can be skipped.
      Stream.buffer({ capacity: 1, strategy: "sliding" }),
      Stream.runForEach((snapshot) =>
        Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis
          if (
            published !== undefined &&
            now - publishedAt < VOLATILE_PUBLISH_INTERVAL_MS &&
            onlyVolatileChanges(published, snapshot)
          )
            return
          published = snapshot
          publishedAt = now
          previous = toStatus(snapshot, now, previous)
          yield* publisher.update(previous)
        })
      ),
      Effect.forkScoped,
      Effect.asVoid
    )
  })

/**
 * The one call that wires health to a publisher: starts a `HealthChecker` with `options` in the
 * current scope and publishes its snapshots with `publishTo`.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import { Publisher } from "@vmcp-status/core"
 * import { publishHealth } from "@vmcp-status/health"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const publisher = yield* Publisher.make({ reporters: [] })
 *   const checker = yield* publishHealth(publisher, {
 *     backends: [{ name: "github", transport: "streamable-http", url: "http://127.0.0.1:8080/mcp" }]
 *   })
 *   yield* checker.setBackends([])
 * }))
 * ```
 */
export const publishHealth = (
  publisher: StatusSink,
  options: HealthOptions
): Effect.Effect<HealthChecker, InvalidHealthConfig, Scope.Scope> =>
  Effect.tap(make(options), (checker) => publishTo(checker, publisher))
