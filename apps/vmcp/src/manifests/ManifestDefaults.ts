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
   * Memory, measured on Node 24 (`vmcp serve` with examples/vmcp.yaml, VmRSS of the vmcp process
   * alone; its stdio backends are processes of their own, ~90 MiB each for a `node` backend, and
   * count against the container's limit too):
   *
   *                                   default   --max-semi-space-size=2
   *   Ready                           127 MiB   113 MiB
   *   idle, 1 min later               134 MiB   114 MiB
   *   3 000 calls by 20 clients       250 MiB   161 MiB
   *
   * With the default young generation V8 lets each semi-space grow to 16+ MiB under call load;
   * capped at 2 MiB the load peak is ~90 MiB lower, so the Deployment sets it (`nodeOptions`).
   * bench's reporting stack with 1 000 backends peaks at 281 MB. The request covers a loaded
   * gateway with a handful of HTTP backends (161 MiB + ~20 %); the limit covers the 1 000-backend
   * figure with ~80 % headroom, so an OOM kill means a leak, not a large config.
   */
  resources: {
    requests: { cpu: "50m", memory: "192Mi" },
    limits: { memory: "512Mi" }
  },
  /** Keeps the young generation small: measured above, ~90 MiB less RSS under call load. */
  nodeOptions: "--max-semi-space-size=2",
  /**
   * With more than one replica the Service pins each client IP to one pod for this long after
   * its last packet (the Kubernetes default, 3 h): a 2025-era MCP session lives in one replica.
   */
  sessionAffinityTimeoutSeconds: 10_800
} as const
