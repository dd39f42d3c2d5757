import { accessSync, constants } from "node:fs"
import { homedir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { KubeAssetsMissingError } from "./Errors.ts"

/** The Kubernetes version the provisioning script builds. */
export const KUBE_VERSION = "v1.20.2"

/** The command that provisions the binaries, for messages. */
export const PROVISION_COMMAND = "bash scripts/provision-kube.sh"

/** Where the binaries were found. */
export interface KubeAssets {
  readonly directory: string
  readonly etcd: string
  readonly kubeApiServer: string
  /** Present when the folder holds it; needed for ServiceAccount token Secrets, namespace deletion and GC. */
  readonly kubeControllerManager: string | undefined
}

/**
 * The folder searched for binaries: `KUBE_ASSETS` (like envtest's `KUBEBUILDER_ASSETS`), else
 * `VMCP_KUBE_CACHE`, else `${XDG_CACHE_HOME:-~/.cache}/vmcp-status/kube/v1.20.2`.
 */
export const kubeAssetsDirectory = (env: NodeJS.ProcessEnv = process.env): string =>
  env.KUBE_ASSETS ||
  env.VMCP_KUBE_CACHE ||
  join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "vmcp-status", "kube", KUBE_VERSION)

const executable = (path: string) => {
  try {
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

/** Finds etcd and kube-apiserver (required) and kube-controller-manager (optional). */
export const findKubeAssets = (directory: string = kubeAssetsDirectory()): KubeAssets => {
  const etcd = join(directory, "etcd")
  const kubeApiServer = join(directory, "kube-apiserver")
  const kubeControllerManager = join(directory, "kube-controller-manager")
  const missing = [etcd, kubeApiServer]
    .filter((p) => !executable(p))
    .map((p) => p.slice(directory.length + 1))
  if (missing.length > 0) {
    throw new KubeAssetsMissingError({
      directory,
      missing,
      message: `${missing.join(" and ")} not found (or not executable) in ${directory}: run \`${PROVISION_COMMAND}\` to build them, or set KUBE_ASSETS to a folder holding etcd and kube-apiserver`
    })
  }
  return {
    directory,
    etcd,
    kubeApiServer,
    kubeControllerManager: executable(kubeControllerManager) ? kubeControllerManager : undefined
  }
}

/** `findKubeAssets` as an Effect. */
export const find = (directory?: string): Effect.Effect<KubeAssets, KubeAssetsMissingError> =>
  Effect.try({
    try: () => findKubeAssets(directory),
    catch: (error) => error as KubeAssetsMissingError
  })
