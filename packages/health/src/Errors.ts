import * as Schema from "effect/Schema"

/**
 * The health configuration is invalid. `field` is the path of the offending value
 * (`backends[2].url`, `interval`), `message` says what is expected.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import { InvalidHealthConfig } from "@vmcp-status/health"
 *
 * Effect.fail(new InvalidHealthConfig({ field: "backends[0].url", message: "expected an http(s) URL" }))
 * ```
 */
export class InvalidHealthConfig extends Schema.TaggedError<InvalidHealthConfig>()("InvalidHealthConfig", {
  field: Schema.String,
  message: Schema.String
}) {}
