/**
 * A real Prometheus (Debian's `prometheus`) scrapes a real `vmcp serve` with one real MCP backend,
 * and evaluates the alerts of `deploy/prometheus/alerts.yaml`. The rules are the shipped ones with
 * every `for:` set to 0s, so an alert fires on the first evaluation that sees its condition: the
 * shipped durations are promtool's business (alerts.test.ts), this test is about the names,
 * labels and values a live scrape produces. Every wait is on something Prometheus' HTTP API shows.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { eventually, freeLoopbackPort, type McpBackendHandle, startMcpBackend } from "@vmcp-status/testkit"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import YAML from "yaml"
import { requireBinary, ruleFile, ruleGroups } from "./support/rules.ts"
import { startVmcp, type Vmcp } from "./support/vmcp.ts"

const prometheus = requireBinary("prometheus", "to scrape a running vmcp")

interface Alert {
  readonly labels: Record<string, string>
  readonly state: "pending" | "firing"
}

describe.skipIf(prometheus === undefined)("Prometheus scraping vmcp serve", () => {
  let backend: McpBackendHandle
  let vmcp: Vmcp
  let server: ChildProcess | undefined
  let serverExited: Promise<void> = Promise.resolve()
  let api = ""
  let log = ""

  /** `GET /api/v1/<path>` of the test's Prometheus, its `data`; throws (so `eventually` retries) until it answers. */
  const get = async <A>(path: string): Promise<A> => {
    const res = await fetch(`${api}/api/v1/${path}`)
    const body = (await res.json()) as { status: string; data: A; error?: string }
    if (body.status !== "success") throw new Error(`${path}: ${body.error ?? res.status}`)
    return body.data
  }
  /** The value of each series an instant query returns, keyed by one label. */
  const query = async (promql: string, by: string) => {
    const data = await get<{
      result: ReadonlyArray<{ metric: Record<string, string>; value: [number, string] }>
    }>(`query?query=${encodeURIComponent(promql)}`)
    return Object.fromEntries(data.result.map((r) => [r.metric[by] ?? "", Number(r.value[1])]))
  }
  const alerts = async () => (await get<{ alerts: ReadonlyArray<Alert> }>("alerts")).alerts
  const firing = (list: ReadonlyArray<Alert>, alertname: string, labels: Record<string, string> = {}) =>
    list.some(
      (a) =>
        a.state === "firing" &&
        a.labels.alertname === alertname &&
        Object.entries(labels).every(([k, v]) => a.labels[k] === v)
    )

  beforeAll(async () => {
    backend = await startMcpBackend({ name: "web", tools: [{ name: "search" }] })
    vmcp = await startVmcp({
      name: "scraped",
      listen: { port: 0 },
      health: {
        interval: "500ms",
        // A bound for a starved machine, not a speed limit: with one failure enough to mark the
        // backend down and two to open the circuit for 10 minutes, one slow probe before the
        // first healthy scrape would end the test.
        timeout: "20s",
        unhealthyThreshold: 1,
        // Opens after two failed probes and stays open past the test.
        circuitBreaker: { failureThreshold: 2, openDuration: "10m" }
      },
      backends: [{ name: "web", transport: "streamable-http", url: backend.url }]
    })

    const dir = mkdtempSync(join(tmpdir(), "vmcp-prometheus-"))
    // The shipped rules with `for: 0s`: see the file comment.
    const groups = ruleGroups.map((g) => ({ ...g, rules: g.rules.map((r) => ({ ...r, for: "0s" })) }))
    writeFileSync(join(dir, "alerts.rules.yaml"), ruleFile(groups))
    writeFileSync(
      join(dir, "prometheus.yml"),
      YAML.stringify({
        global: { scrape_interval: "1s", evaluation_interval: "1s" },
        rule_files: ["alerts.rules.yaml"],
        scrape_configs: [{ job_name: "vmcp", static_configs: [{ targets: [new URL(vmcp.url).host] }] }]
      })
    )
    const port = await freeLoopbackPort()
    api = `http://127.0.0.1:${port}`
    server = spawn(
      prometheus as string,
      [
        `--config.file=${join(dir, "prometheus.yml")}`,
        `--storage.tsdb.path=${join(dir, "data")}`,
        `--web.listen-address=127.0.0.1:${port}`
      ],
      { cwd: dir, stdio: ["ignore", "pipe", "pipe"] }
    )
    const child = server
    serverExited = new Promise((resolve) => child.once("exit", () => resolve()))
    child.stdout?.on("data", (chunk: Buffer) => {
      log += chunk.toString("utf8")
    })
    child.stderr?.on("data", (chunk: Buffer) => {
      log += chunk.toString("utf8")
    })
  })

  afterAll(async () => {
    if (server !== undefined && server.exitCode === null && server.signalCode === null) server.kill("SIGTERM")
    await serverExited
    await vmcp?.stop()
    await backend?.close()
  })

  it("scrapes the app's metrics, then fires the backend, circuit and phase alerts once the backend is stopped", async () => {
    const target = await eventually("the vmcp target to be up in Prometheus", async () => {
      const { activeTargets } = await get<{
        activeTargets: ReadonlyArray<{ labels: Record<string, string>; health: string }>
      }>("targets")
      return activeTargets.find((t) => t.labels.job === "vmcp" && t.health === "up")
    }).catch((error: Error) => {
      throw new Error(`${error.message}\nprometheus log:\n${log.slice(-3000)}`)
    })
    expect(target.labels.instance).toBe(new URL(vmcp.url).host)

    // The app's own series, as Prometheus stored them.
    const ready = await eventually(
      "Prometheus to see the backend healthy and the phase Ready",
      async () => {
        const health = await query('vmcp_backend_health{job="vmcp",backend="web"} == 1', "health")
        const phase = await query('vmcp_phase{job="vmcp",vmcp="scraped"} == 1', "phase")
        return health.healthy === 1 && phase.Ready === 1 ? { health, phase } : undefined
      },
      120_000
    )
    expect(ready).toEqual({ health: { healthy: 1 }, phase: { Ready: 1 } })
    expect(await query('vmcp_backend_tools{job="vmcp"}', "backend")).toEqual({ web: 1 })
    expect(await query('vmcp_reports_total{job="vmcp",reporter="prometheus"}', "outcome")).toMatchObject({
      written: expect.any(Number),
      error: 0
    })

    // While the backend is healthy, the rules evaluate to no backend alert.
    await eventually("no backend alert while the backend is healthy", async () => {
      const list = await alerts()
      return firing(list, "VmcpBackendUnhealthy") || firing(list, "VmcpFailed") ? undefined : true
    })

    await backend.close()

    const list = await eventually("VmcpBackendUnhealthy firing for web", async () => {
      const current = await alerts()
      return firing(current, "VmcpBackendUnhealthy", { backend: "web", health: "unhealthy", vmcp: "scraped" })
        ? current
        : undefined
    })
    expect(list.find((a) => a.labels.alertname === "VmcpBackendUnhealthy")?.labels).toMatchObject({
      job: "vmcp",
      instance: new URL(vmcp.url).host,
      severity: "warning"
    })
    // One backend, none routable: the server is Failed and not Ready; two failed probes open the circuit.
    await eventually("VmcpFailed, VmcpNotReady and VmcpBackendCircuitOpen firing", async () => {
      const current = await alerts()
      return firing(current, "VmcpFailed", { vmcp: "scraped", severity: "critical" }) &&
        firing(current, "VmcpNotReady", { vmcp: "scraped" }) &&
        firing(current, "VmcpBackendCircuitOpen", { vmcp: "scraped", backend: "web" })
        ? true
        : undefined
    })
  })
})
