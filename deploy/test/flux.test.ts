/**
 * The Flux health check of `deploy/flux/kustomization.yaml`: its CEL expressions evaluated by a
 * real CEL implementation (`@marcbachmann/cel-js`; Flux itself uses cel-go) in the order Flux's
 * `StatusEvaluator` uses (fluxcd/pkg runtime/cel: observedGeneration behind generation → in
 * progress; then inProgress, failed, current; none true → in progress; an evaluation error →
 * Unknown), on the same worked examples as the Argo CD health.lua.
 */
import { readFileSync } from "node:fs"
import { parse } from "@marcbachmann/cel-js"
import { describe, expect, it } from "vitest"
import YAML from "yaml"
import { examples, type FluxStatus } from "./support/statuses.ts"

interface HealthCheckExprs {
  readonly apiVersion: string
  readonly kind: string
  readonly current: string
  readonly inProgress?: string
  readonly failed?: string
}

const kustomization = YAML.parse(
  readFileSync(new URL("../flux/kustomization.yaml", import.meta.url), "utf8")
) as {
  apiVersion: string
  kind: string
  spec: { wait?: boolean; healthCheckExprs: ReadonlyArray<HealthCheckExprs> }
}
const exprs = kustomization.spec.healthCheckExprs.find(
  (e) => e.apiVersion === "toolhive.stacklok.dev/v1beta1" && e.kind === "VirtualMCPServer"
)

/** kstatus' result for `obj` under the shipped expressions, as Flux's StatusEvaluator computes it. */
const fluxStatus = (obj: Record<string, unknown>): FluxStatus => {
  if (exprs === undefined) throw new Error("no healthCheckExprs for VirtualMCPServer")
  const status = obj.status as { observedGeneration?: number } | undefined
  const metadata = obj.metadata as { generation?: number } | undefined
  if (
    status?.observedGeneration !== undefined &&
    metadata?.generation !== undefined &&
    status.observedGeneration !== metadata.generation
  )
    return "InProgress"
  const order = [
    [exprs.inProgress, "InProgress"],
    [exprs.failed, "Failed"],
    [exprs.current, "Current"]
  ] as const
  for (const [expr, result] of order) {
    if (expr === undefined) continue
    let value: unknown
    try {
      value = parse(expr)(obj)
    } catch {
      return "Unknown"
    }
    if (typeof value !== "boolean") throw new Error(`not a boolean: ${expr} gave ${String(value)}`)
    if (value) return result
  }
  return "InProgress"
}

describe("Flux healthCheckExprs (deploy/flux/kustomization.yaml)", () => {
  it("is a Flux Kustomization that waits, with all three expressions for VirtualMCPServer", () => {
    expect(kustomization.apiVersion).toBe("kustomize.toolkit.fluxcd.io/v1")
    expect(kustomization.kind).toBe("Kustomization")
    expect(kustomization.spec.wait).toBe(true)
    expect(exprs).toMatchObject({
      current: expect.any(String),
      inProgress: expect.any(String),
      failed: expect.any(String)
    })
  })

  it("every expression parses as CEL", () => {
    for (const expr of [exprs?.current, exprs?.inProgress, exprs?.failed])
      expect(() => parse(expr ?? "")).not.toThrow()
  })

  it.each(examples.map((e) => [e.name, e.flux, e] as const))("%s → %s", (_name, _status, example) => {
    expect(fluxStatus(example.object)).toBe(example.flux)
  })

  it("an object whose operator has not observed the new spec yet is in progress, whatever its conditions", () => {
    const ready = examples.find((e) => e.flux === "Current")!.object
    const stale = {
      ...ready,
      metadata: { name: "vmcp", generation: 2 },
      status: { ...(ready.status as object), observedGeneration: 1 }
    }
    expect(fluxStatus(stale)).toBe("InProgress")
  })
})
