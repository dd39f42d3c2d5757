import { start } from "@vmcp-status/core"
import { makePrometheusReporter, serveMetrics } from "@vmcp-status/prometheus"

/** Publishes the status as metrics without Effect; Prometheus scrapes `url`. */
export const startWithMetrics = async (port: number) => {
  const metrics = makePrometheusReporter({ labels: { vmcp: "my-vmcp" } })
  const publisher = await start({ reporters: [metrics] })
  // The report outcomes of every reporter are read from the publisher on each scrape.
  metrics.observeHealth(publisher.health)
  const server = await serveMetrics({ registry: metrics.registry, port })
  return {
    url: server.url,
    update: publisher.update,
    stop: async () => {
      await publisher.stop()
      await server.close()
    }
  }
}
