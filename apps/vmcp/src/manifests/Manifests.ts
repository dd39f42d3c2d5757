import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { minimalRules, ToolhiveVirtualMcpServer } from "@vmcp-status/k8s"
import YAML from "yaml"
import { adminListen, envReferences, type VmcpConfig } from "../Config.ts"
import { Paths } from "../server/Paths.ts"
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
  /**
   * The contents of the config's `auth.bearer.tokenFiles`, read where the manifests are made:
   * they go to the Secret, mounted where the ConfigMap's config then points.
   */
  readonly tokenFileContents?: ReadonlyArray<string>
  /** Also emit the NetworkPolicy (`makeNetworkPolicy`). */
  readonly withNetworkPolicy?: boolean
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

/** `VMCP_SECRET_<BACKEND>_<HEADER|ENV>_<KEY>`: the variable a literal secret becomes. */
const secretVariable = (backend: string, field: "headers" | "env", key: string) =>
  `VMCP_SECRET_${backend}_${field === "headers" ? "HEADER" : "ENV"}_${key}`
    .toUpperCase()
    .replace(/[^A-Z0-9_]/g, "_")

/** The config as the pod reads it, and what must go to the Secret instead of the ConfigMap. */
interface ClusterConfig {
  readonly text: string
  /** Secret keys → values: literal header and env values, token file contents. */
  readonly secretData: Record<string, string>
  /** Secret keys the container gets as environment variables (the config names them as `${VAR}`). */
  readonly secretEnv: ReadonlyArray<string>
  /** Secret keys mounted as token files under `secretDir`. */
  readonly tokenKeys: ReadonlyArray<string>
  /** The user's token Secret is mounted at `tokenDir` (the config had `auth.mode: none`). */
  readonly userTokenSecret: boolean
}

const configForCluster = (options: ManifestOptions): ClusterConfig => {
  const { config } = options
  const doc = YAML.parseDocument(options.configText ?? YAML.stringify(config))
  // In a pod the Service reaches the container through its pod IP, not loopback; kubelet and
  // Prometheus reach the admin port the same way.
  doc.setIn(["listen", "host"], "0.0.0.0")
  doc.setIn(["listen", "admin", "host"], "0.0.0.0")
  if ((options.replicas ?? 1) > 1) doc.setIn(["status", "k8s", "leaderElection"], true)

  const secretData: Record<string, string> = {}
  const secretEnv: Array<string> = []
  for (const [i, backend] of config.backends.entries())
    for (const field of ["headers", "env"] as const)
      for (const [key, value] of Object.entries(backend[field])) {
        // `${VAR}` values are already out of the file; a literal one moves to the Secret.
        if (value === "" || envReferences(value).length > 0) continue
        let variable = secretVariable(backend.name, field, key)
        while (variable in secretData) variable = `${variable}_`
        secretData[variable] = value
        secretEnv.push(variable)
        doc.setIn(["backends", i, field, key], `\${${variable}}`)
      }

  const tokenKeys: Array<string> = []
  let userTokenSecret = false
  if (config.auth.mode === "none" && !config.auth.allowUnauthenticated) {
    // Never `none` beyond loopback by accident: bearer tokens of a Secret the user creates.
    doc.setIn(
      ["auth"],
      doc.createNode({
        mode: "bearer",
        bearer: { tokenFiles: [`${ManifestDefaults.tokenDir}/${ManifestDefaults.tokenKey}`] }
      })
    )
    userTokenSecret = true
  } else if (config.auth.mode === "bearer" && options.tokenFileContents !== undefined)
    for (const [i, contents] of options.tokenFileContents.entries()) {
      const key = `bearer-token-${i}`
      secretData[key] = contents
      tokenKeys.push(key)
      doc.setIn(["auth", "bearer", "tokenFiles", i], `${ManifestDefaults.secretDir}/${key}`)
    }
  return { text: doc.toString(), secretData, secretEnv, tokenKeys, userTokenSecret }
}

/**
 * The NetworkPolicy for the pods of `makeManifests`: the MCP port from pods labelled
 * `vmcp-status.io/mcp-client: "true"` in any namespace; the admin port (probes' `/healthz`,
 * `/readyz`, `/status`, `/metrics`) only from the Prometheus pods of the `monitoring` namespace.
 * kubelet's probes come from the node, which NetworkPolicy implementations admit.
 *
 * @example
 * ```ts
 * import { makeNetworkPolicy } from "@vmcp-status/vmcp"
 *
 * makeNetworkPolicy({ name: "vmcp", namespace: "tools" }).kind // "NetworkPolicy"
 * ```
 */
