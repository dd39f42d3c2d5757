/**
 * The Argo CD `health.lua` of the README, run by a real Lua interpreter (Debian's lua5.4, which
 * `scripts/check.sh` installs) on the README's worked examples, with statuses this package writes.
 */
import { execFileSync, spawnSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { deriveStatus, shuttingDown } from "@vmcp-status/core"
import { describe, expect, it } from "vitest"
import { toStatusPayload } from "../src/StatusMapping.ts"
import { backend, T0 } from "./fixtures.ts"

const README = readFileSync(new URL("../README.md", import.meta.url), "utf8")
const SCRIPT = /```lua\n([\s\S]*?)```/.exec(README)?.[1] ?? ""

const lua = ["lua5.4", "lua"].find((bin) => spawnSync(bin, ["-v"]).status === 0)
if (lua === undefined && process.env.CI)
  throw new Error(
    "no Lua interpreter: install Debian's lua5.4 (scripts/check.sh does) to test the Argo CD health.lua"
  )

/** A JSON value as a Lua table constructor. */
const toLua = (value: unknown): string => {
  if (value === null || value === undefined) return "nil"
  if (typeof value === "string") return JSON.stringify(value)
  if (typeof value === "number" || typeof value === "boolean") return String(value)
  if (Array.isArray(value)) return `{${value.map(toLua).join(", ")}}`
  return `{${Object.entries(value)
    .map(([k, v]) => `[${JSON.stringify(k)}] = ${toLua(v)}`)
    .join(", ")}}`
}

/** Runs the README's script on `obj` and returns Argo's `{ status, message }`. */
const health = (obj: unknown) => {
  const program = `local obj = ${toLua(obj)}\nlocal function check()\n${SCRIPT}\nend\nlocal r = check()\nio.write(r.status, "\\t", r.message or "")`
  const [status, message] = execFileSync(lua as string, ["-"], { input: program, encoding: "utf8" }).split(
    "\t"
  )
  return { status, message }
}

const statusOf = (healths: ReadonlyArray<"healthy" | "unhealthy">, initialRoundComplete = true) =>
  deriveStatus({
    backends: healths.map((h, i) => backend(`b${i}`, h)),
    initialRoundComplete,
    now: T0
  })
const object = (status: ReturnType<typeof statusOf>, mode: "full" | "runtime" = "full") => ({
  apiVersion: "toolhive.stacklok.dev/v1beta1",
  kind: "VirtualMCPServer",
  status: toStatusPayload(status, { mode })
})

describe.skipIf(lua === undefined)("Argo CD health.lua from the README", () => {
  it("is in the README", () => {
    expect(SCRIPT).toContain('condition("Ready")')
  })

  it.each([
    ["no status yet", { apiVersion: "v1" }, "Progressing", "Waiting for the first status"],
    [
      "Pending: first round running",
      object(statusOf(["healthy"], false)),
      "Progressing",
      "Waiting for the first health round"
    ],
    ["Ready", object(statusOf(["healthy", "healthy"])), "Healthy", "All 2 backends healthy"],
    ["Degraded", object(statusOf(["healthy", "unhealthy"])), "Degraded", "1/2 backends healthy"],
    ["Failed", object(statusOf(["unhealthy", "unhealthy"])), "Degraded", "No routable backends"],
    ["ShuttingDown", object(shuttingDown(statusOf(["healthy"]), T0)), "Suspended", "Shutting down"]
  ])("%s → %s", (_name, obj, status, message) => {
    const result = health(obj)
    expect(result.status).toBe(status)
    expect(result.message).toContain(message)
  })

  it("runtime mode beside an operator: the operator's Ready=True, our Degraded=True → Degraded", () => {
    const ours = object(statusOf(["healthy", "unhealthy"]), "runtime")
    const merged = {
      ...ours,
      status: {
        ...ours.status,
        phase: "Ready",
        conditions: [
          ...ours.status.conditions,
          { type: "Ready", status: "True", reason: "Reconciled", message: "operator", lastTransitionTime: T0 }
        ]
      }
    }
    expect(health(merged).status).toBe("Degraded")
  })
})
