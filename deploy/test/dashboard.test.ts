/**
 * `deploy/grafana/vmcp-dashboard.json` reads only metrics the app exports: every `expr` (and the
 * `label_values` of its variables) and every alert of `deploy/prometheus/alerts.yaml`, tokenized
 * for metric names, compared with the `/metrics` of a running `vmcp serve` (the built CLI, on
 * loopback, with a real MCP backend from the testkit).
 */
import { readFileSync } from "node:fs"
import { eventually, type McpBackendHandle, startMcpBackend } from "@vmcp-status/testkit"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { metricNames } from "./support/promql.ts"
import { alertingRules } from "./support/rules.ts"
import { sampleNames, startVmcp, type Vmcp } from "./support/vmcp.ts"

interface Panel {
  readonly type: string
  readonly title: string
  readonly datasource?: { uid?: string }
  readonly targets?: ReadonlyArray<{ expr?: string; datasource?: { uid?: string } }>
}
interface Dashboard {
  readonly uid: string
  readonly panels: ReadonlyArray<Panel>
  readonly templating: {
    list: ReadonlyArray<{ name: string; type: string; query?: string | { query: string } }>
  }
}

const dashboard = JSON.parse(
  readFileSync(new URL("../grafana/vmcp-dashboard.json", import.meta.url), "utf8")
) as Dashboard
const queryPanels = dashboard.panels.filter((p) => p.type !== "row")
const panelExprs = queryPanels.flatMap((p) => (p.targets ?? []).map((t) => t.expr ?? ""))
/** The metric of each `label_values(metric, label)` variable. */
const variableMetrics = dashboard.templating.list.flatMap((v) => {
  const query = typeof v.query === "string" ? v.query : v.query?.query
  const metric = /^label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,/.exec(query ?? "")?.[1]
  return metric === undefined ? [] : [metric]
})

describe("the PromQL tokenizer", () => {
  it.each([
    ['vmcp_phase{phase="Ready"} == 0', ["vmcp_phase"]],
    [
      'histogram_quantile(0.95, sum by (backend, le) (rate(a_bucket{vmcp=~"$vmcp"}[$__rate_interval])))',
      ["a_bucket"]
    ],
    ["sum by (b) (rate(x_sum[5m])) / sum by (b) (rate(x_count[5m]))", ["x_sum", "x_count"]],
    ["time() - max by (reporter) (last_success)", ["last_success"]],
    ["a offset 1h30m and on (job) group_left (instance) b > bool 1e3", ["a", "b"]],
    ['up{job="sum(by)"} unless ignoring (x) down', ["up", "down"]]
  ])("%s reads %j", (expr, names) => {
    expect(metricNames(expr)).toEqual(names)
  })
})

describe("Grafana dashboard deploy/grafana/vmcp-dashboard.json", () => {
  it("every panel queries the data source chosen in its variable", () => {
    expect(queryPanels.length).toBeGreaterThan(0)
    for (const panel of queryPanels) {
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax
      expect(panel.datasource?.uid, panel.title).toBe("${datasource}")
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0)
      for (const target of panel.targets ?? []) expect(target.expr, panel.title).toBeTruthy()
    }
    expect(variableMetrics).toEqual(["vmcp_phase"])
  })

  describe("against the /metrics of a running vmcp serve", () => {
    let backend: McpBackendHandle
    let vmcp: Vmcp
    let exported: ReadonlySet<string>
    let families: ReadonlyArray<string>

    beforeAll(async () => {
      backend = await startMcpBackend({ name: "web", tools: [{ name: "search" }] })
      vmcp = await startVmcp({
        name: "dash",
        listen: { port: 0 },
        health: { interval: "500ms", timeout: "20s", unhealthyThreshold: 1 },
        backends: [{ name: "web", transport: "streamable-http", url: backend.url }]
      })
      // Ready: a probe was observed (the histogram has samples); a report succeeded (the
      // last-success gauge exists only from then on).
      await eventually("vmcp to be Ready", async () => {
        const res = await fetch(`${vmcp.url}/status`)
        return res.ok && ((await res.json()) as { phase: string }).phase === "Ready" ? true : undefined
      })
      const text = await eventually("a successful report on /metrics", async () => {
        const body = await (await fetch(`${vmcp.url}/metrics`)).text()
        return body.includes("vmcp_reporter_last_success_timestamp_seconds{") ? body : undefined
      })
      exported = sampleNames(text)
      families = text.split("\n").flatMap((line) => /^# TYPE (vmcp_\S+) /.exec(line)?.[1] ?? [])
    })

    afterAll(async () => {
      await vmcp?.stop()
      await backend?.close()
    })

    it("every dashboard query reads only exported metric names", () => {
      const used = [...new Set([...panelExprs.flatMap(metricNames), ...variableMetrics])]
      expect(used.length).toBeGreaterThan(0)
      expect(used.filter((name) => !exported.has(name))).toEqual([])
    })

    it("every alert reads only exported metric names", () => {
      const used = [...new Set(alertingRules.flatMap((r) => metricNames(r.expr)))]
      expect(used.filter((name) => !exported.has(name))).toEqual([])
    })

    it("the dashboard shows every metric family the app exports", () => {
      const used = new Set(panelExprs.flatMap(metricNames))
      const shown = (family: string) =>
        ["", "_bucket", "_sum", "_count", "_total"].some((suffix) => used.has(`${family}${suffix}`))
      expect(families.length).toBeGreaterThan(5)
      expect(families.filter((family) => !shown(family))).toEqual([])
    })
  })
})