export const makeNetworkPolicy = (options: {
  readonly name: string
  readonly namespace: string
}): Manifest => {
  const labels = podLabels(options.name)
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: { name: options.name, namespace: options.namespace, labels },
    spec: {
      podSelector: { matchLabels: labels },
      policyTypes: ["Ingress"],
      ingress: [
        {
          // MCP clients: pods labelled as such, in any namespace.
          from: [{ namespaceSelector: {}, podSelector: { matchLabels: ManifestDefaults.clientLabel } }],
          ports: [{ protocol: "TCP", port: ManifestDefaults.portNames.mcp }]
        },
        {
          // The metrics scraper: Prometheus in its namespace; nothing else reaches /status or /metrics.
          from: [
            {
              namespaceSelector: { matchLabels: ManifestDefaults.monitoringNamespace },
              podSelector: { matchLabels: ManifestDefaults.prometheusPods }
            }
          ],
          ports: [{ protocol: "TCP", port: ManifestDefaults.portNames.admin }]
        }
      ]
    }
  }
}

const podLabels = (name: string) => ({ "app.kubernetes.io/name": "vmcp", "app.kubernetes.io/instance": name })

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
 * import * as Effect from "effect/Effect"
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
  const labels = podLabels(name)
  const metadata = { name, namespace, labels }
  const port = options.config.listen.port
  const adminPort = adminListen(options.config.listen).port
  const ports = ManifestDefaults.portNames
  const cluster = configForCluster(options)
  const hasSecret = Object.keys(cluster.secretData).length > 0
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
      data: { [ManifestDefaults.configFile]: cluster.text }
    },
    ...(hasSecret
      ? [{ apiVersion: "v1", kind: "Secret", metadata, type: "Opaque", stringData: cluster.secretData }]
      : []),
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
                ports: [
                  { name: ports.mcp, containerPort: port, protocol: "TCP" },
                  { name: ports.admin, containerPort: adminPort, protocol: "TCP" }
                ],
                env: [
                  // The object's name, not the pod's: every replica reports on the same object.
                  { name: "VMCP_NAME", value: name },
                  { name: "VMCP_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
                  { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
                  { name: "NODE_OPTIONS", value: ManifestDefaults.nodeOptions },
                  // Literal secrets of the config: the ConfigMap names them as ${VAR}.
                  ...cluster.secretEnv.map((key) => ({
                    name: key,
                    valueFrom: { secretKeyRef: { name, key } }
                  }))
                ],
                resources: ManifestDefaults.resources,
                securityContext: {
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  runAsNonRoot: true,
                  capabilities: { drop: ["ALL"] }
                },
                livenessProbe: {
                  httpGet: { path: Paths.healthz, port: ports.admin },
                  periodSeconds: 10,
                  failureThreshold: 3
                },
                readinessProbe: {
                  httpGet: { path: Paths.readyz, port: ports.admin },
                  periodSeconds: 5,
                  failureThreshold: 1
                },
                volumeMounts: [
                  { name: "config", mountPath: ManifestDefaults.configDir, readOnly: true },
                  ...(cluster.userTokenSecret
                    ? [{ name: "tokens", mountPath: ManifestDefaults.tokenDir, readOnly: true }]
                    : []),
                  ...(cluster.tokenKeys.length > 0
                    ? [{ name: "secrets", mountPath: ManifestDefaults.secretDir, readOnly: true }]
                    : []),
                  { name: "tmp", mountPath: "/tmp" }
                ]
              }
            ],
            volumes: [
              { name: "config", configMap: { name } },
              // Not optional: without the token Secret the pod waits rather than serve unauthenticated.
              ...(cluster.userTokenSecret
                ? [
                    {
                      name: "tokens",
                      secret: {
                        secretName: `${name}${ManifestDefaults.tokenSecretSuffix}`,
                        items: [{ key: ManifestDefaults.tokenKey, path: ManifestDefaults.tokenKey }]
                      }
                    }
                  ]
                : []),
              ...(cluster.tokenKeys.length > 0
                ? [
                    {
                      name: "secrets",
                      secret: {
                        secretName: name,
                        items: cluster.tokenKeys.map((key) => ({ key, path: key }))
                      }
                    }
                  ]
                : []),
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
        ports: [
          { name: ports.mcp, port, targetPort: ports.mcp, protocol: "TCP" },
          { name: ports.admin, port: adminPort, targetPort: ports.admin, protocol: "TCP" }
        ],
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
  if (options.withNetworkPolicy === true) objects.push(makeNetworkPolicy({ name, namespace }))
  return objects
}

/**
 * The objects as one multi-document YAML stream, for `kubectl apply -f -`.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import { decodeConfig, makeManifests, manifestsYaml } from "@vmcp-status/vmcp"
 *
 * const config = Effect.runSync(decodeConfig({}, "inline"))
 * process.stdout.write(manifestsYaml(makeManifests({ name: "my-vmcp", namespace: "tools", config })))
 * ```
 */
export const manifestsYaml = (objects: ReadonlyArray<Manifest>): string =>
  // No anchors: the labels are one object in memory, but a reader expects them spelt out.
  objects.map((o) => YAML.stringify(o, { lineWidth: 0, aliasDuplicateObjects: false })).join("---\n")
