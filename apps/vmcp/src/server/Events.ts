import { isRoutable, type RuntimeStatus } from "@vmcp-status/core"
import type { SessionEvent } from "@vmcp-status/mcp"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as PubSub from "effect/PubSub"
import type * as Scope from "effect/Scope"
import type { ListKind } from "../gateway/Aggregation.ts"
import type { Gateway } from "../gateway/Gateway.ts"
import type { McpEndpoint } from "../gateway/McpEndpoint.ts"

/**
 * What happens in the running server, on one bus (docs/architecture.md#the-reference-app):
 * every backend session's lifecycle and list changes (`SessionEvent`), every status the status
 * side derives (`StatusDerived`, already redacted and with its history fields), and every change
 * of a list clients see (`CatalogChanged`). Status derivation, routing, the served endpoint,
 * metrics and the log each subscribe to what they need; nobody calls anybody back.
 */
export type ServerEvent =
  | SessionEvent
  | { readonly _tag: "StatusDerived"; readonly status: RuntimeStatus }
  | { readonly _tag: "CatalogChanged"; readonly kind: ListKind }

type Tag = ServerEvent["_tag"]
type EventOf<T extends Tag> = Extract<ServerEvent, { readonly _tag: T }>

/** The running server's event bus. */
export interface ServerEvents {
  /** Publishes an event to every subscriber (synchronous: usable from callback-based code). */
  readonly publish: (event: ServerEvent) => void
  /**
   * Runs `handle` for every event with one of `tags` published from now on, one at a time in
   * order, in a fiber of the current scope. A handler that fails is logged and the next event
   * is handled anyway.
   */
  readonly on: <const T extends Tag>(
    tags: ReadonlyArray<T>,
    handle: (event: EventOf<T>) => Effect.Effect<void>
  ) => Effect.Effect<void, never, Scope.Scope>
}

/**
 * Makes the bus in the current scope (closing the scope shuts it down and stops every handler).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { makeServerEvents } from "@vmcp-status/vmcp"
 *
 * const program = Effect.scoped(Effect.gen(function* () {
 *   const events = yield* makeServerEvents
 *   yield* events.on(["CatalogChanged"], (e) => Effect.log(`${e.kind} changed`))
 *   events.publish({ _tag: "CatalogChanged", kind: "tools" })
 * }))
 * ```
 */
export const makeServerEvents: Effect.Effect<ServerEvents, never, Scope.Scope> = Effect.gen(function* () {
  const pubsub = yield* PubSub.unbounded<ServerEvent>()
  yield* Effect.addFinalizer(() => PubSub.shutdown(pubsub))
  const on = <const T extends Tag>(
    tags: ReadonlyArray<T>,
    handle: (event: EventOf<T>) => Effect.Effect<void>
  ): Effect.Effect<void, never, Scope.Scope> =>
    Effect.gen(function* () {
      // Subscribed before this returns, so nothing published afterwards is missed.
      const subscription = yield* PubSub.subscribe(pubsub)
      const wanted = new Set<Tag>(tags)
      yield* Effect.forkScoped(
        Effect.forever(
          PubSub.take(subscription).pipe(
            Effect.flatMap((event) =>
              wanted.has(event._tag)
                ? handle(event as EventOf<T>).pipe(
                    Effect.catchCause((cause) =>
                      Cause.hasInterruptsOnly(cause)
                        ? Effect.failCause(cause)
                        : Effect.logError(`a handler of ${event._tag} failed`, cause)
                    )
                  )
                : Effect.void
            )
          )
        )
      )
    })
  return {
    publish: (event) => {
      PubSub.publishUnsafe(pubsub, event)
    },
    on
  }
})

/**
 * Routing follows the bus: a backend's session that found new lists rebuilds the tables, every
 * derived status marks backends routable or not, and every change of a client-visible list
 * reaches the clients of `endpoint` as `notifications/<kind>/list_changed`.
 */
export const routeByEvents = (
  events: ServerEvents,
  gateway: Pick<Gateway, "refresh" | "setRoutable">,
  endpoint?: Pick<McpEndpoint, "listChanged">
): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function* () {
    yield* events.on(["ListsChanged"], () => Effect.sync(() => gateway.refresh()))
    yield* events.on(["StatusDerived"], ({ status }) =>
      Effect.sync(() => {
        for (const backend of status.backends) gateway.setRoutable(backend.name, isRoutable(backend.health))
      })
    )
    if (endpoint !== undefined)
      yield* events.on(["CatalogChanged"], ({ kind }) => Effect.sync(() => endpoint.listChanged(kind)))
  })
