import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { minimalRules, ToolhiveVirtualMcpServer } from "@vmcp-status/k8s"
import YAML from "yaml"
import type { VmcpConfig } from "./Config.ts"
import { Paths } from "./HttpServer.ts"
import { ManifestDefaults } from "./ManifestDefaults.ts"

export { ManifestDefaults } from "./ManifestDefaults.ts"

/** Options of `makeManifests`. */
export interface ManifestOptions {
  /** The VirtualMCPServer's name: also the name of every generated object. */
  readonly name: string
  readonly namespace: string
  /** More than 1 turns on leader election (and its Lease rules). */
  readonly replicas?: number
  readonly image?: string
  /**
   * Add the VirtualMCPServer object (standalone use, no toolhive operator). Its CRD is not in
   * this list: it must be Established before the object can be applied (`loadCrd`, `vmcp
   * manifests crd`).
   */
  readonly withObject?: boolean
  /** The app's config: written into the ConfigMap (its `listen.host` becomes `0.0.0.0`). */
  readonly config: VmcpConfig
  /** The YAML text the config came from, kept as written (comments included) when given. */
  readonly configText?: string
}

/** A Kubernetes object as plain data. */
export type Manifest = Record<string, unknown> & {
  readonly apiVersion: string
  readonly kind: string
  readonly metadata: {
    readonly name: string
    readonly namespace?: string
    readonly labels?: Record<string, string>
  }
}

/**
 * The CRD shipped with `@vmcp-status/k8s` (its `crd/virtualmcpservers.yaml`), parsed.
 *
 * @example
 * ```ts
 * import { loadCrd } from "@vmcp-status/vmcp"
 *
 * loadCrd().metadata.name // "virtualmcpservers.toolhive.stacklok.dev"
 * ```
 */
export const loadCrd = (): Manifest => {
  const require = createRequire(import.meta.url)
  const root = dirname(require.resolve("@vmcp-status/k8s/package.json"))
  return YAML.parse(readFileSync(join(root, "crd", "virtualmcpservers.yaml"), "utf8")) as Manifest
}

const configForCluster = (options: ManifestOptions): string => {
  const doc = YAML.parseDocument(options.configText ?? YAML.stringify(options.config))
  // In a pod the Service reaches the container through its pod IP, not loopback.
  doc.setIn(["listen", "host"], "0.0.0.0")
  if ((options.replicas ?? 1) > 1) doc.setIn(["status", "k8s", "leaderElection"], true)
  return doc.toString()
}

/**
 * Every object `vmcp` needs in a cluster: ServiceAccount; Role and RoleBinding with the least
 * privilege (`minimalRules` of `@vmcp-status/k8s`: `get` on the one VirtualMCPServer and
 * `patch` on its `/status` by `resourceNames`, Events `create,patch`, Lease verbs only with
 * leader election); ConfigMap; Deployment (non-root, read-only root filesystem, requests,
 * probes, `VMCP_NAME`/`VMCP_NAMESPACE`); Service (with client-IP session affinity when
 * `replicas` > 1: a 2025-era MCP session lives in one replica); with `withObject` also the
 * VirtualMCPServer object. The CRD is separate (`loadCrd`): apply it and wait until it is
 * Established first.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { decodeConfig, makeManifests } from "@vmcp-status/vmcp"
 *
 * const config = Effect.runSync(decodeConfig({}, "inline"))
 * const objects = makeManifests({ name: "my-vmcp", namespace: "tools", config })
 * ```
 */
export const makeManifests = (options: ManifestOptions): ReadonlyArray<Manifest> => {
  const { name, namespace } = options
  const replicas = options.replicas ?? ManifestDefaults.replicas
  const leaderElection = replicas > 1 || options.config.status.k8s.leaderElection
  const labels = { "app.kubernetes.io/name": "vmcp", "app.kubernetes.io/instance": name }
  const metadata = { name, namespace, labels }
  const port = options.config.listen.port
  const target = { ...ToolhiveVirtualMcpServer, name }
  const objects: Array<Manifest> = []

  objects.push(
    { apiVersion: "v1", kind: "ServiceAccount", metadata },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata,
      rules: minimalRules(target, { leaderElection })
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata,
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
      subjects: [{ kind: "ServiceAccount", name, namespace }]
    },
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata,
      data: { [ManifestDefaults.configFile]: configForCluster(options) }
    },
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata,
      spec: {
        replicas,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: name,
            terminationGracePeriodSeconds: ManifestDefaults.terminationGracePeriodSeconds,
            securityContext: {
              runAsNonRoot: true,
              runAsUser: ManifestDefaults.uid,
              runAsGroup: ManifestDefaults.uid,
              fsGroup: ManifestDefaults.uid,
              seccompProfile: { type: "RuntimeDefault" }
            },
            containers: [
              {
                name: "vmcp",
                image: options.image ?? ManifestDefaults.image,
                args: ["serve", "--config", `${ManifestDefaults.configDir}/${ManifestDefaults.configFile}`],
                ports: [{ name: "http", containerPort: port, protocol: "TCP" }],
                env: [
                  // The object's name, not the pod's: every replica reports on the same object.
                  { name: "VMCP_NAME", value: name },
                  { name: "VMCP_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
                  { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
                  { name: "NODE_OPTIONS", value: ManifestDefaults.nodeOptions }
                ],
                resources: ManifestDefaults.resources,
                securityContext: {
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  runAsNonRoot: true,
                  capabilities: { drop: ["ALL"] }
                },
                livenessProbe: {
                  httpGet: { path: Paths.healthz, port: "http" },
                  periodSeconds: 10,
                  failureThreshold: 3
                },
                readinessProbe: {
                  httpGet: { path: Paths.readyz, port: "http" },
                  periodSeconds: 5,
                  failureThreshold: 1
                },
                volumeMounts: [
                  { name: "config", mountPath: ManifestDefaults.configDir, readOnly: true },
                  { name: "tmp", mountPath: "/tmp" }
                ]
              }
            ],
            volumes: [
              { name: "config", configMap: { name } },
              { name: "tmp", emptyDir: {} }
            ]
          }
        }
      }
    },
    {
      apiVersion: "v1",
      kind: "Service",
      metadata,
      spec: {
        type: "ClusterIP",
        selector: labels,
        ports: [{ name: "http", port, targetPort: "http", protocol: "TCP" }],
        // kube-proxy round-robins per connection; a 2025-era client's `Mcp-Session-Id` is known
        // to one replica only. 2026-07 clients are stateless and would not need it.
        ...(replicas > 1
          ? {
              sessionAffinity: "ClientIP",
              sessionAffinityConfig: {
                clientIP: { timeoutSeconds: ManifestDefaults.sessionAffinityTimeoutSeconds }
              }
            }
          : {})
      }
    }
  )
  if (options.withObject === true)
    objects.push({
      apiVersion: `${target.group}/${target.version}`,
      kind: target.kind,
      metadata,
      spec: {}
    })
  return objects
}

/**
 * The objects as one multi-document YAML stream, for `kubectl apply -f -`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { decodeConfig, makeManifests, manifestsYaml } from "@vmcp-status/vmcp"
 *
 * const config = Effect.runSync(decodeConfig({}, "inline"))
 * process.stdout.write(manifestsYaml(makeManifests({ name: "my-vmcp", namespace: "tools", config })))
 * ```
 */
export const manifestsYaml = (objects: ReadonlyArray<Manifest>): string =>
  // No anchors: the labels are one object in memory, but a reader expects them spelt out.
  objects.map((o) => YAML.stringify(o, { lineWidth: 0, aliasDuplicateObjects: false })).join("---\n")
