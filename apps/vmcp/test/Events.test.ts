import type { RuntimeStatus } from "@vmcp-status/core"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { makeServerEvents, routeByEvents } from "../src/server/Events.ts"

/** Lets the handlers' fibers run until `done` holds (bounded: a handler that never runs fails the test). */
const settle = (done: () => boolean) =>
  Effect.gen(function* () {
    for (let i = 0; i < 10_000 && !done(); i++) yield* Effect.yieldNow
  })

const statusOf = (health: Record<string, "healthy" | "degraded" | "unhealthy">) =>
  ({ backends: Object.entries(health).map(([name, h]) => ({ name, health: h })) }) as unknown as RuntimeStatus

describe("the server's event bus", () => {
  it("hands each subscriber the events of its tags in order, and goes on after a handler failed", async () => {
    const kinds: string[] = []
    const tags: string[] = []
    await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const events = yield* makeServerEvents
          yield* events.on(["CatalogChanged"], (e) =>
            e.kind === "prompts" ? Effect.die(new Error("boom")) : Effect.sync(() => kinds.push(e.kind))
          )
          yield* events.on(["CatalogChanged", "ListsChanged"], (e) => Effect.sync(() => tags.push(e._tag)))
          events.publish({ _tag: "CatalogChanged", kind: "tools" })
          events.publish({ _tag: "ListsChanged", backend: "web" })
          events.publish({ _tag: "Starting", backend: "web", restarts: 1 })
          events.publish({ _tag: "CatalogChanged", kind: "prompts" })
          events.publish({ _tag: "CatalogChanged", kind: "resources" })
          yield* settle(() => tags.length === 4 && kinds.length === 2)
        })
      )
    )
    expect(kinds).toEqual(["tools", "resources"])
    expect(tags).toEqual(["CatalogChanged", "ListsChanged", "CatalogChanged", "CatalogChanged"])
  })

  it("routing follows it: derived statuses set routability, session list changes refresh, catalog changes reach the endpoint", async () => {
    const calls: string[] = []
    await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const events = yield* makeServerEvents
          yield* routeByEvents(
            events,
            {
              refresh: () => calls.push("refresh"),
              setRoutable: (name, routable) => calls.push(`${name}=${routable}`)
            },
            { listChanged: (kind) => calls.push(`notify ${kind}`) }
          )
          events.publish({ _tag: "StatusDerived", status: statusOf({ web: "healthy", docs: "unhealthy" }) })
          events.publish({ _tag: "ListsChanged", backend: "web" })
          events.publish({ _tag: "CatalogChanged", kind: "tools" })
          events.publish({ _tag: "StatusDerived", status: statusOf({ web: "degraded", docs: "healthy" }) })
          yield* settle(() => calls.length === 6)
        })
      )
    )
    // Three handlers, each in order; across handlers the order is not promised.
    expect(calls.filter((c) => c.includes("="))).toEqual(["web=true", "docs=false", "web=true", "docs=true"])
    expect(calls).toContain("refresh")
    expect(calls).toContain("notify tools")
  })
})
