import { Reporter, start, transitions } from "@vmcp-status/core"

/** A custom reporter: POST every transition (phase or backend health) to a webhook as JSON. */
export const webhookReporter = (url: string) =>
  Reporter.transitionsOnly(
    Reporter.fromPromise({
      name: "webhook",
      report: async (status, { previous, signal }) => {
        const changed = transitions(previous, status)
        const response = await fetch(url, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ phase: status.phase, message: status.message, backends: changed.backends }),
          signal
        })
        if (!response.ok) throw new Error(`webhook answered HTTP ${response.status}`)
      }
    })
  )

/** Start publishing to the webhook; call `update` with each new status, `stop` on shutdown. */
export const startWebhookPublisher = (url: string) => start({ reporters: [webhookReporter(url)] })
