import { start } from "@vmcp-status/core"
import { startHealthChecks } from "@vmcp-status/health"

/** Checks MCP backends (name → Streamable HTTP URL) and prints every status change. */
export const watchBackends = async (backends: Record<string, string>, print: (line: string) => void) => {
  const publisher = await start({
    reporters: [{ name: "console", report: (status) => print(`${status.phase}: ${status.message}`) }]
  })
  const health = await startHealthChecks({
    publisher,
    backends: Object.entries(backends).map(([name, url]) => ({ name, transport: "streamable-http", url }))
  })
  return {
    health,
    stop: async () => {
      await health.stop()
      await publisher.stop()
    }
  }
}
