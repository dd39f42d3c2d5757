/**
 * The status page at `/` in a real headless browser: Debian's chromium driven by playwright-core
 * loads the page from a running app (`runServer`, real MCP backends on loopback) and the test
 * reads the DOM while a backend goes down and comes back, with no reload. A second app serves
 * statuses whose backend strings are HTML, which must show as text.
 */

import { existsSync } from "node:fs"
import { backendReport, deriveStatus } from "@vmcp-status/core"
import { eventually, type McpBackendHandle, startMcpBackend } from "@vmcp-status/testkit"
import { type Browser, chromium, type Page } from "playwright-core"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { makeStatusFeed } from "../src/status/StatusFeed.ts"
import { statusPageCsp } from "../src/status/StatusPage.ts"
import { serveInProcess, servingUrl } from "./inProcess.ts"
import { serveFeed } from "./wiring.ts"

/** Debian's chromium (scripts/test-packages.sh installs it); CI fails without it, elsewhere the file skips. */
const CHROMIUM = "/usr/bin/chromium"
const haveChromium = existsSync(CHROMIUM)
if (!haveChromium && process.env.CI !== "true")
  console.warn(`skipping the status page browser tests: ${CHROMIUM} is missing (apt-get install chromium)`)

/** The browser's `document`, as far as the functions run in the page use it (no DOM lib here). */
interface PageElement {
  readonly textContent: string | null
  getAttribute(name: string): string | null
}
declare const document: {
  querySelector(selector: string): PageElement | null
  getElementById(id: string): PageElement | null
}

/** Bounds for a hung test on a starved machine, never speed limits. */
const WAIT = { timeout: 90_000, polling: 100 } as const

const cleanups: Array<() => Promise<unknown> | unknown> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

let browser: Browser | undefined
beforeAll(async () => {
  if (haveChromium || process.env.CI === "true")
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] })
}, 120_000)
afterAll(async () => {
  await browser?.close()
})

/** A page that records console errors (a CSP violation is one) and every navigation. */
const openPage = async (url: string) => {
  if (browser === undefined) throw new Error("no browser")
  const context = await browser.newContext({ colorScheme: "light" })
  cleanups.push(() => context.close())
  const page = await context.newPage()
  const errors: Array<string> = []
  const dialogs: Array<string> = []
  let navigations = 0
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text())
  })
  page.on("pageerror", (error) => errors.push(String(error)))
  page.on("dialog", (dialog) => {
    dialogs.push(dialog.message())
    void dialog.dismiss()
  })
  page.on("framenavigated", (frame) => {
    if (frame === page.mainFrame()) navigations++
  })
  const response = await page.goto(url)
  return { page, response, errors, dialogs, navigations: () => navigations }
}

const rowHealth = (page: Page, backend: string, health: string) =>
  page.waitForFunction(
    ([name, want]) =>
      document.querySelector(`tr[data-backend="${name}"]`)?.getAttribute("data-health") === want,
    [backend, health] as const,
    WAIT
  )

/** `vmcp serve` in this process; resolves with its URL once it serves. */
const startApp = async (config: Record<string, unknown>): Promise<string> =>
  (await serveInProcess({ config, until: servingUrl, cleanups })).found

const backend = async (): Promise<McpBackendHandle> => {
  const handle = await startMcpBackend({ tools: [{ name: "search" }, { name: "fetch" }] })
  cleanups.push(() => handle.close())
  return handle
}

