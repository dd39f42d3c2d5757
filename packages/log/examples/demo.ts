import { type BackendHealth, deriveStatus, type RuntimeStatus, shuttingDown, start } from "@vmcp-status/core"
import { makeLogReporter } from "@vmcp-status/log"

const health: Record<string, BackendHealth> = { "?": "unknown", "+": "healthy", "-": "unhealthy" }
const now = () => new Date().toISOString()
const backend = (name: string, h: BackendHealth, toolCount: number) => {
  const down = h === "unhealthy" ? { message: "connection refused", consecutiveFailures: 3 } : {}
  const fixed = { transport: "stdio", circuit: "closed", message: "", consecutiveFailures: 0 } as const
  return { ...fixed, name, health: h, toolCount, lastTransitionTime: now(), ...down }
}
const publisher = await start({ reporters: [makeLogReporter({ vmcp: "demo-vmcp" })] })
let status: RuntimeStatus | undefined
for (const [i, [clock, echo]] of ["??", "++", "+-", "--", "++"].entries()) {
  const backends = [backend("clock", health[clock!]!, 2), backend("echo", health[echo!]!, 3)]
  status = deriveStatus({ backends, initialRoundComplete: i > 0, now: now(), previous: status })
  publisher.update(status)
  await new Promise((resolve) => setTimeout(resolve, 800))
}
publisher.update(shuttingDown(status!, now()))
await publisher.stop()
