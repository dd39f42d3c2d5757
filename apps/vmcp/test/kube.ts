/** Helpers for the tests against the real API server from the testkit. */
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { kubeconfigYaml, type TestKubeClient } from "@vmcp-status/testkit"
import type { KubeTestEnv } from "@vmcp-status/testkit/vitest"

/** The API path of an object's collection, from its apiVersion and kind. */
export const collectionPath = (object: { apiVersion: string; kind: string }, namespace: string): string => {
  const plural = `${object.kind.toLowerCase()}s`
  const base = object.apiVersion.includes("/") ? `/apis/${object.apiVersion}` : `/api/${object.apiVersion}`
  return `${base}/namespaces/${namespace}/${plural}`
}

/** `kubectl apply --server-side` of one namespaced object, as `client`. */
export const apply = async (
  client: TestKubeClient,
  object: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } },
  namespace: string
) => {
  const res = await client.request({
    method: "PATCH",
    path: `${collectionPath(object, namespace)}/${object.metadata.name}?fieldManager=test-apply&force=true`,
    body: object,
    contentType: "application/apply-patch+yaml"
  })
  if (res.status < 200 || res.status >= 300)
    throw new Error(`apply ${object.kind}/${object.metadata.name}: HTTP ${res.status}: ${res.text}`)
  return res
}

/** A kubeconfig file for one identity (token) on the test server. */
export const kubeconfigFile = (kube: KubeTestEnv, token: string, namespace?: string): string => {
  const dir = mkdtempSync(join(tmpdir(), "vmcp-kubeconfig-"))
  const file = join(dir, "kubeconfig")
  writeFileSync(
    file,
    kubeconfigYaml({
      server: kube.connection.url,
      ca: kube.connection.ca,
      token,
      ...(namespace === undefined ? {} : { namespace })
    })
  )
  return file
}

/** Bounded polling for another process's observable state (the testkit's). */
export { eventually } from "@vmcp-status/testkit"
