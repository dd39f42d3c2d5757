import { describe, expect, it } from "vitest"
import { KubeApiError } from "../src/Errors.ts"
import { explainForbidden } from "../src/internal/Forbidden.ts"
import {
  describeNotFound,
  droppedFields,
  undeclaredFields,
  withoutFields
} from "../src/internal/StatusApplier.ts"
import { toStatusPayload } from "../src/StatusMapping.ts"
import { ToolhiveVirtualMcpServer } from "../src/Target.ts"
import { backend, status } from "./fixtures.ts"

const target = { ...ToolhiveVirtualMcpServer, namespace: "tools", name: "my-vmcp" }

describe("undeclaredFields", () => {
  it.each([
    [
      "failed to create typed patch object: .status.lastDiscoveryTime: field not declared in schema",
      ["lastDiscoveryTime"]
    ],
    [
      'failed to create typed patch object: .status.discoveredBackends[name="a"].url: field not declared in schema',
      ["discoveredBackends[].url"]
    ],
    ["some other failure", []]
  ])("%s", (message, fields) => {
    expect(undeclaredFields(message)).toEqual(fields)
  })
})

describe("droppedFields: the unknown-field warnings of API servers with field validation", () => {
  it.each([
    [['unknown field "status.totalToolCount"'], ["totalToolCount"]],
    [['unknown field "status.discoveredBackends[0].url"'], ["discoveredBackends[].url"]],
    [
      ['unknown field "status.healthyBackends"', 'unknown field "status.unknownBackends"'],
      ["healthyBackends", "unknownBackends"]
    ],
    // Not ours to strip (spec, metadata), or not an unknown field at all.
    [['unknown field "spec.replicas"', 'duplicate field "status.phase"', "something else"], []]
  ])("%j", (warnings, fields) => {
    expect(droppedFields(warnings)).toEqual(fields)
  })
})

describe("withoutFields", () => {
  it("drops top-level keys and fields of list items", () => {
    const payload = toStatusPayload(status([backend("a", "healthy", { url: "https://a" })]), {
      mode: "runtime",
      includeUrls: true
    })
    const out = withoutFields(payload, new Set(["totalToolCount", "discoveredBackends[].url"]))
    expect(out).not.toHaveProperty("totalToolCount")
    expect(out.discoveredBackends[0]).not.toHaveProperty("url")
    expect(out.backendCount).toBe(1)
  })
})

describe("describeNotFound", () => {
  const error = (message: string, detailsName?: string) =>
    new KubeApiError({
      method: "PATCH",
      path: "/x",
      status: 404,
      reason: detailsName === undefined ? "Not Found" : "NotFound",
      message,
      ...(detailsName === undefined ? {} : { detailsName })
    })
  it("the object missing", () => {
    expect(describeNotFound(error('virtualmcpservers "my-vmcp" not found', "my-vmcp"), target)).toMatch(
      /^the VirtualMCPServer "my-vmcp" does not exist in namespace "tools"/
    )
  })
  it("the resource not served", () => {
    expect(describeNotFound(error("404 page not found"), target)).toMatch(
      /^the API server does not serve virtualmcpservers\.toolhive\.stacklok\.dev\/v1beta1: install the CRD/
    )
  })
})

describe("explainForbidden", () => {
  it("names verb, resource, object, namespace and the rule to add", () => {
    expect(
      explainForbidden(
        {
          verb: "get",
          group: "coordination.k8s.io",
          resource: "leases",
          namespace: "tools",
          name: "x-status"
        },
        "denied"
      )
    ).toBe(
      'RBAC: get on leases "x-status" in namespace "tools" is forbidden (denied). Fix: grant verb "get" on resource "leases" (apiGroup "coordination.k8s.io", resourceNames ["x-status"]) to this identity in namespace "tools"; minimalRules() (or `vmcp manifests`) prints the whole Role.'
    )
  })
})
