import { describe, expect, it } from "vitest"
import { type Condition, mergeConditions, setCondition } from "../src/index.ts"
import { T0, T1 } from "./fixtures.ts"

const ready = (status: Condition["status"], at = T0): Condition => ({
  type: "Ready",
  status,
  reason: status === "True" ? "AllBackendsHealthy" : "SomeBackendsUnhealthy",
  message: "",
  lastTransitionTime: at
})

describe("setCondition", () => {
  it.each([
    ["appends a new type with now", [], "True", T1],
    ["keeps lastTransitionTime when status is unchanged", [ready("True")], "True", T0],
    ["moves lastTransitionTime when status changes", [ready("True")], "False", T1]
  ] as const)("%s", (_name, before, nextStatus, expected) => {
    const after = setCondition(
      before,
      { type: "Ready", status: nextStatus, reason: "AllBackendsHealthy", message: "changed message" },
      T1
    )
    expect(after).toHaveLength(1)
    expect(after[0]?.lastTransitionTime).toBe(expected)
    expect(after[0]?.message).toBe("changed message")
  })

  it("does not modify its input and leaves other types alone", () => {
    const other: Condition = { ...ready("True"), type: "GroupRefValidated", reason: "Valid" }
    const before = [other, ready("True")]
    const after = setCondition(
      before,
      { type: "Ready", status: "False", reason: "Starting", message: "" },
      T1
    )
    expect(before[1]?.status).toBe("True")
    expect(after[0]).toBe(other)
    expect(after[1]?.status).toBe("False")
  })
})

describe("mergeConditions", () => {
  it("keeps times of unchanged conditions and drops types no longer produced", () => {
    const previous = [ready("True"), { ...ready("False"), type: "Stale" }]
    const merged = mergeConditions(
      previous,
      [{ type: "Ready", status: "True", reason: "AllBackendsHealthy", message: "" }],
      T1
    )
    expect(merged).toEqual([{ ...ready("True"), lastTransitionTime: T0 }])
  })
})