describe.skipIf(!haveChromium && process.env.CI !== "true")("the status page in chromium", () => {
  it("shows a backend go unhealthy and come back, live, without reloading", async () => {
    const alpha = await backend()
    const beta = await backend()
    const url = await startApp({
      health: {
        interval: "300ms",
        timeout: "20s",
        slowThreshold: "15s",
        unhealthyThreshold: 1,
        circuitBreaker: { openDuration: "1s", maxOpenDuration: "2s" }
      },
      backends: [
        { name: "alpha", transport: "streamable-http", url: alpha.url },
        { name: "beta", transport: "streamable-http", url: beta.url }
      ]
    })
    const { page, response, errors, navigations } = await openPage(`${url}/`)
    expect(response?.status()).toBe(200)
    expect(response?.headers()["content-security-policy"]).toBe(statusPageCsp)

    await rowHealth(page, "alpha", "healthy")
    await rowHealth(page, "beta", "healthy")
    const alphaRow = page.locator('tr[data-backend="alpha"]')
    expect(await alphaRow.locator("td").nth(0).textContent()).toContain("healthy")
    expect(await alphaRow.locator("td").nth(2).textContent()).toBe("2") // tools
    await page.waitForFunction(
      () => document.getElementById("phase")?.textContent?.includes("Ready"),
      null,
      WAIT
    )
    expect(await page.locator("#phase").getAttribute("aria-live")).toBe("polite")

    await alpha.setMode("down")
    await rowHealth(page, "alpha", "unhealthy")
    expect(await alphaRow.locator("td").nth(0).textContent()).toContain("unhealthy")
    // Colour plus text: the cell names the state, and its last failure is shown with a reason.
    expect(await alphaRow.locator("td").nth(9).textContent()).not.toBe("\u2014")
    expect(await page.locator('tr[data-backend="beta"]').getAttribute("data-health")).toBe("healthy")
    await page.waitForFunction(
      () => document.getElementById("phase")?.textContent?.includes("Degraded"),
      null,
      WAIT
    )

    // Transition times have second precision (as Kubernetes keeps them): the outage must span a
    // second boundary for the history to see time spent down.
    const failedAt = await eventually("alpha's failure in the history", async () => {
      const body = (await (await fetch(`${url}/status`)).json()) as {
        history?: ReadonlyArray<{ name: string; lastFailureTime?: string }>
      }
      const time = body.history?.find((h) => h.name === "alpha")?.lastFailureTime
      return time === undefined ? undefined : Date.parse(time)
    })
    await eventually("a second after the failure", () => (Date.now() >= failedAt + 1_000 ? true : undefined))
    await alpha.setMode("up")
    await rowHealth(page, "alpha", "healthy")
    await page.waitForFunction(
      () => document.getElementById("phase")?.textContent?.includes("Ready"),
      null,
      WAIT
    )
    // The timeline lists the transitions of the last hour.
    expect(await page.locator("#timeline details").first().locator("li").allTextContents()).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/healthy \u2192 unhealthy/),
        expect.stringMatching(/unhealthy \u2192 (degraded|healthy)/)
      ])
    )
    expect(navigations()).toBe(1)
    expect(errors).toEqual([])

    // The same history in /status and /metrics: alpha failed once, so it was not up all hour.
    const status = (await (await fetch(`${url}/status`)).json()) as {
      history: ReadonlyArray<{ name: string; lastFailureReason?: string; availability: { "1h"?: number } }>
    }
    const alphaHistory = status.history.find((h) => h.name === "alpha")
    expect(alphaHistory?.lastFailureReason).toMatch(/ECONNREFUSED|connection/)
    expect(alphaHistory?.availability["1h"]).toBeLessThan(1)
    const metrics = await (await fetch(`${url}/metrics`)).text()
    expect(metrics).toMatch(/^vmcp_backend_healthy_since_seconds\{[^}]*backend="alpha"\} \d+/m)
    const ratio = /^vmcp_backend_availability_ratio\{[^}]*backend="alpha",window="1h"\} (\S+)$/m.exec(metrics)
    expect(Number(ratio?.[1])).toBeLessThan(1)
    expect(Number(ratio?.[1])).toBeGreaterThan(0)
  })

  it("renders backend names and messages that hold HTML as text", async () => {
    const feed = makeStatusFeed()
    const attack = `<img src=x onerror="alert('xss')"><script>alert('xss')</script>`
    const now = new Date().toISOString().replace(/\.\d+Z$/, "Z")
    feed.publish(
      deriveStatus({
        backends: [
          backendReport({
            name: `<script>alert('name')</script>`,
            health: "unhealthy",
            lastTransitionTime: now,
            message: attack
          }),
          backendReport({ name: "plain", health: "healthy", lastTransitionTime: now, message: "" })
        ],
        initialRoundComplete: true,
        now
      })
    )
    const { http, close } = await serveFeed(feed)
    cleanups.push(close)

    const { page, errors, dialogs } = await openPage(`${http.url}/`)
    await rowHealth(page, "plain", "healthy")
    const row = page.locator("tr[data-health=unhealthy]")
    expect(await row.locator("th").textContent()).toContain(`<script>alert('name')</script>`)
    expect(await row.locator("td").nth(0).textContent()).toContain(attack)
    expect(await page.locator("#backends img, #backends script, #timeline script").count()).toBe(0)
    expect(dialogs).toEqual([])
    expect(errors).toEqual([])
  })
})
