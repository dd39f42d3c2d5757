import * as Schema from "effect/Schema"

/**
 * A reporter could not publish a status. `outcome` classifies it for metrics (`conflict` for
 * a 409, `throttled` for a 429, `error` otherwise); `retryAfterMs` asks the publisher to wait at
 * least that long before the next attempt (a server's `Retry-After`).
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import { ReporterError } from "@vmcp-status/core"
 *
 * Effect.fail(new ReporterError({ reporter: "webhook", message: "HTTP 429", outcome: "throttled", retryAfterMs: 2000 }))
 * ```
 */
export class ReporterError extends Schema.TaggedError<ReporterError>()("ReporterError", {
  reporter: Schema.String,
  message: Schema.String,
  outcome: Schema.optionalKey(Schema.Literals(["conflict", "throttled", "error"])),
  retryAfterMs: Schema.optionalKey(Schema.Number)
}) {}

/**
 * Not a failure: the reporter asks to be called again after `retryAfterMs` with the newest
 * status (e.g. its client-side rate limit has no token now). The publisher waits, then hands
 * it whatever status is newest; health counts the report as `throttled` without marking the
 * reporter as failing or growing its backoff.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import { ReportDeferred } from "@vmcp-status/core"
 *
 * Effect.fail(new ReportDeferred({ retryAfterMs: 200 }))
 * ```
 */
export class ReportDeferred extends Schema.TaggedError<ReportDeferred>()("ReportDeferred", {
  retryAfterMs: Schema.Number
}) {}

/** A reporter marked `required` could not be started; the publisher does not start. */
export class ReporterStartError extends Schema.TaggedError<ReporterStartError>()("ReporterStartError", {
  reporter: Schema.String,
  message: Schema.String
}) {}

/**
 * A status handed to the Promise facade did not match the `RuntimeStatus` schema. The message
 * names the path of the first problem.
 */
export class InvalidStatusError extends Schema.TaggedError<InvalidStatusError>()("InvalidStatusError", {
  message: Schema.String
}) {}

/** An option passed to the publisher is out of range. */
export class InvalidOptionError extends Schema.TaggedError<InvalidOptionError>()("InvalidOptionError", {
  option: Schema.String,
  message: Schema.String
}) {}
