import * as Schema from "effect/Schema"

/** The target object's coordinates or the environment that names it are invalid. */
export class InvalidTargetError extends Schema.TaggedError<InvalidTargetError>()("InvalidTargetError", {
  field: Schema.String,
  message: Schema.String
}) {}

/** No usable Kubernetes configuration: neither in-cluster nor a kubeconfig. */
export class KubeConfigError extends Schema.TaggedError<KubeConfigError>()("KubeConfigError", {
  message: Schema.String
}) {}

/**
 * The API server answered with an error status. `reason` is the Kubernetes `Status.reason`
 * (`Forbidden`, `NotFound`, `Conflict`, ...); `retryAfterMs` comes from `Retry-After`.
 */
export class KubeApiError extends Schema.TaggedError<KubeApiError>()("KubeApiError", {
  method: Schema.String,
  path: Schema.String,
  status: Schema.Number,
  reason: Schema.String,
  message: Schema.String,
  retryAfterMs: Schema.optionalKey(Schema.Number),
  /** `Status.details.kind`/`name`: which object a 404 or 409 is about (absent when the path is not served). */
  detailsKind: Schema.optionalKey(Schema.String),
  detailsName: Schema.optionalKey(Schema.String)
}) {}

/** The request did not get an answer: timeout, connection reset or refused, TLS failure. */
export class KubeTransportError extends Schema.TaggedError<KubeTransportError>()("KubeTransportError", {
  method: Schema.String,
  path: Schema.String,
  kind: Schema.Literals(["timeout", "reset", "refused", "tls", "other"]),
  message: Schema.String
}) {}

/** Any failure of one request. */
export type KubeRequestError = KubeApiError | KubeTransportError
