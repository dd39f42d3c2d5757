import { Reporter, type RuntimeStatus } from "@vmcp-status/core"
import { Effect, Option, Scope, Stream, SubscriptionRef } from "effect"
import type { VmcpConfig } from "../src/Config.ts"
import type { ListKind } from "../src/gateway/Aggregation.ts"
import type { BackendConnection } from "../src/gateway/BackendConnection.ts"
import { type Gateway, makeGateway } from "../src/gateway/Gateway.ts"
import { type McpEndpoint, makeMcpEndpoint } from "../src/gateway/McpEndpoint.ts"
import { makeServerEvents, routeByEvents, type ServerEvents } from "../src/server/Events.ts"
import { startHttpServer } from "../src/server/HttpServer.ts"
import { type StatusOptions, type StatusRuntime, startStatus } from "../src/status/Status.ts"
import type { StatusFeed } from "../src/status/StatusFeed.ts"

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

/** A reporter given to the publisher: `published` waits for a status it was handed. */
export const recorder = (): {
  readonly reporter: Reporter.Reporter<never>
  readonly published: (predicate: (status: RuntimeStatus) => boolean) => Promise<RuntimeStatus>
} => {
  const last = Effect.runSync(SubscriptionRef.make<RuntimeStatus | undefined>(undefined))
  const reporter = Reporter.make("recorder", (status) => SubscriptionRef.set(last, status))
  /** Resolves with the first status reported (the newest so far included) that satisfies `predicate`. */
  const published = (predicate: (status: RuntimeStatus) => boolean) =>
    Effect.runPromise(
      SubscriptionRef.changes(last).pipe(
        Stream.filter((status) => status !== undefined && predicate(status)),
        Stream.runHead,
        Effect.map((found) => Option.getOrThrow(found)!)
      )
    )
  return { reporter, published }
}

/** The server's HTTP listener with no backends, serving `feed`: `/status`, the stream and the page. */
export const serveFeed = async (feed: StatusFeed) => {
  const endpoint = makeMcpEndpoint({
    name: "vmcp",
    version: "0.0.0",
    router: { tools: () => [], call: async () => ({ content: [] }) }
  })
  const http = await startHttpServer({
    host: "127.0.0.1",
    port: 0,
    endpoint,
    ready: () => true,
    status: () => feed.current(),
    feed
  })
  return {
    http,
    close: async () => {
      await endpoint.close()
      await http.close()
    }
  }
}
