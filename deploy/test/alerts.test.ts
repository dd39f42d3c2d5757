/**
 * The PrometheusRule `deploy/prometheus/alerts.yaml`, its `spec.groups` checked and unit-tested
 * by Debian's `promtool` (`check rules`, `test rules`) against the series and expected alerts of
 * `fixtures/alerts.promtool.yaml`: each alert firing, and not firing before its `for:` or for
 * series that do not match.
 */
import { spawnSync } from "node:child_process"
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import YAML from "yaml"
import { alertingRules, alertsManifest, requireBinary, ruleFile } from "./support/rules.ts"

const UNIT_TESTS = fileURLToPath(new URL("./fixtures/alerts.promtool.yaml", import.meta.url))
const promtool = requireBinary("promtool", "to unit-test deploy/prometheus/alerts.yaml")

interface PromtoolTests {
  readonly tests: ReadonlyArray<{
    readonly alert_rule_test?: ReadonlyArray<{ alertname: string; exp_alerts: ReadonlyArray<unknown> }>
  }>
}
const unitTests = YAML.parse(readFileSync(UNIT_TESTS, "utf8")) as PromtoolTests
const alertTests = unitTests.tests.flatMap((t) => t.alert_rule_test ?? [])

/** Runs `promtool <args>` in a directory holding the extracted rules and the unit tests. */
const runPromtool = (...args: ReadonlyArray<string>) => {
  const dir = mkdtempSync(join(tmpdir(), "vmcp-alerts-"))
  writeFileSync(join(dir, "alerts.rules.yaml"), ruleFile())
  copyFileSync(UNIT_TESTS, join(dir, "alerts.promtool.yaml"))
  const run = spawnSync(promtool as string, args, { cwd: dir, encoding: "utf8" })
  return { code: run.status, output: `${run.stdout}${run.stderr}` }
}

describe("PrometheusRule deploy/prometheus/alerts.yaml", () => {
  it("is a monitoring.coreos.com/v1 PrometheusRule with the six alerts", () => {
    expect(alertsManifest).toEqual({ apiVersion: "monitoring.coreos.com/v1", kind: "PrometheusRule" })
    expect(alertingRules.map((r) => r.alert)).toEqual([
      "VmcpNotReady",
      "VmcpFailed",
      "VmcpBackendUnhealthy",
      "VmcpBackendCircuitOpen",
      "VmcpBackendCrashLooping",
      "VmcpReporterFailing"
    ])
    for (const rule of alertingRules) {
      expect(rule.labels?.severity, rule.alert).toMatch(/^(warning|critical)$/)
      expect(rule.annotations?.summary, rule.alert).toBeTruthy()
    }
  })

  it("every alert has a promtool case where it fires and one where it does not", () => {
    for (const { alert } of alertingRules) {
      const cases = alertTests.filter((t) => t.alertname === alert)
      expect(
        cases.some((t) => t.exp_alerts.length > 0),
        `${alert} fires in fixtures/alerts.promtool.yaml`
      ).toBe(true)
      expect(
        cases.some((t) => t.exp_alerts.length === 0),
        `${alert} stays quiet in fixtures/alerts.promtool.yaml`
      ).toBe(true)
    }
  })

  describe.skipIf(promtool === undefined)("with promtool", () => {
    it("promtool check rules: the extracted groups are valid Prometheus rules", () => {
      const run = runPromtool("check", "rules", "alerts.rules.yaml")
      expect(run.output).toContain(`SUCCESS: ${alertingRules.length} rules found`)
      expect(run.code, run.output).toBe(0)
    })

    it("promtool test rules: each alert fires, and only when it should", () => {
      const run = runPromtool("test", "rules", "alerts.promtool.yaml")
      expect(run.code, run.output).toBe(0)
      expect(run.output).toContain("SUCCESS")
    })
  })
})
