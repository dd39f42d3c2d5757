import { describe, expect, it } from "vitest"
import { selectReporters } from "../src/status/Reporters.ts"

const inCluster = { KUBERNETES_SERVICE_HOST: "10.96.0.1", VMCP_NAME: "tools", VMCP_NAMESPACE: "team-a" }

describe("selectReporters (environment detection)", () => {
  it.each([
    ["on a laptop: log and prometheus", {}, ["log", "prometheus"]],
    ["in a cluster with VMCP_NAME and VMCP_NAMESPACE: k8s too", inCluster, ["log", "k8s", "prometheus"]],
    [
      "in a cluster without VMCP_NAME: no k8s",
      { KUBERNETES_SERVICE_HOST: "10.96.0.1", VMCP_NAMESPACE: "team-a" },
      ["log", "prometheus"]
    ],
    ["VMCP_REPORTERS overrides detection", { ...inCluster, VMCP_REPORTERS: "log" }, ["log"]],
    [
      "a required reporter joins the detected ones",
      { VMCP_REQUIRED_REPORTERS: "k8s" },
      ["log", "prometheus", "k8s"]
    ]
  ])("%s", (_name, env, kinds) => {
    const selection = selectReporters({ env })
    expect(typeof selection === "string" ? selection : selection.kinds).toEqual(kinds)
  })

  it("flags win over the environment, and required reporters are listed", () => {
    const selection = selectReporters({
      env: { VMCP_REPORTERS: "prometheus" },
      reporters: "log,k8s",
      required: "k8s"
    })
    expect(selection).toEqual({
      kinds: ["log", "k8s"],
      required: ["k8s"],
      reason: "reporters log, k8s (from --reporters)"
    })
  })

  it("explains why k8s is off in a cluster without the object's name", () => {
    const selection = selectReporters({ env: { KUBERNETES_SERVICE_HOST: "10.96.0.1" } })
    expect(typeof selection === "string" ? selection : selection.reason).toContain(
      "VMCP_NAME/VMCP_NAMESPACE are not set"
    )
  })

  it("an unknown reporter is a usage error naming the choices", () => {
    expect(selectReporters({ env: {}, reporters: "log,sentry" })).toBe(
      '--reporters: unknown reporter "sentry"; choose from log, k8s, prometheus'
    )
  })
})
