// The status page with made-up backends in several states, in Debian's chromium: writes the
// screenshot docs/status-page.png and measures the live latency (a status published → the page's
// DOM shows it) over `ROUNDS` changes. Needs the app built (`pnpm turbo run build`).
//
//   node apps/vmcp/scripts/status-page-demo.mjs [screenshot.png]   (SCHEME=dark for the dark theme)
import { resolve } from "node:path"
import { backendReport, deriveStatus } from "@vmcp-status/core"
import { chromium } from "playwright-core"
import { makeMcpEndpoint, makeStatusFeed, startHttpServer } from "../dist/index.js"

const ROUNDS = 30
const out = resolve(process.argv[2] ?? new URL("../../../docs/status-page.png", import.meta.url).pathname)
const minute = 60_000
const stamp = (ms) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z")
const start = Date.now() - 62 * minute

// Each backend's health over the last hour: [minutes after `start`, health, message].
const plan = {
  github: [
    [0, "healthy", ""],
    [20, "unhealthy", "connection_refused (ECONNREFUSED): nothing listens at the backend's address"],
    [24, "degraded", "recovering: answered again after failing"],
    [25, "healthy", ""]
  ],
  jira: [
    [0, "healthy", ""],
    [47, "unauthenticated", "401 from the backend: check the token in headers.Authorization"]
  ],
  search: [
    [0, "healthy", ""],
    [40, "degraded", "slow: ping took 6.2 s (slowThreshold 5 s)"]
  ],
  files: [
    [0, "unknown", "not probed yet"],
    [1, "healthy", ""],
    [55, "unhealthy", "timeout: no answer to ping within 10 s; circuit open, next probe in 60 s"]
  ]
}
const extra = {
  github: { toolCount: 31, resourceCount: 4, promptCount: 2, latencyMs: 42, transport: "streamable-http" },
  jira: { toolCount: 12, resourceCount: 0, promptCount: 0, transport: "streamable-http" },
  search: { toolCount: 3, resourceCount: 0, promptCount: 1, latencyMs: 6200, transport: "streamable-http" },
  files: {
    toolCount: 8,
    resourceCount: 120,
    promptCount: 0,
    transport: "stdio",
    restarts: 2,
    lastExit: { code: 1 }
  }
}
const circuit = { files: "open" }

const statusAt = (minutes, health = () => undefined) => {
  const backends = Object.entries(plan).map(([name, steps]) => {
    const reached = steps.filter(([m]) => m <= minutes)
    const [m, h, message] = reached[reached.length - 1]
    const now = health(name)
    return {
      ...backendReport({
        name,
        health: now ?? h,
        message: now === undefined ? message : now === "healthy" ? "" : "connection refused",
        lastTransitionTime: stamp(start + m * minute),
        circuit: circuit[name] !== undefined && h === "unhealthy" ? circuit[name] : "closed",
        consecutiveFailures: h === "unhealthy" ? 3 : 0
      }),
      ...extra[name]
    }
  })
  return deriveStatus({ backends, initialRoundComplete: minutes > 1, now: stamp(start + minutes * minute) })
}

const feed = makeStatusFeed()
for (const m of [0, 1, 20, 24, 25, 40, 47, 55, 62]) feed.publish(statusAt(m))
const endpoint = makeMcpEndpoint({
  name: "vmcp",
  version: "0.0.0",
  router: { tools: () => [], call: async () => ({ content: [] }) }
})
const http = await startHttpServer({
  host: "127.0.0.1",
  port: 0,
  endpoint,
  ready: () => true,
  status: () => feed.current(),
  feed
})
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] })
try {
  const context = await browser.newContext({
    colorScheme: process.env.SCHEME === "dark" ? "dark" : "light",
    viewport: { width: 1200, height: 800 }
  })
  const page = await context.newPage()
  await page.goto(`${http.url}/`)
  await page.waitForSelector('tr[data-backend="files"][data-health="unhealthy"]')
  await page.screenshot({ path: out, fullPage: true })
  console.log(`screenshot: ${out}`)

  // Latency: publish a change, note the time; the page notes when its table shows it.
  await page.evaluate(() => {
    window.__seen = []
    new MutationObserver(() => {
      const row = document.querySelector('tr[data-backend="github"]')
      window.__seen.push({ at: Date.now(), health: row?.getAttribute("data-health") })
    }).observe(document.getElementById("backends"), { childList: true })
  })
  const samples = []
  for (let i = 0; i < ROUNDS; i++) {
    const want = i % 2 === 0 ? "unhealthy" : "healthy"
    const sent = Date.now()
    feed.publish(statusAt(62 + i / 100, (name) => (name === "github" ? want : undefined)))
    await page.waitForSelector(`tr[data-backend="github"][data-health="${want}"]`)
    const seen = await page.evaluate(() => window.__seen)
    const hit = seen.find((s) => s.at >= sent && s.health === want)
    samples.push(hit.at - sent)
  }
  samples.sort((a, b) => a - b)
  const q = (p) => samples[Math.min(samples.length - 1, Math.floor(p * samples.length))]
  console.log(
    `status published → DOM updated over ${ROUNDS} changes: min ${samples[0]} ms, median ${q(0.5)} ms, p90 ${q(0.9)} ms, max ${samples[samples.length - 1]} ms (includes the stream's ${100} ms coalescing)`
  )
} finally {
  await browser.close()
  await http.close()
  await endpoint.close()
}
