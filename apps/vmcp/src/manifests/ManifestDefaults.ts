// The bundler inlines these at build time, as with `VERSION`: one definition, in package.json.
import { config } from "../../package.json"
import { VERSION } from "../Version.ts"

/** Defaults of `vmcp manifests`, in one place. */
export const ManifestDefaults = {
  /**
   * The image `pnpm image` builds for this version: the repository is `config.image` of the app's
   * package.json, the tag its `version`.
   */
  image: `${config.image}:${VERSION}`,
  replicas: 1,
  /** Where the ConfigMap is mounted and the file the container reads. */
  configDir: "/etc/vmcp",
  configFile: "vmcp.yaml",
  /** The container's and the Service's port names: MCP clients use `mcp`, probes and Prometheus `admin`. */
  portNames: { mcp: "mcp", admin: "admin" },
  /**
   * With `auth.mode: none` in the config, the Deployment serves bearer tokens of this Secret
   * (`<name>-tokens`, key `token`; created by the user, never printed), mounted at `tokenDir`.
   */
  tokenSecretSuffix: "-tokens",
  tokenKey: "token",
  tokenDir: "/etc/vmcp/tokens",
  /** Where the generated Secret (token files copied from the config) is mounted. */
  secretDir: "/etc/vmcp/secrets",
  /** The NetworkPolicy admits the admin port from Prometheus pods of this namespace only. */
  monitoringNamespace: { "kubernetes.io/metadata.name": "monitoring" },
  prometheusPods: { "app.kubernetes.io/name": "prometheus" },
  /** MCP clients the NetworkPolicy admits to the MCP port: pods with this label in any namespace. */
  clientLabel: { "vmcp-status.io/mcp-client": "true" },
  /** A non-root uid/gid (distroless "nonroot"). */
  uid: 65532,
  /** The pod gets this long after SIGTERM; the app exits within 10 s. */
  terminationGracePeriodSeconds: 15,
  /*
   * Memory, measured on Node 24 with the image's code-split bundle (`vmcp serve`, VmRSS of the
   * vmcp process alone; stdio backends are processes of their own, ~90 MiB each for a `node`
   * backend, and count against the container's limit too). Idle: examples/vmcp.yaml; load: 2 000
   * tools/call through one Streamable HTTP backend (apps/vmcp/scripts/measure-calls.ts):
   *
   *   NODE_OPTIONS                                      idle     16 concurrent  64 concurrent
   *   --max-semi-space-size=1                           91 MiB   167-194 MiB    187-195 MiB
   *   --max-semi-space-size=2                           81-94    184            190
   *   --max-semi-space-size=16                          102      209            221
   *   --max-semi-space-size=2 --max-old-space-size=384  94       120-121        126-132
   *
   * The young generation stays at 2 MiB per semi-space (1 saves nothing measurable and scavenges
   * twice as often). The old generation is capped at 384 MiB, 3/4 of the limit: V8 then collects
   * sooner (the load peak drops by ~60 MiB), a heap past it fails with "heap out of memory" in the
   * log instead of a silent OOM kill, and the rest of the limit holds code, the young generation
   * and socket buffers. The request covers the load peak (~130 MiB) plus ~20 %; the limit covers
   * bench's 1 000-backend reporting stack (281 MB) with headroom.
   */
  resources: {
    requests: { cpu: "50m", memory: "160Mi" },
    limits: { memory: "512Mi" }
  },
  /** Young generation 2 MiB per semi-space, old generation 3/4 of the memory limit (measured above). */
  nodeOptions: "--max-semi-space-size=2 --max-old-space-size=384",
  /**
   * With more than one replica the Service pins each client IP to one pod for this long after
   * its last packet (the Kubernetes default, 3 h): a 2025-era MCP session lives in one replica.
   */
  sessionAffinityTimeoutSeconds: 10_800
} as const
