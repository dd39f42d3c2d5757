import * as Schema from "effect/Schema"
import { Timestamp } from "./Timestamp.ts"

/** `True`, `False` or `Unknown`, as Kubernetes conditions spell it. */
export const ConditionStatus = Schema.Literals(["True", "False", "Unknown"])
export type ConditionStatus = typeof ConditionStatus.Type

const CamelCase = /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/

/**
 * A condition following the Kubernetes conventions (`metav1.Condition`): `reason` is CamelCase,
 * `lastTransitionTime` changes only when `status` changes.
 */
export const Condition = Schema.Struct({
  type: Schema.NonEmptyString,
  status: ConditionStatus,
  reason: Schema.String.pipe(
    Schema.check(
      Schema.isPattern(CamelCase, { message: "reason must be CamelCase, e.g. AllBackendsHealthy" })
    )
  ),
  message: Schema.String,
  lastTransitionTime: Timestamp,
  observedGeneration: Schema.optionalKey(Schema.Int)
})
export type Condition = typeof Condition.Type

/** The condition types this project writes. */
export const ConditionType = {
  Ready: "Ready",
  Degraded: "Degraded",
  Reconciling: "Reconciling",
  Stalled: "Stalled",
  BackendsDiscovered: "BackendsDiscovered"
} as const

/** A condition before it is placed in a list: the list decides `lastTransitionTime`. */
export type ConditionDraft = Omit<Condition, "lastTransitionTime">

/**
 * Sets one condition in a list, like `meta.SetStatusCondition`: a new type is appended with
 * `lastTransitionTime = now`; an existing one keeps its `lastTransitionTime` unless its
 * `status` changes. Returns a new list; the input is not modified.
 *
 * @example
 * ```ts
 * import { setCondition } from "@vmcp-status/core"
 *
 * const before = [{ type: "Ready", status: "True", reason: "AllBackendsHealthy", message: "", lastTransitionTime: "2026-01-01T00:00:00Z" }] as const
 * const after = setCondition(before, { type: "Ready", status: "True", reason: "AllBackendsHealthy", message: "3 backends" }, "2026-02-01T00:00:00Z")
 * after[0]?.lastTransitionTime // "2026-01-01T00:00:00Z": the status did not change
 * ```
 */
export const setCondition = (
  conditions: ReadonlyArray<Condition>,
  draft: ConditionDraft,
  now: Timestamp
): ReadonlyArray<Condition> => {
  const index = conditions.findIndex((c) => c.type === draft.type)
  const existing = index === -1 ? undefined : conditions[index]
  const next: Condition = {
    ...draft,
    lastTransitionTime:
      existing !== undefined && existing.status === draft.status ? existing.lastTransitionTime : now
  }
  if (index === -1) return [...conditions, next]
  const copy = conditions.slice()
  copy[index] = next
  return copy
}

/**
 * Merges drafts into a previous list, keeping `lastTransitionTime` for every condition whose
 * status did not change. Types absent from `drafts` are dropped.
 */
export const mergeConditions = (
  previous: ReadonlyArray<Condition>,
  drafts: ReadonlyArray<ConditionDraft>,
  now: Timestamp
): ReadonlyArray<Condition> => {
  const byType = new Map(previous.map((c) => [c.type, c]))
  return drafts.map((draft) => {
    const existing = byType.get(draft.type)
    return {
      ...draft,
      lastTransitionTime:
        existing !== undefined && existing.status === draft.status ? existing.lastTransitionTime : now
    }
  })
}

/** Finds a condition by type. */
export const findCondition = (conditions: ReadonlyArray<Condition>, type: string): Condition | undefined =>
  conditions.find((c) => c.type === type)
