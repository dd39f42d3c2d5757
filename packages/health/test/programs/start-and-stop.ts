// Run as a child process by Lifecycle.test.ts: starts health checks of an HTTP, a stdio and a
// plain HTTP backend, waits until all are healthy, stops everything, and must then exit on its
// own: a leftover timer, socket or child process would keep it alive.
import { start } from "@vmcp-status/core"
import { startHealthChecks } from "@vmcp-status/health"
import { startMcpBackend, stdioBackendCommand } from "@vmcp-status/testkit"

const backend = await startMcpBackend()
const publisher = await start({ reporters: [{ name: "quiet", report: () => undefined }] })
const health = await startHealthChecks({
  publisher,
  // What is tested is the exit, not speed: a loaded machine must not make a probe slow or late.
  slowThreshold: "1 minute",
  timeout: "2 minutes",
  backends: [
    { name: "http", transport: "streamable-http", url: backend.url },
    { name: "stdio", transport: "stdio", ...stdioBackendCommand() },
    { name: "plain", transport: "http", url: backend.url.replace("/mcp", "/other") }
  ]
})
// No deadline of its own: on a loaded machine the first round can take long; the test's bound kills a hang.
while (!health.snapshot().initialRoundComplete) await new Promise((resolve) => setTimeout(resolve, 20))
const healths = health.snapshot().backends.map((b) => `${b.name}=${b.health}`)
await health.stop()
await publisher.stop()
await backend.close()
console.log(`stopped ${healths.join(" ")}`)
