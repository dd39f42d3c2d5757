/** Server-side apply of plain manifests to the testkit's API server, and the CLI under test. */
import { execFile } from "node:child_process"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { promisify } from "node:util"
import type { TestKubeClient } from "@vmcp-status/testkit"
import type { Manifest } from "@vmcp-status/vmcp"

export type { Manifest } from "@vmcp-status/vmcp"

const plural = (kind: string) => {
  const lower = kind.toLowerCase()
  return lower.endsWith("y") ? `${lower.slice(0, -1)}ies` : `${lower}s`
}

/** The API path of one object (namespaced unless `metadata.namespace` is absent). */
export const objectPath = (object: Manifest): string => {
  const base = object.apiVersion.includes("/") ? `/apis/${object.apiVersion}` : `/api/${object.apiVersion}`
  const ns = object.metadata.namespace === undefined ? "" : `/namespaces/${object.metadata.namespace}`
  return `${base}${ns}/${plural(object.kind)}/${object.metadata.name}`
}

/** `kubectl apply --server-side` of one object; throws with the API server's answer otherwise. */
export const serverSideApply = async (client: TestKubeClient, object: Manifest) => {
  const res = await client.request({
    method: "PATCH",
    path: `${objectPath(object)}?fieldManager=deploy-test&force=true`,
    body: object,
    contentType: "application/apply-patch+yaml"
  })
  if (res.status < 200 || res.status >= 300)
    throw new Error(`apply ${object.kind}/${object.metadata.name}: HTTP ${res.status}: ${res.text}`)
  return res
}

/** The built `vmcp` CLI of @vmcp-status/vmcp (run `pnpm build` first). */
export const vmcpCli = join(
  dirname(createRequire(import.meta.url).resolve("@vmcp-status/vmcp/package.json")),
  "dist",
  "cli.js"
)

/** Runs `vmcp <args>` with this Node; resolves with its stdout, rejects on a non-zero exit. */
export const runVmcp = async (args: ReadonlyArray<string>): Promise<string> =>
  (await promisify(execFile)(process.execPath, [vmcpCli, ...args], { maxBuffer: 16 * 1024 * 1024 })).stdout
