import { Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import { crdName, minimalRules, objectPath, resolveTarget, ToolhiveVirtualMcpServer } from "../src/index.ts"

const run = (...args: Parameters<typeof resolveTarget>) => Effect.runSyncExit(resolveTarget(...args))

describe("resolveTarget", () => {
  it("defaults to toolhive's VirtualMCPServer named by VMCP_NAME / VMCP_NAMESPACE", () => {
    const target = Effect.runSync(resolveTarget({}, { VMCP_NAME: "my-vmcp", VMCP_NAMESPACE: "tools" }))
    expect(target).toEqual({ ...ToolhiveVirtualMcpServer, namespace: "tools", name: "my-vmcp" })
    expect(objectPath(target)).toBe(
      "/apis/toolhive.stacklok.dev/v1beta1/namespaces/tools/virtualmcpservers/my-vmcp"
    )
    expect(crdName(target)).toBe("virtualmcpservers.toolhive.stacklok.dev")
  })

  it("prefers options, then the environment, then the pod namespace", () => {
    const target = Effect.runSync(resolveTarget({ name: "x" }, { VMCP_NAME: "ignored" }, "pod-ns"))
    expect([target.name, target.namespace]).toEqual(["x", "pod-ns"])
  })

  it.each([
    [{}, {}, "VMCP_NAME", "VMCP_NAME is not set"],
    [{}, { VMCP_NAME: "ok" }, "VMCP_NAMESPACE", "VMCP_NAMESPACE is not set"],
    [{}, { VMCP_NAME: "My_VMCP", VMCP_NAMESPACE: "ns" }, "VMCP_NAME", "is not a valid DNS-1123 subdomain"],
    [{}, { VMCP_NAME: "ok", VMCP_NAMESPACE: "a.b" }, "VMCP_NAMESPACE", "is not a valid DNS-1123 label"],
    [{}, { VMCP_NAME: "a".repeat(254), VMCP_NAMESPACE: "ns" }, "VMCP_NAME", "at most 253"],
    [{ name: "-x" }, { VMCP_NAMESPACE: "ns" }, "name", "starting and ending with a letter or digit"],
    [{ plural: "Things" }, { VMCP_NAME: "ok", VMCP_NAMESPACE: "ns" }, "plural", "DNS-1123 label"]
  ])("rejects %o with %o, naming %s", (options, env, field, fragment) => {
    const exit = run(options, env)
    expect(Exit.isFailure(exit)).toBe(true)
    if (Exit.isFailure(exit)) {
      const error = exit.cause.toJSON() as unknown
      expect(JSON.stringify(error)).toContain(field)
      expect(JSON.stringify(error)).toContain(fragment)
    }
  })
})

describe("minimalRules", () => {
  const target = { group: "toolhive.stacklok.dev", plural: "virtualmcpservers", name: "my-vmcp" }
  it("limits the object rules to the one object", () => {
    expect(minimalRules(target, { events: false })).toEqual([
      {
        apiGroups: ["toolhive.stacklok.dev"],
        resources: ["virtualmcpservers"],
        verbs: ["get"],
        resourceNames: ["my-vmcp"]
      },
      {
        apiGroups: ["toolhive.stacklok.dev"],
        resources: ["virtualmcpservers/status"],
        verbs: ["patch"],
        resourceNames: ["my-vmcp"]
      }
    ])
  })
  it("adds Events by default and Lease rules only with leader election", () => {
    const plain = minimalRules(target)
    expect(plain.map((r) => r.resources[0])).toEqual([
      "virtualmcpservers",
      "virtualmcpservers/status",
      "events"
    ])
    const leader = minimalRules(target, { leaderElection: true })
    expect(leader.filter((r) => r.resources[0] === "leases")).toEqual([
      {
        apiGroups: ["coordination.k8s.io"],
        resources: ["leases"],
        verbs: ["get", "update"],
        resourceNames: ["my-vmcp-status"]
      },
      { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create"] }
    ])
  })
})
