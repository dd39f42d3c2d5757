import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Counter, Registry } from "prom-client"
import { makePrometheusReporter, metricsHandler, serveMetrics } from "../src/index.ts"
import { github, parseExposition, status } from "./fixtures.ts"

/** A real `node:http` server on loopback around the handler, closed with the test's scope. */
const listen = (handler: ReturnType<typeof metricsHandler>) =>
  Effect.acquireRelease(
    Effect.promise(
      () =>
        new Promise<Server>((resolve) => {
          const server = createServer(handler)
          server.listen(0, "127.0.0.1", () => resolve(server))
        })
    ),
    (server) =>
      Effect.promise(
        () =>
          new Promise<void>((resolve) => {
            server.closeAllConnections()
            server.close(() => resolve())
          })
      )
  ).pipe(Effect.map((server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`))

const request = (url: string, method = "GET") =>
  Effect.promise(async () => {
    const response = await fetch(url, { method })
    return { status: response.status, headers: response.headers, body: await response.text() }
  })

describe("metricsHandler", () => {
  it.effect("answers GET with the exposition text and the registry's content type", () =>
    Effect.gen(function* () {
      const metrics = makePrometheusReporter()
      metrics.recordStatus(status([github("healthy")]))
      const url = yield* listen(metricsHandler(metrics.registry))
      const response = yield* request(`${url}/metrics`)
      assert.strictEqual(response.status, 200)
      assert.strictEqual(response.headers.get("content-type"), metrics.registry.contentType)
      assert.include(response.body, "# TYPE vmcp_phase gauge")
      const phase = parseExposition(response.body).find(
        (s) => s.name === "vmcp_phase" && s.labels.phase === "Ready"
      )
      assert.strictEqual(phase?.value, 1)
    })
  )

  it.effect("answers HEAD with headers only and any other method with 405", () =>
    Effect.gen(function* () {
      const metrics = makePrometheusReporter()
      const url = yield* listen(metricsHandler(metrics.registry))
      const head = yield* request(url, "HEAD")
      assert.strictEqual(head.status, 200)
      assert.strictEqual(head.body, "")
      for (const method of ["POST", "PUT", "DELETE"]) {
        const response = yield* request(url, method)
        assert.strictEqual(response.status, 405, method)
        assert.strictEqual(response.headers.get("allow"), "GET, HEAD")
      }
    })
  )

  it.effect("answers 500 without details when collecting fails", () =>
    Effect.gen(function* () {
      const registry = new Registry()
      new Counter({
        name: "broken_total",
        help: "collect throws",
        registers: [registry],
        collect: () => {
          throw new Error("token=tok3n")
        }
      })
      const url = yield* listen(metricsHandler(registry))
      const response = yield* request(url)
      assert.strictEqual(response.status, 500)
      assert.notInclude(response.body, "tok3n")
    })
  )
})

describe("serveMetrics", () => {
  it.effect("serves /metrics on 127.0.0.1 by default, 404 elsewhere, and closes", () =>
    Effect.gen(function* () {
      const metrics = makePrometheusReporter()
      const server = yield* Effect.promise(() => serveMetrics({ registry: metrics.registry, port: 0 }))
      assert.strictEqual((server.server.address() as AddressInfo).address, "127.0.0.1")
      assert.strictEqual(server.url, `http://127.0.0.1:${server.port}/metrics`)
      const ok = yield* request(server.url)
      assert.strictEqual(ok.status, 200)
      assert.include(ok.body, 'vmcp_phase{phase="Pending"} 1')
      assert.strictEqual((yield* request(`http://127.0.0.1:${server.port}/other`)).status, 404)
      yield* Effect.promise(() => server.close())
      yield* Effect.promise(() => server.close())
      assert.isFalse(server.server.listening)
    })
  )

  it.effect("rejects when the port is taken", () =>
    Effect.gen(function* () {
      const registry = new Registry()
      const first = yield* Effect.promise(() => serveMetrics({ registry, port: 0 }))
      const second = yield* Effect.promise(() =>
        serveMetrics({ registry, port: first.port }).then(
          () => "listening",
          (error: NodeJS.ErrnoException) => error.code
        )
      )
      yield* Effect.promise(() => first.close())
      assert.strictEqual(second, "EADDRINUSE")
    })
  )
})
