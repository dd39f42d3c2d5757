import type { Target } from "./Target.ts"

/** A `PolicyRule` of a Role. */
export interface PolicyRule {
  readonly apiGroups: ReadonlyArray<string>
  readonly resources: ReadonlyArray<string>
  readonly verbs: ReadonlyArray<string>
  readonly resourceNames?: ReadonlyArray<string>
}

/** What the reporter does besides writing status. */
export interface RbacOptions {
  /** Emit Events (default true). */
  readonly events?: boolean
  /** Leader election on a Lease (default false). */
  readonly leaderElection?: boolean
  /** The Lease's name (default `<name>-status`). */
  readonly leaseName?: string
}

/** The Lease name used for leader election unless configured. */
export const defaultLeaseName = (target: Pick<Target, "name">): string => `${target.name}-status`

/**
 * The least privilege the reporter needs in the object's namespace:
 * - `get` on the one object and `patch` on its `/status` (both limited by `resourceNames`);
 * - Events: `create` and `patch` on `events.k8s.io` events. `create` cannot be limited by
 *   `resourceNames` (the name does not exist before the request), so this rule lets the identity
 *   create any Event in the namespace; drop Events (`events: false`) where that matters;
 * - Lease (only with leader election): `get`, `update` on the one Lease by name, and `create`
 *   (unrestricted, for the same reason).
 *
 * @example
 * ```ts
 * import { minimalRules } from "@vmcp-status/k8s"
 *
 * minimalRules({ group: "toolhive.stacklok.dev", plural: "virtualmcpservers", name: "my-vmcp" }, { leaderElection: true })
 * ```
 */
export const minimalRules = (
  target: Pick<Target, "group" | "plural" | "name">,
  options: RbacOptions = {}
): ReadonlyArray<PolicyRule> => {
  const rules: Array<PolicyRule> = [
    { apiGroups: [target.group], resources: [target.plural], verbs: ["get"], resourceNames: [target.name] },
    {
      apiGroups: [target.group],
      resources: [`${target.plural}/status`],
      verbs: ["patch"],
      resourceNames: [target.name]
    }
  ]
  if (options.events ?? true)
    rules.push({ apiGroups: ["events.k8s.io"], resources: ["events"], verbs: ["create", "patch"] })
  if (options.leaderElection ?? false) {
    const lease = options.leaseName ?? defaultLeaseName(target)
    rules.push(
      {
        apiGroups: ["coordination.k8s.io"],
        resources: ["leases"],
        verbs: ["get", "update"],
        resourceNames: [lease]
      },
      { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create"] }
    )
  }
  return rules
}
