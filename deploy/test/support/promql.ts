/**
 * The metric names a PromQL expression reads, by a small tokenizer: enough for the expressions
 * we ship (dashboard and alerts), not a PromQL parser. Strings, label matchers, range and
 * subquery brackets, Grafana variables and the label lists of `by`/`without`/`on`/`ignoring`/
 * `group_left`/`group_right` are dropped; what is left is identifiers, and an identifier is a
 * metric name unless it is a function (followed by `(`) or a keyword.
 */

const KEYWORDS = new Set([
  "and",
  "or",
  "unless",
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "bool",
  "offset",
  "atan2",
  "inf",
  "nan",
  // Aggregations are followed by `(` or by a `by (...)` clause, so they are listed too.
  "sum",
  "min",
  "max",
  "avg",
  "group",
  "stddev",
  "stdvar",
  "count",
  "count_values",
  "bottomk",
  "topk",
  "quantile"
])

/**
 * @example
 * ```ts
 * metricNames('histogram_quantile(0.95, sum by (le) (rate(vmcp_x_bucket{vmcp=~"$vmcp"}[5m])))')
 * // ["vmcp_x_bucket"]
 * ```
 */
export const metricNames = (expr: string): ReadonlyArray<string> => {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, "{}")
    .replace(/\[[^\]]*\]/g, "[]")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, "$1 ()")
    .replace(/\$\{[^}]*\}|\$\w+/g, " ")
  const names: Array<string> = []
  const token = /[a-zA-Z_:][a-zA-Z0-9_:]*|\d[\w.]*|\S/g
  for (let match = token.exec(stripped); match !== null; match = token.exec(stripped)) {
    const word = match[0]
    if (!/^[a-zA-Z_:]/.test(word) || KEYWORDS.has(word)) continue
    const next = /^\s*(.)/.exec(stripped.slice(token.lastIndex))?.[1]
    if (next === "(") continue
    if (!names.includes(word)) names.push(word)
  }
  return names
}
