import { Publisher } from "@vmcp-status/core"
import { makePrometheusReporter, serveMetrics } from "@vmcp-status/prometheus"
import { Effect } from "effect"

/** A publisher with metrics, served on `url` until the scope closes. */
export const publishWithMetrics = (port: number) =>
  Effect.gen(function* () {
    const metrics = makePrometheusReporter({ labels: { vmcp: "my-vmcp" } })
    const publisher = yield* Publisher.make({ reporters: [metrics] })
    // Every change of the publisher's per-reporter health, until the scope closes.
    yield* metrics.observePublisher(publisher)
    const server = yield* Effect.acquireRelease(
      Effect.tryPromise(() => serveMetrics({ registry: metrics.registry, port })),
      (server) => Effect.promise(() => server.close())
    )
    return { url: server.url, update: publisher.update }
  })
