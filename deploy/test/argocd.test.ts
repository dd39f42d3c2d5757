/**
 * `deploy/argocd/health.lua`, the Argo CD health check, run by a real Lua interpreter (Debian's
 * lua5.4, which `scripts/check.sh` installs) on the worked examples of `support/statuses.ts`:
 * statuses built by the real `deriveStatus` and `toStatusPayload`.
 */
import { execFileSync, spawnSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { examples } from "./support/statuses.ts"

const SCRIPT = readFileSync(new URL("../argocd/health.lua", import.meta.url), "utf8")

const lua = ["lua5.4", "lua"].find((bin) => spawnSync(bin, ["-v"]).status === 0)
if (lua === undefined && process.env.CI)
  throw new Error(
    "no Lua interpreter: install Debian's lua5.4 (scripts/check.sh does) to test deploy/argocd/health.lua"
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

/**
 * Runs the script as Argo CD does: `obj` is a global, the chunk returns `{ status, message }`.
 * Errors (a nil index, a syntax error) fail the test: lua5.4 exits non-zero.
 */
const health = (obj: unknown) => {
  const program = `obj = ${toLua(obj)}\nlocal check = load(${JSON.stringify(SCRIPT)}, "health.lua")\nlocal r = check()\nio.write(r.status, "\\t", r.message or "")`
  const [status, message] = execFileSync(lua as string, ["-"], { input: program, encoding: "utf8" }).split(
    "\t"
  )
  return { status, message }
}

describe.skipIf(lua === undefined)("Argo CD health.lua (deploy/argocd/health.lua)", () => {
  it.each(examples.map((e) => [e.name, e.argo.status, e] as const))("%s → %s", (_name, _status, example) => {
    const result = health(example.object)
    expect(result.status).toBe(example.argo.status)
    expect(result.message).toContain(example.argo.message)
  })

  it("answers for a status without conditions (phase only) instead of failing", () => {
    expect(health({ status: { phase: "Failed", message: "No routable backends" } })).toEqual({
      status: "Degraded",
      message: "No routable backends"
    })
    expect(health({ status: {} }).status).toBe("Progressing")
  })
})
