/**
 * JSON with object keys sorted (and `undefined` members dropped), so equal values give equal
 * strings whatever their key order.
 *
 * @example
 * ```ts
 * import { stableJson } from "@vmcp-status/core"
 *
 * stableJson({ b: 1, a: [2] }) // {"a":[2],"b":1}
 * ```
 */
export const stableJson = (value: unknown): string => {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null"
  if (Array.isArray(value)) return `[${value.map(stableJson).join(",")}]`
  const record = value as Record<string, unknown>
  const keys = Object.keys(record)
    .filter((k) => record[k] !== undefined)
    .sort()
  return `{${keys.map((k) => `${JSON.stringify(k)}:${stableJson(record[k])}`).join(",")}}`
}
