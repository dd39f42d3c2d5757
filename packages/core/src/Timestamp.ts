import * as Schema from "effect/Schema"

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/

/**
 * An RFC 3339 timestamp as Kubernetes writes it (`2026-11-25T18:00:00Z`).
 *
 * @example
 * ```ts
 * import * as Schema from "effect/Schema"
 * import { Timestamp } from "@vmcp-status/core"
 *
 * Schema.decodeUnknownSync(Timestamp)("2026-11-25T18:00:00Z")
 * ```
 */
export const Timestamp = Schema.String.pipe(
  Schema.check(
    Schema.isPattern(RFC3339, {
      message: "expected an RFC 3339 timestamp such as 2026-11-25T18:00:00Z"
    })
  )
)
export type Timestamp = typeof Timestamp.Type

/**
 * Formats epoch milliseconds with second precision, the precision Kubernetes keeps for
 * `metav1.Time`, so a value we write is the value we read back.
 *
 * @example
 * ```ts
 * import { toTimestamp } from "@vmcp-status/core"
 *
 * toTimestamp(0) // "1970-01-01T00:00:00Z"
 * ```
 */
export const toTimestamp = (epochMillis: number): Timestamp =>
  new Date(Math.floor(epochMillis / 1000) * 1000).toISOString().replace(".000Z", "Z")
