/**
 * The worked examples both GitOps health checks are tested on (Argo CD's `health.lua`, Flux's
 * `healthCheckExprs`): VirtualMCPServer objects whose `.status` is what `@vmcp-status/k8s` writes,
 * built by the real `deriveStatus` and `toStatusPayload`, not written by hand.
 */
import { type BackendHealth, backendReport, deriveStatus, shuttingDown } from "@vmcp-status/core"
import { type OwnershipMode, toStatusPayload } from "@vmcp-status/k8s"

export const T0 = "2026-11-25T18:00:00Z"

const statusOf = (healths: ReadonlyArray<BackendHealth>, initialRoundComplete = true) =>
  deriveStatus({
    backends: healths.map((health, i) =>
      backendReport({
        name: `b${i}`,
        health,
        lastTransitionTime: T0,
        message: health === "healthy" ? "" : "connection refused",
        toolCount: 4
      })
    ),
    initialRoundComplete,
    now: T0
  })

const object = (status: ReturnType<typeof statusOf>, mode: OwnershipMode = "full") => ({
  apiVersion: "toolhive.stacklok.dev/v1beta1",
  kind: "VirtualMCPServer",
  metadata: { name: "vmcp", namespace: "tools", generation: 1 },
  status: toStatusPayload(status, { mode })
})

/** `runtime` mode beside toolhive's operator: our payload plus the operator's phase and `Ready`. */
const besideOperator = (status: ReturnType<typeof statusOf>) => {
  const ours = object(status, "runtime")
  return {
    ...ours,
    status: {
      ...ours.status,
      phase: "Ready",
      message: "operator: deployment ready",
      conditions: [
        ...ours.status.conditions,
        { type: "Ready", status: "True", reason: "Reconciled", message: "operator", lastTransitionTime: T0 }
      ]
    }
  }
}

/** Argo CD's health for an example: `status` exactly, `message` contained. */
export interface ArgoHealth {
  readonly status: "Healthy" | "Progressing" | "Degraded" | "Suspended"
  readonly message: string
}

/** kstatus' result for an example; `Unknown` is an evaluation error, which Flux keeps waiting on. */
export type FluxStatus = "Current" | "InProgress" | "Failed" | "Unknown"

export interface Example {
  readonly name: string
  readonly object: Record<string, unknown>
  readonly argo: ArgoHealth
  readonly flux: FluxStatus
}

export const examples: ReadonlyArray<Example> = [
  {
    name: "no status yet",
    object: {
      apiVersion: "toolhive.stacklok.dev/v1beta1",
      kind: "VirtualMCPServer",
      metadata: { name: "vmcp" }
    },
    argo: { status: "Progressing", message: "Waiting for the first status" },
    flux: "Unknown"
  },
  {
    name: "Pending: first health round running",
    object: object(statusOf(["healthy"], false)),
    argo: { status: "Progressing", message: "Waiting for the first health round" },
    flux: "InProgress"
  },
  {
    name: "Ready: every backend healthy",
    object: object(statusOf(["healthy", "healthy"])),
    argo: { status: "Healthy", message: "All 2 backends healthy" },
    flux: "Current"
  },
  {
    name: "Ready: no backends configured",
    object: object(statusOf([])),
    argo: { status: "Healthy", message: "" },
    flux: "Current"
  },
  {
    name: "Degraded: some backends down, still serving",
    object: object(statusOf(["healthy", "unhealthy"])),
    argo: { status: "Degraded", message: "1/2 backends healthy" },
    flux: "Current"
  },
  {
    name: "Failed: no routable backends",
    object: object(statusOf(["unhealthy", "unauthenticated"])),
    argo: { status: "Degraded", message: "No routable backends" },
    flux: "Failed"
  },
  {
    name: "ShuttingDown: a replica stopped, none took over",
    object: object(shuttingDown(statusOf(["healthy"]), T0)),
    argo: { status: "Suspended", message: "Shutting down" },
    flux: "InProgress"
  },
  {
    name: "runtime mode beside the operator: operator's Ready=True, our Degraded=True",
    object: besideOperator(statusOf(["healthy", "unhealthy"])),
    argo: { status: "Degraded", message: "1/2 backends healthy" },
    flux: "Current"
  },
  {
    name: "runtime mode beside the operator: operator's Ready=True, our Degraded=False",
    object: besideOperator(statusOf(["healthy", "healthy"])),
    argo: { status: "Healthy", message: "operator" },
    flux: "Current"
  },
  {
    name: "runtime mode before the operator wrote anything",
    object: object(statusOf(["healthy"]), "runtime"),
    argo: { status: "Progressing", message: "Waiting for the first status" },
    flux: "InProgress"
  }
]
