import { VERSION } from "./Version.ts"

/** Defaults of `vmcp manifests`, in one place. */
export const ManifestDefaults = {
  /** The image of this version of the app. */
  image: `ghcr.io/vmcp-status/vmcp:${VERSION}`,
  replicas: 1,
  /** Where the ConfigMap is mounted and the file the container reads. */
  configDir: "/etc/vmcp",
  configFile: "vmcp.yaml",
  /** A non-root uid/gid (distroless "nonroot"). */
  uid: 65532,
  /** The pod gets this long after SIGTERM; the app exits within 10 s. */
  terminationGracePeriodSeconds: 15
} as const
