import { Effect, Scope } from "effect"
import type { VmcpConfig } from "../src/Config.ts"
import type { ListKind } from "../src/gateway/Aggregation.ts"
import type { BackendConnection } from "../src/gateway/BackendConnection.ts"
import { type Gateway, makeGateway } from "../src/gateway/Gateway.ts"
import type { McpEndpoint } from "../src/gateway/McpEndpoint.ts"
import { makeServerEvents, routeByEvents, type ServerEvents } from "../src/server/Events.ts"
import { type StatusOptions, type StatusRuntime, startStatus } from "../src/status/Status.ts"

/** The gateway and the status side wired over one event bus, as `vmcp serve` wires them. */
export interface Wired {
  readonly gateway: Gateway
  readonly events: ServerEvents
  /** Serves `endpoint`'s clients the gateway's list changes (for tests that make the endpoint after the gateway). */
  readonly serve: (endpoint: Pick<McpEndpoint, "listChanged">) => Promise<void>
  /** Starts the status side (health checks, publisher) in the scope. */
  readonly startStatus: (
    options: Omit<StatusOptions, "config" | "gateway" | "events">
  ) => Promise<StatusRuntime>
  /** How many times each kind's client-visible list has changed so far. */
  readonly changes: (kind: ListKind) => number
  /** Resolves once `kind`'s list has changed more than `seen` times (default: from now). */
  readonly changed: (kind: ListKind, seen?: number) => Promise<void>
}

/** Wires `connections` in `scope` (closing it unwires and stops everything started). */
export const wire = async (
  scope: Scope.Scope,
  config: VmcpConfig,
  connections: ReadonlyArray<BackendConnection>
): Promise<Wired> => {
  const counts = new Map<ListKind, number>()
  const waiters = new Set<{ readonly kind: ListKind; readonly after: number; readonly resolve: () => void }>()
  const run = <A, E>(effect: Effect.Effect<A, E, Scope.Scope>) =>
    Effect.runPromise(Scope.provide(effect, scope))
  const events = await run(makeServerEvents)
  const gateway = makeGateway(config, connections, {
    announce: (kind) => events.publish({ _tag: "CatalogChanged", kind })
  })
  await run(
    Effect.gen(function* () {
      for (const connection of connections) {
        const unsubscribe = connection.subscribe(events.publish)
        yield* Effect.addFinalizer(() => Effect.sync(unsubscribe))
      }
      yield* events.on(["CatalogChanged"], ({ kind }) =>
        Effect.sync(() => {
          const count = (counts.get(kind) ?? 0) + 1
          counts.set(kind, count)
          for (const waiter of [...waiters])
            if (waiter.kind === kind && count > waiter.after) {
              waiters.delete(waiter)
              waiter.resolve()
            }
        })
      )
      yield* routeByEvents(events, gateway)
    })
  )
  const changes = (kind: ListKind) => counts.get(kind) ?? 0
  return {
    gateway,
    events,
    serve: (endpoint) =>
      run(events.on(["CatalogChanged"], ({ kind }) => Effect.sync(() => endpoint.listChanged(kind)))),
    startStatus: (options) => run(startStatus({ config, gateway, events, ...options })),
    changes,
    changed: (kind, seen = changes(kind)) =>
      seen < changes(kind)
        ? Promise.resolve()
        : new Promise((resolve) => {
            waiters.add({ kind, after: seen, resolve })
          })
  }
}
