/** The shipped PrometheusRule (`deploy/prometheus/alerts.yaml`) as plain Prometheus rule groups. */
import { spawnSync } from "node:child_process"
import { readFileSync } from "node:fs"
import YAML from "yaml"

export interface AlertingRule {
  readonly alert: string
  readonly expr: string
  readonly for?: string
  readonly labels?: Record<string, string>
  readonly annotations?: Record<string, string>
}

export interface RuleGroup {
  readonly name: string
  readonly rules: ReadonlyArray<AlertingRule>
}

export const ALERTS_FILE = new URL("../../prometheus/alerts.yaml", import.meta.url)

const prometheusRule = YAML.parse(readFileSync(ALERTS_FILE, "utf8")) as {
  apiVersion: string
  kind: string
  spec: { groups: ReadonlyArray<RuleGroup> }
}

export const alertsManifest = { apiVersion: prometheusRule.apiVersion, kind: prometheusRule.kind }

/** `spec.groups` of the PrometheusRule: what the Prometheus Operator hands to Prometheus. */
export const ruleGroups: ReadonlyArray<RuleGroup> = prometheusRule.spec.groups

export const alertingRules: ReadonlyArray<AlertingRule> = ruleGroups.flatMap((g) => g.rules)

/** A plain Prometheus rule file (`groups:`) of `groups`. */
export const ruleFile = (groups: ReadonlyArray<RuleGroup> = ruleGroups): string => YAML.stringify({ groups })

/** `bin` when it runs (`<bin> --version` exits 0); fails under CI=true when it does not. */
export const requireBinary = (bin: string, why: string): string | undefined => {
  if (spawnSync(bin, ["--version"]).status === 0) return bin
  if (process.env.CI) throw new Error(`no ${bin}: install Debian's prometheus (scripts/check.sh does) ${why}`)
  return undefined
}
