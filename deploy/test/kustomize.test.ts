import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { parseYamlDocuments } from "@vmcp-status/testkit"
import { describe, expect, it } from "vitest"
import { BaseDefaults, generatedFiles, KUSTOMIZE_DIR } from "../scripts/generate.ts"
import type { Manifest } from "./support/apply.ts"
import { componentsSupported, kubectl, kustomize, overlay } from "./support/kustomize.ts"

// The same files on a real API server: deploy/test/manifests.test.ts (one file, so that its
// "fresh server" holds: files run in parallel against one API server).

const filesUnder = (dir: string, prefix = ""): ReadonlyArray<string> =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? filesUnder(join(dir, entry.name), `${prefix}${entry.name}/`)
      : [`${prefix}${entry.name}`]
  )

describe("the Kustomize files under deploy/kustomize", () => {
  it("are exactly what deploy/scripts/generate.ts writes (run `pnpm --filter @vmcp-status/deploy generate`)", () => {
    const generated = generatedFiles()
    expect([...filesUnder(KUSTOMIZE_DIR)].sort()).toEqual([...generated.keys()].sort())
    for (const [path, text] of generated)
      expect(readFileSync(join(KUSTOMIZE_DIR, path), "utf8"), `deploy/kustomize/${path}`).toBe(text)
  })

  it("base: one file per kind, the documented name, namespace and default image", () => {
    const files = generatedFiles()
    const deployment = parseYamlDocuments(files.get("base/deployment.yaml")!)[0] as {
      metadata: { name: string; namespace: string }
      spec: { template: { spec: { containers: Array<{ image: string }> } } }
    }
    expect(deployment.metadata).toMatchObject(BaseDefaults)
    expect(deployment.spec.template.spec.containers[0]!.image).toMatch(
      /^ghcr\.io\/vmcp-status\/vmcp:\d+\.\d+\.\d+/
    )
  })

  it("monitoring: a ServiceMonitor whose selector and port name match the base's Service", () => {
    const files = generatedFiles()
    const service = parseYamlDocuments(files.get("base/service.yaml")!)[0] as Manifest & {
      spec: { ports: Array<{ name: string }> }
    }
    const monitor = parseYamlDocuments(
      files.get("components/monitoring/servicemonitor.yaml")!
    )[0] as Manifest & {
      spec: {
        selector: { matchLabels: Record<string, string> }
        endpoints: Array<{ port: string; path: string }>
      }
    }
    expect(monitor.apiVersion).toBe("monitoring.coreos.com/v1")
    expect(monitor.kind).toBe("ServiceMonitor")
    expect(service.metadata.labels).toMatchObject(monitor.spec.selector.matchLabels)
    expect(Object.keys(monitor.spec.selector.matchLabels).length).toBeGreaterThan(0)
    for (const endpoint of monitor.spec.endpoints) {
      expect(service.spec.ports.map((p) => p.name)).toContain(endpoint.port)
      expect(endpoint.path).toBe("/metrics")
    }
  })
})

describe.skipIf("missing" in kubectl)("kubectl kustomize", () => {
  it("builds the base: the objects of `vmcp manifests --with-object` in namespace vmcp", async () => {
    const objects = await kustomize(join(KUSTOMIZE_DIR, "base"))
    expect(objects.map((o) => o.kind).sort()).toEqual(
      [
        "ConfigMap",
        "Deployment",
        "Role",
        "RoleBinding",
        "Service",
        "ServiceAccount",
        "VirtualMCPServer"
      ].sort()
    )
    for (const o of objects) expect(o.metadata).toMatchObject({ name: "vmcp", namespace: "vmcp" })
    expect((await kustomize(join(KUSTOMIZE_DIR, "crd"))).map((o) => o.kind)).toEqual([
      "CustomResourceDefinition"
    ])
  })

  it.skipIf(!componentsSupported)("builds the base with both components into another namespace", async () => {
    const objects = await kustomize(overlay("tools", ["monitoring", "network-policy"]))
    expect(objects.map((o) => o.kind)).toEqual(expect.arrayContaining(["ServiceMonitor", "NetworkPolicy"]))
    for (const o of objects) expect(o.metadata.namespace).toBe("tools")
    const binding = objects.find((o) => o.kind === "RoleBinding") as Manifest & {
      subjects: Array<{ namespace: string }>
    }
    expect(binding.subjects[0]!.namespace).toBe("tools")
  })
})
