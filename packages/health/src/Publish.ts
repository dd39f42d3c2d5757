import { deriveStatus, type RuntimeStatus, toTimestamp } from "@vmcp-status/core"
import { Clock, Effect, type Scope, Stream } from "effect"
import type { HealthOptions } from "./Config.ts"
import type { InvalidHealthConfig } from "./Errors.ts"
import { type HealthChecker, type HealthSnapshot, make } from "./HealthChecker.ts"

/** Anything with the core publisher's `update` (a `Publisher` from `Publisher.make`). */
export interface StatusSink {
  readonly update: (status: RuntimeStatus) => Effect.Effect<void>
}

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
 * current one, until the scope closes; when snapshots arrive faster than they are published,
 * the newest wins. The publisher then decides what is a change worth
 * reporting (volatile fields such as `lastCheckTime` and `latencyMs` are not).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
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
    return checker.changes.pipe(
      // Latest wins: a snapshot holds the whole state, so one that is superseded while the
      // previous one is being published can be skipped.
      Stream.buffer({ capacity: 1, strategy: "sliding" }),
      Stream.runForEach((snapshot) =>
        Effect.gen(function* () {
          previous = toStatus(snapshot, yield* Clock.currentTimeMillis, previous)
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
 * import { Effect } from "effect"
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
