/** Defaults of `vmcp manifests`, in one place. */
export const ManifestDefaults = {
  image: "ghcr.io/vmcp-status/vmcp:0.1.0",
  replicas: 1,
  /** Where the ConfigMap is mounted and the file the container reads. */
  configDir: "/etc/vmcp",
  configFile: "vmcp.yaml",
  /** A non-root uid/gid (distroless "nonroot"). */
  uid: 65532,
  /** The pod gets this long after SIGTERM; the app exits within 10 s. */
  terminationGracePeriodSeconds: 15
} as const
