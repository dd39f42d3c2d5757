import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { InvalidTargetError } from "./Errors.ts"

/** toolhive's `VirtualMCPServer`: the default target. */
export const ToolhiveVirtualMcpServer = {
  group: "toolhive.stacklok.dev",
  version: "v1beta1",
  plural: "virtualmcpservers",
  kind: "VirtualMCPServer"
} as const

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/

/** The custom resource whose `.status` is written. */
export const Target = Schema.Struct({
  group: Schema.NonEmptyString,
  version: Schema.NonEmptyString,
  plural: Schema.NonEmptyString,
  kind: Schema.NonEmptyString,
  namespace: Schema.String,
  name: Schema.String
})
export type Target = typeof Target.Type

/** Checks a name as the API server would (DNS-1123 subdomain for objects, label for namespaces). */
export const validateName = (field: string, value: string, kind: "subdomain" | "label") => {
  const max = kind === "label" ? 63 : 253
  const pattern = kind === "label" ? DNS1123_LABEL : DNS1123_SUBDOMAIN
  if (value === "")
    return Effect.fail(
      new InvalidTargetError({
        field,
        message: `${field} is empty; set it to the object's ${kind === "label" ? "namespace" : "name"}`
      })
    )
  if (value.length > max || !pattern.test(value))
    return Effect.fail(
      new InvalidTargetError({
        field,
        message: `${field}=${JSON.stringify(value)} is not a valid DNS-1123 ${kind}: use at most ${max} lowercase letters, digits and '-'${kind === "subdomain" ? " or '.'" : ""}, starting and ending with a letter or digit`
      })
    )
  return Effect.succeed(value)
}

/** Target options: everything defaults to toolhive's `VirtualMCPServer` and the environment. */
export interface TargetOptions {
  readonly group?: string
  readonly version?: string
  readonly plural?: string
  readonly kind?: string
  /** Default: `VMCP_NAMESPACE`, else the pod's namespace file in a cluster. */
  readonly namespace?: string
  /** Default: `VMCP_NAME`. */
  readonly name?: string
}

/**
 * Resolves and validates the target: explicit options first, then `VMCP_NAME` /
 * `VMCP_NAMESPACE` from `env`, then `podNamespace` (the service account's namespace file).
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import { resolveTarget } from "@vmcp-status/k8s"
 *
 * Effect.runSync(resolveTarget({}, { VMCP_NAME: "my-vmcp", VMCP_NAMESPACE: "tools" }))
 * // { group: "toolhive.stacklok.dev", version: "v1beta1", plural: "virtualmcpservers", kind: "VirtualMCPServer", namespace: "tools", name: "my-vmcp" }
 * ```
 */
export const resolveTarget = (
  options: TargetOptions,
  env: Readonly<Record<string, string | undefined>>,
  podNamespace?: string
) =>
  Effect.gen(function* () {
    const nameSource = options.name !== undefined ? "name" : "VMCP_NAME"
    const name = options.name ?? env.VMCP_NAME
    if (name === undefined)
      return yield* new InvalidTargetError({
        field: "VMCP_NAME",
        message:
          "VMCP_NAME is not set: set it (or the `name` option) to the name of the VirtualMCPServer object"
      })
    const namespaceSource =
      options.namespace !== undefined
        ? "namespace"
        : env.VMCP_NAMESPACE !== undefined
          ? "VMCP_NAMESPACE"
          : "pod namespace"
    const namespace = options.namespace ?? env.VMCP_NAMESPACE ?? podNamespace
    if (namespace === undefined)
      return yield* new InvalidTargetError({
        field: "VMCP_NAMESPACE",
        message:
          "VMCP_NAMESPACE is not set and no pod namespace is known: set it (or the `namespace` option) to the object's namespace"
      })
    const target: Target = {
      group: options.group ?? ToolhiveVirtualMcpServer.group,
      version: options.version ?? ToolhiveVirtualMcpServer.version,
      plural: options.plural ?? ToolhiveVirtualMcpServer.plural,
      kind: options.kind ?? ToolhiveVirtualMcpServer.kind,
      namespace: yield* validateName(namespaceSource, namespace, "label"),
      name: yield* validateName(nameSource, name, "subdomain")
    }
    yield* validateName("plural", target.plural, "label")
    yield* validateName("group", target.group, "subdomain")
    return target
  })

/** `/apis/<group>/<version>/namespaces/<ns>/<plural>/<name>` */
export const objectPath = (target: Target): string =>
  `/apis/${target.group}/${target.version}/namespaces/${target.namespace}/${target.plural}/${target.name}`

/** The CRD's name: `<plural>.<group>`. */
export const crdName = (target: Pick<Target, "plural" | "group">): string =>
  `${target.plural}.${target.group}`
