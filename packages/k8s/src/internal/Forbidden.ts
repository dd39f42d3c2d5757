/** What a request needed, to explain a 403. */
export interface Permission {
  readonly verb: string
  /** API group, `""` for the core group. */
  readonly group: string
  /** Resource, with subresource if any (`virtualmcpservers/status`). */
  readonly resource: string
  readonly namespace: string
  /** The object, when the rule can be limited by `resourceNames`. */
  readonly name?: string
}

/**
 * One line for a 403: which verb on which resource in which namespace is missing, and the rule
 * that fixes it, e.g. `RBAC: patch on virtualmcpservers/status "my-vmcp" in namespace "tools" is
 * forbidden (...). Fix: grant ...`.
 */
export const explainForbidden = (permission: Permission, serverMessage: string): string => {
  const object = permission.name === undefined ? "" : ` "${permission.name}"`
  const names = permission.name === undefined ? "" : `, resourceNames ["${permission.name}"]`
  return (
    `RBAC: ${permission.verb} on ${permission.resource}${object} in namespace "${permission.namespace}" is forbidden (${serverMessage}). ` +
    `Fix: grant verb "${permission.verb}" on resource "${permission.resource}" (apiGroup "${permission.group}"${names}) ` +
    `to this identity in namespace "${permission.namespace}"; minimalRules() (or \`vmcp manifests\`) prints the whole Role.`
  )
}
