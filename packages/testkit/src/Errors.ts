import { Schema } from "effect"

/**
 * An MCP backend fixture could not start, change mode or stop. The message says what to do,
 * e.g. free the port another process took while the fixture was down.
 */
export class McpBackendError extends Schema.TaggedError<McpBackendError>()("McpBackendError", {
  operation: Schema.String,
  message: Schema.String
}) {}

/** The fault proxy could not start or stop. */
export class FaultProxyError extends Schema.TaggedError<FaultProxyError>()("FaultProxyError", {
  operation: Schema.String,
  message: Schema.String
}) {}

/** A CA or serving certificate could not be generated (the `openssl` CLI is required). */
export class CertificateError extends Schema.TaggedError<CertificateError>()("CertificateError", {
  message: Schema.String
}) {}

/**
 * The etcd / kube-apiserver binaries are not where the harness looks. The message names the
 * folder, the missing files and the command that provisions them.
 */
export class KubeAssetsMissingError extends Schema.TaggedError<KubeAssetsMissingError>()(
  "KubeAssetsMissingError",
  {
    directory: Schema.String,
    missing: Schema.Array(Schema.String),
    message: Schema.String
  }
) {}

/**
 * etcd, kube-apiserver or kube-controller-manager did not start or did not become ready in
 * time. `logTail` holds the last lines the process wrote.
 */
export class KubeStartError extends Schema.TaggedError<KubeStartError>()("KubeStartError", {
  component: Schema.String,
  message: Schema.String,
  logTail: Schema.String
}) {}

/**
 * A request the harness made to the API server failed (creating a namespace, installing a
 * CRD). `status` is the HTTP status, 0 when no answer arrived.
 */
export class TestKubeRequestError extends Schema.TaggedError<TestKubeRequestError>()("TestKubeRequestError", {
  method: Schema.String,
  path: Schema.String,
  status: Schema.Number,
  message: Schema.String
}) {}
