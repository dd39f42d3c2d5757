import { type BackendHealth, deriveStatus, type RuntimeStatus, shuttingDown, start } from "@vmcp-status/core"
import { makeLogReporter } from "@vmcp-status/log"

const now = () => new Date().toISOString().replace(/\.\d+Z$/, "Z")
const backend = (name: string, health: BackendHealth, tools: number) => ({
  ...{ name, health, transport: "stdio" as const, circuit: "closed" as const, lastTransitionTime: now() },
  ...{
    message: health === "unhealthy" ? "connection refused" : "",
    toolCount: tools,
    consecutiveFailures: health === "unhealthy" ? 3 : 0
  }
})
const rounds: Array<[BackendHealth, BackendHealth]> = [
  ["unknown", "unknown"],
  ["healthy", "healthy"],
  ["healthy", "unhealthy"],
  ["unhealthy", "unhealthy"],
  ["healthy", "healthy"]
]
const publisher = await start({ reporters: [makeLogReporter({ vmcp: "demo-vmcp" })], interval: "2 seconds" })
let status: RuntimeStatus | undefined
for (const [index, [clock, echo]] of rounds.entries()) {
  status = deriveStatus({
    backends: [backend("clock", clock, 2), backend("echo", echo, 3)],
    initialRoundComplete: index > 0,
    now: now(),
    ...(status ? { previous: status } : {})
  })
  publisher.update(status)
  await new Promise((resolve) => setTimeout(resolve, 800))
}
if (status) publisher.update(shuttingDown(status, now()))
await publisher.stop()
