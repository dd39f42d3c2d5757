/** `kubectl kustomize` for the tests, and whether this kubectl can build what we ship. */
import { execFile, execFileSync } from "node:child_process"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, relative } from "node:path"
import { promisify } from "node:util"
import { parseYamlDocuments } from "@vmcp-status/testkit"
import { KUSTOMIZE_DIR } from "../../scripts/generate.ts"
import type { Manifest } from "./apply.ts"

/** kubectl's version line, or why the kustomize tests skip (outside CI only). */
export const kubectl = ((): { readonly kustomize: string } | { readonly missing: string } => {
  try {
    const out = execFileSync("kubectl", ["version", "--client"], { encoding: "utf8" })
    return { kustomize: /Kustomize Version: (v[\d.]+)/.exec(out)?.[1] ?? "v0" }
  } catch (error) {
    const missing = `kubectl not found (${(error as Error).message}): apt-get install kubernetes-client`
    if (process.env.CI) throw new Error(missing)
    return { missing }
  }
})()
if ("missing" in kubectl) process.stderr.write(`skipping the kustomize build tests: ${kubectl.missing}\n`)
// Components (kind: Component) came with kustomize v3.7; Debian's kubectl 1.20 has v2.0.3.
const [major = 0, minor = 0] = ("kustomize" in kubectl ? kubectl.kustomize : "v0")
  .slice(1)
  .split(".")
  .map(Number)
export const componentsSupported = major > 3 || (major === 3 && minor >= 7)

export const kustomize = async (dir: string): Promise<ReadonlyArray<Manifest>> =>
  parseYamlDocuments(
    (await promisify(execFile)("kubectl", ["kustomize", dir], { maxBuffer: 16 * 1024 * 1024 })).stdout
  ) as ReadonlyArray<Manifest>

/** An overlay in a temporary directory: the base in `namespace`, with the given components. */
export const overlay = (namespace: string, components: ReadonlyArray<string>) => {
  const dir = mkdtempSync(join(tmpdir(), "vmcp-overlay-"))
  const rel = (path: string) => relative(dir, join(KUSTOMIZE_DIR, path))
  writeFileSync(
    join(dir, "kustomization.yaml"),
    [
      "apiVersion: kustomize.config.k8s.io/v1beta1",
      "kind: Kustomization",
      `namespace: ${namespace}`,
      `resources: [${rel("base")}]`,
      ...(components.length > 0
        ? [`components: [${components.map((c) => rel(`components/${c}`)).join(", ")}]`]
        : [])
    ].join("\n")
  )
  return dir
}
