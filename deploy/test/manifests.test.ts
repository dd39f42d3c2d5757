import { join } from "node:path"
import { eventually, parseYamlDocuments } from "@vmcp-status/testkit"
import { describeWithKube } from "@vmcp-status/testkit/vitest"
import { expect, it } from "vitest"
import { KUSTOMIZE_DIR } from "../scripts/generate.ts"
import { type Manifest, objectPath, runVmcp, serverSideApply } from "./support/apply.ts"
import { componentsSupported, kubectl, kustomize, overlay } from "./support/kustomize.ts"

type Crd = Manifest & {
  status?: { conditions?: ReadonlyArray<{ type: string; status: string }> }
}

// Every test of this folder that installs the CRD is in this file: they run in order, and the
// first one finds the server without it.
describeWithKube("vmcp manifests in two steps on a fresh API server", (kube) => {
  it("applies the CRD, waits until it is Established, then applies every other object", async () => {
    const [crd, ...more] = parseYamlDocuments(await runVmcp(["manifests", "crd"])) as ReadonlyArray<Crd>
    expect(more).toEqual([])
    expect(crd?.kind).toBe("CustomResourceDefinition")
    // Fresh: the API server does not know the CRD yet.
    expect((await kube.admin.request({ method: "GET", path: objectPath(crd!) })).status).toBe(404)

    await serverSideApply(kube.admin, crd!)
    await eventually("the CRD's Established condition", async () => {
      const res = await kube.admin.request({ method: "GET", path: objectPath(crd!) })
      const established = (res.body as Crd).status?.conditions?.find((c) => c.type === "Established")
      return established?.status === "True" ? established : undefined
    })

    const namespace = await kube.namespace("two-step")
    const rest = parseYamlDocuments(
      await runVmcp([
        "manifests",
        "--name",
        "vmcp",
        "--namespace",
        namespace,
        "--replicas",
        "2",
        "--with-object"
      ])
    ) as ReadonlyArray<Manifest>
    expect(rest.map((o) => o.kind)).toEqual([
      "ServiceAccount",
      "Role",
      "RoleBinding",
      "ConfigMap",
      "Deployment",
      "Service",
      "VirtualMCPServer"
    ])
    for (const object of rest) await serverSideApply(kube.admin, object)
    for (const object of rest) {
      const res = await kube.admin.request({ method: "GET", path: objectPath(object) })
      expect(`${object.kind} ${res.status}`).toBe(`${object.kind} 200`)
    }
    const service = (await kube.admin.request({ method: "GET", path: objectPath(rest[5]!) })).body as {
      spec: { sessionAffinity: string; sessionAffinityConfig: { clientIP: { timeoutSeconds: number } } }
    }
    expect(service.spec.sessionAffinity).toBe("ClientIP")
    expect(service.spec.sessionAffinityConfig.clientIP.timeoutSeconds).toBe(10_800)
  })

  it.skipIf("missing" in kubectl || !componentsSupported)(
    "creates every object of crd/ then base/ with the network-policy component",
    async () => {
      const [crd] = (await kustomize(join(KUSTOMIZE_DIR, "crd"))) as ReadonlyArray<
        Manifest & { status?: { conditions?: Array<{ type: string; status: string }> } }
      >
      await serverSideApply(kube.admin, crd!)
      await eventually("the CRD's Established condition", async () => {
        const res = await kube.admin.request({ method: "GET", path: objectPath(crd!) })
        const conditions = (res.body as typeof crd)?.status?.conditions ?? []
        return conditions.some((c) => c.type === "Established" && c.status === "True") ? true : undefined
      })
      const namespace = await kube.namespace("kustomize")
      const objects = await kustomize(overlay(namespace, ["network-policy"]))
      expect(objects.map((o) => o.kind)).toContain("NetworkPolicy")
      for (const object of objects) await serverSideApply(kube.admin, object)
      for (const object of objects) {
        const res = await kube.admin.request({ method: "GET", path: objectPath(object) })
        expect(`${object.kind} ${res.status}`).toBe(`${object.kind} 200`)
      }
    }
  )
})
