/**
 * Example backend that goes down now and then, so the status has something to show: it
 * answers for FLAKY_UP_SECONDS (default 20), then fails every request for FLAKY_DOWN_SECONDS
 * (default 12), and again; FLAKY_UP_SECONDS=0 keeps it up until its `break` tool is called,
 * which takes it down for FLAKY_DOWN_SECONDS. `node flaky.ts` speaks MCP on stdio.
 */
import { serveTools } from "./serve.ts"

const seconds = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback)
  return Number.isFinite(value) && value >= 0 ? value * 1000 : fallback * 1000
}
const upMs = seconds("FLAKY_UP_SECONDS", 20)
const downMs = seconds("FLAKY_DOWN_SECONDS", 12)
const started = Date.now()
let brokenUntil = 0

const down = () => {
  const now = Date.now()
  if (now < brokenUntil) return true
  if (upMs === 0) return false
  return (now - started) % (upMs + downMs) >= upMs
}

serveTools(
  "flaky",
  [
    { name: "coin", description: "Flips a coin", run: () => (Math.random() < 0.5 ? "heads" : "tails") },
    {
      name: "break",
      description: "Takes this backend down for a while (FLAKY_DOWN_SECONDS)",
      run: () => {
        brokenUntil = Date.now() + downMs
        return `flaky is going down for ${downMs / 1000} s`
      }
    }
  ],
  down
)
