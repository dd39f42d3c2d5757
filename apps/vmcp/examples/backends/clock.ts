/** Example backend: tells the time. `node clock.ts` speaks MCP on stdio. */
import { serveTools } from "./serve.ts"

serveTools("clock", [
  { name: "now", description: "The current time, ISO 8601 in UTC", run: () => new Date().toISOString() },
  {
    name: "unix",
    description: "Seconds since 1970-01-01T00:00:00Z",
    run: () => String(Math.floor(Date.now() / 1000))
  }
])
