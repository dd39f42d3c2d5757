import type { Tool } from "@modelcontextprotocol/client"

/** How tool-name clashes between backends are resolved. */
export type ConflictResolution = "prefix" | "priority"

/** One backend as the aggregation sees it. */
export interface AggregationInput {
  readonly name: string
  readonly tools: ReadonlyArray<Tool>
  /** Healthy or degraded: its tools are offered. Unroutable backends' tools are hidden. */
  readonly routable: boolean
}

/** One tool of the aggregated endpoint and where calls to it go. */
export interface RoutedTool {
  /** The name clients see. */
  readonly name: string
  readonly backend: string
  /** The name on the backend. */
  readonly backendTool: string
  readonly tool: Tool
}

/** Options of `aggregateTools`. */
export interface AggregationOptions {
  readonly conflictResolution: ConflictResolution
  /** Between backend and tool name in `prefix` mode (default `_`). */
  readonly separator?: string
  /** Backend names, highest priority first; unlisted backends follow in input order. */
  readonly priority?: ReadonlyArray<string>
}

/**
 * The aggregated tool table: only routable backends contribute. `prefix` names every tool
 * `<backend><separator><tool>`; `priority` keeps plain names and gives a clashing name to the
 * highest-priority routable backend, so when that backend becomes unroutable the next one
 * takes over. Sorted by name. Pure.
 *
 * @example
 * ```ts
 * import { aggregateTools } from "@vmcp-status/vmcp"
 *
 * const tools = aggregateTools(
 *   [{ name: "clock", routable: true, tools: [{ name: "now", inputSchema: { type: "object" } }] }],
 *   { conflictResolution: "prefix" }
 * )
 * tools[0]?.name // "clock_now"
 * ```
 */
export const aggregateTools = (
  backends: ReadonlyArray<AggregationInput>,
  options: AggregationOptions
): ReadonlyArray<RoutedTool> => {
  const separator = options.separator ?? "_"
  const routed = new Map<string, RoutedTool>()
  const rank = (name: string) => {
    const i = options.priority?.indexOf(name) ?? -1
    return i === -1 ? (options.priority?.length ?? 0) + backends.findIndex((b) => b.name === name) : i
  }
  const ordered =
    options.conflictResolution === "priority"
      ? backends.slice().sort((a, b) => rank(a.name) - rank(b.name))
      : backends
  for (const backend of ordered) {
    if (!backend.routable) continue
    for (const tool of backend.tools) {
      const name =
        options.conflictResolution === "prefix" ? `${backend.name}${separator}${tool.name}` : tool.name
      if (routed.has(name)) continue
      routed.set(name, { name, backend: backend.name, backendTool: tool.name, tool: { ...tool, name } })
    }
  }
  return [...routed.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
}

/**
 * True when two tables offer the same tools to clients (names, backends and definitions):
 * no `tools/list_changed` is announced otherwise.
 *
 * @example
 * ```ts
 * import { sameTools } from "@vmcp-status/vmcp"
 *
 * sameTools([], []) // true
 * ```
 */
export const sameTools = (a: ReadonlyArray<RoutedTool>, b: ReadonlyArray<RoutedTool>): boolean =>
  a.length === b.length &&
  a.every((t, i) => {
    const u = b[i]
    return (
      u !== undefined &&
      t.name === u.name &&
      t.backend === u.backend &&
      JSON.stringify(t.tool) === JSON.stringify(u.tool)
    )
  })
