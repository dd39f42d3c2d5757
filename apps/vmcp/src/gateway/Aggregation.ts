import type {
  Prompt,
  Resource,
  ResourceTemplateType as ResourceTemplate,
  Tool
} from "@modelcontextprotocol/client"
import { UriTemplate } from "@modelcontextprotocol/server"
import type { ListChangedKind } from "@vmcp-status/mcp"

/** How name (and URI) clashes between backends are resolved. */
export type ConflictResolution = "prefix" | "priority"

/** The lists a client can be told changed: `notifications/<kind>/list_changed` (templates go with resources). */
export type ListKind = ListChangedKind

/** One backend as the aggregation sees it. */
export interface AggregationInput {
  readonly name: string
  readonly tools: ReadonlyArray<Tool>
  readonly resources?: ReadonlyArray<Resource>
  readonly resourceTemplates?: ReadonlyArray<ResourceTemplate>
  readonly prompts?: ReadonlyArray<Prompt>
  /** Healthy or degraded: its entries are offered. Unroutable backends' entries are hidden. */
  readonly routable: boolean
  /** The backend advertises the `resources` capability (for `routeResource`; default: it lists some). */
  readonly offersResources?: boolean
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

/** One prompt of the aggregated endpoint and where `prompts/get` for it goes. */
export interface RoutedPrompt {
  /** The name clients see. */
  readonly name: string
  readonly backend: string
  /** The name on the backend. */
  readonly backendPrompt: string
  readonly prompt: Prompt
}

/** One resource of the aggregated endpoint and where `resources/read` for it goes. */
export interface RoutedResource {
  /** The URI clients see. */
  readonly uri: string
  readonly backend: string
  /** The URI on the backend. */
  readonly backendUri: string
  readonly resource: Resource
}

/** One resource template of the aggregated endpoint. */
export interface RoutedResourceTemplate {
  /** The URI template clients see. */
  readonly uriTemplate: string
  readonly backend: string
  /** The URI template on the backend. */
  readonly backendUriTemplate: string
  readonly template: ResourceTemplate
}

/** Everything the aggregated endpoint offers, each list sorted by its key. */
export interface Aggregated {
  readonly tools: ReadonlyArray<RoutedTool>
  readonly resources: ReadonlyArray<RoutedResource>
  readonly resourceTemplates: ReadonlyArray<RoutedResourceTemplate>
  readonly prompts: ReadonlyArray<RoutedPrompt>
}

/** Options of `aggregate` and `aggregateTools`. */
export interface AggregationOptions {
  readonly conflictResolution: ConflictResolution
  /** Between backend and tool/prompt name in `prefix` mode (default `_`). */
  readonly separator?: string
  /** Backend names, highest priority first; unlisted backends follow in input order. */
  readonly priority?: ReadonlyArray<string>
}

/**
 * The URI clients see for a backend's resource in `prefix` mode: `vmcp://<backend>/<the backend's
 * URI, verbatim>`. The backend name is a DNS label, so this is a valid URI whose authority names
 * the backend; the original comes back exactly (no decoding) with `unprefixUri`.
 *
 * @example
 * ```ts
 * import { prefixUri } from "@vmcp-status/vmcp"
 *
 * prefixUri("docs", "file:///README.md") // "vmcp://docs/file:///README.md"
 * ```
 */
export const prefixUri = (backend: string, uri: string): string => `vmcp://${backend}/${uri}`

/**
 * The URI template clients see in `prefix` mode: the same rule as `prefixUri`, so a client's
 * expansion of it is exactly `vmcp://<backend>/` followed by the backend template's expansion.
 *
 * @example
 * ```ts
 * import { prefixUriTemplate } from "@vmcp-status/vmcp"
 *
 * prefixUriTemplate("docs", "demo://text/{id}") // "vmcp://docs/demo://text/{id}"
 * ```
 */
export const prefixUriTemplate = (backend: string, template: string): string =>
  `vmcp://${backend}/${template}`

/**
 * The backend and its URI behind a `prefixUri` URI; `undefined` for any other URI.
 *
 * @example
 * ```ts
 * import { unprefixUri } from "@vmcp-status/vmcp"
 *
 * unprefixUri("vmcp://docs/file:///README.md") // { backend: "docs", uri: "file:///README.md" }
 * ```
 */
export const unprefixUri = (uri: string): { readonly backend: string; readonly uri: string } | undefined => {
  const match = /^vmcp:\/\/([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/(.+)$/s.exec(uri)
  return match === null ? undefined : { backend: match[1]!, uri: match[3]! }
}

/** The backends in the order clashes are decided: `priority` first, then input order. */
const ordered = (
  backends: ReadonlyArray<AggregationInput>,
  options: AggregationOptions
): ReadonlyArray<AggregationInput> => {
  if (options.conflictResolution !== "priority") return backends
  const rank = (name: string) => {
    const i = options.priority?.indexOf(name) ?? -1
    return i === -1 ? (options.priority?.length ?? 0) + backends.findIndex((b) => b.name === name) : i
  }
  return backends.slice().sort((a, b) => rank(a.name) - rank(b.name))
}

/**
 * The backend's own definition behind each routed entry: a rebuild from unchanged discoveries
 * (the same objects) compares without serialising them.
 */
const sources = new WeakMap<object, unknown>()

/** Builds one kind's table: the first entry for a client-side key wins (backends come in clash order). */
const table = <A, R extends object>(
  backends: ReadonlyArray<AggregationInput>,
  items: (b: AggregationInput) => ReadonlyArray<A> | undefined,
  route: (b: AggregationInput, item: A) => R,
  key: (r: R) => string
): ReadonlyArray<R> => {
  const routed = new Map<string, R>()
  for (const backend of backends) {
    if (!backend.routable) continue
    for (const item of items(backend) ?? []) {
      const r = route(backend, item)
      const k = key(r)
      if (routed.has(k)) continue
      sources.set(r, item)
      routed.set(k, r)
    }
  }
  const keyed = [...routed.entries()]
  keyed.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
  return keyed.map(([, r]) => r)
}

/**
 * The aggregated tables of every kind; only routable backends contribute, each list is sorted by
 * its client-side key. Pure.
 *
 * - `prefix`: tools and prompts are named `<backend><separator><name>`; resource URIs and URI
 *   templates become `vmcp://<backend>/<the backend's URI or template>` (`prefixUri`).
 * - `priority`: names and URIs stay as the backends give them; a clash goes to the
 *   highest-priority routable backend, so when it becomes unroutable the next one takes over.
 *
 * @example
 * ```ts
 * import { aggregate } from "@vmcp-status/vmcp"
 *
 * const all = aggregate(
 *   [{ name: "docs", routable: true, tools: [], prompts: [{ name: "summarize" }],
 *      resources: [{ uri: "file:///README.md", name: "readme" }] }],
 *   { conflictResolution: "prefix" }
 * )
 * all.prompts[0]?.name // "docs_summarize"
 * all.resources[0]?.uri // "vmcp://docs/file:///README.md"
 * ```
 */
export const aggregate = (
  backends: ReadonlyArray<AggregationInput>,
  options: AggregationOptions
): Aggregated => {
  const prefix = options.conflictResolution === "prefix"
  const separator = options.separator ?? "_"
  const inOrder = ordered(backends, options)
  const named = (backend: string, name: string) => (prefix ? `${backend}${separator}${name}` : name)
  return {
    tools: table(
      inOrder,
      (b) => b.tools,
      (b, tool): RoutedTool => {
        const name = named(b.name, tool.name)
        return { name, backend: b.name, backendTool: tool.name, tool: { ...tool, name } }
      },
      (t) => t.name
    ),
    prompts: table(
      inOrder,
      (b) => b.prompts,
      (b, prompt): RoutedPrompt => {
        const name = named(b.name, prompt.name)
        return { name, backend: b.name, backendPrompt: prompt.name, prompt: { ...prompt, name } }
      },
      (p) => p.name
    ),
    resources: table(
      inOrder,
      (b) => b.resources,
      (b, resource): RoutedResource => {
        const uri = prefix ? prefixUri(b.name, resource.uri) : resource.uri
        return { uri, backend: b.name, backendUri: resource.uri, resource: { ...resource, uri } }
      },
      (r) => r.uri
    ),
    resourceTemplates: table(
      inOrder,
      (b) => b.resourceTemplates,
      (b, template): RoutedResourceTemplate => {
        const uriTemplate = prefix ? prefixUriTemplate(b.name, template.uriTemplate) : template.uriTemplate
        return {
          uriTemplate,
          backend: b.name,
          backendUriTemplate: template.uriTemplate,
          template: { ...template, uriTemplate }
        }
      },
      (t) => t.uriTemplate
    )
  }
}

/**
 * The aggregated tool table (see `aggregate`). Sorted by name. Pure.
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
): ReadonlyArray<RoutedTool> =>
  aggregate(
    backends.map((b) => ({ name: b.name, routable: b.routable, tools: b.tools })),
    options
  ).tools

const sameList = <A extends { readonly backend: string }>(
  a: ReadonlyArray<A>,
  b: ReadonlyArray<A>,
  definition: (x: A) => unknown
): boolean =>
  a.length === b.length &&
  a.every((x, i) => {
    const y = b[i]
    if (y === undefined || x.backend !== y.backend) return false
    const same = sources.get(x)
    // The same backend definition under the same client-side key (the lists are sorted by it).
    if (same !== undefined && same === sources.get(y) && keyOf(x) === keyOf(y)) return true
    return JSON.stringify(definition(x)) === JSON.stringify(definition(y))
  })

const keyOf = (x: object): unknown =>
  "name" in x ? x.name : "uri" in x ? x.uri : "uriTemplate" in x ? x.uriTemplate : undefined

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
  sameList(a, b, (t) => t.tool)

/**
 * The kinds whose client-visible lists differ between two aggregations, in a fixed order:
 * each one gets a `notifications/<kind>/list_changed` (resource templates count as resources).
 *
 * @example
 * ```ts
 * import { changedKinds } from "@vmcp-status/vmcp"
 *
 * const none = { tools: [], resources: [], resourceTemplates: [], prompts: [] }
 * changedKinds(none, none) // []
 * ```
 */
export const changedKinds = (a: Aggregated, b: Aggregated): ReadonlyArray<ListKind> => [
  ...(sameTools(a.tools, b.tools) ? [] : (["tools"] as const)),
  ...(sameList(a.resources, b.resources, (r) => r.resource) &&
  sameList(a.resourceTemplates, b.resourceTemplates, (t) => t.template)
    ? []
    : (["resources"] as const)),
  ...(sameList(a.prompts, b.prompts, (p) => p.prompt) ? [] : (["prompts"] as const))
]

/** Where a `resources/read` goes: the backend and the URI it knows. */
export interface ResourceRoute {
  readonly backend: string
  readonly uri: string
}

/**
 * Routes a URI a client reads. In order: a listed resource (its owner); in `prefix` mode a
 * `vmcp://<backend>/...` URI of a routable backend (the prefix removed; this is how URIs
 * expanded from a prefixed template arrive); a backend-side URI listed by a routable backend, or one matching a
 * routable backend's template (clash order: priority, then configuration order); finally, when
 * exactly one routable backend offers resources at all, that one (it answers "not found" itself).
 * `undefined` when no backend can be chosen. Pure.
 *
 * @example
 * ```ts
 * import { aggregate, routeResource } from "@vmcp-status/vmcp"
 *
 * const backends = [{ name: "docs", routable: true, tools: [], resources: [{ uri: "file:///a", name: "a" }] }]
 * const options = { conflictResolution: "prefix" } as const
 * routeResource(aggregate(backends, options), backends, options, "file:///a") // { backend: "docs", uri: "file:///a" }
 * ```
 */
export const routeResource = (
  aggregated: Aggregated,
  backends: ReadonlyArray<AggregationInput>,
  options: AggregationOptions,
  uri: string
): ResourceRoute | undefined => {
  const listed = aggregated.resources.find((r) => r.uri === uri)
  if (listed !== undefined) return { backend: listed.backend, uri: listed.backendUri }
  const routable = ordered(backends, options).filter((b) => b.routable)
  if (options.conflictResolution === "prefix") {
    const inner = unprefixUri(uri)
    if (inner !== undefined && routable.some((b) => b.name === inner.backend)) return inner
  }
  const owner = routable.find((b) => b.resources?.some((r) => r.uri === uri) === true)
  if (owner !== undefined) return { backend: owner.name, uri }
  const matching = routable.find((b) => b.resourceTemplates?.some((t) => matches(t, uri)) === true)
  if (matching !== undefined) return { backend: matching.name, uri }
  const offering = routable.filter(
    (b) => b.offersResources === true || (b.resources?.length ?? 0) + (b.resourceTemplates?.length ?? 0) > 0
  )
  return offering.length === 1 ? { backend: offering[0]!.name, uri } : undefined
}

/** Parsed templates, by the backend's template object (kept while its discovery result is). */
const parsed = new WeakMap<ResourceTemplate, UriTemplate | null>()

const matches = (template: ResourceTemplate, uri: string): boolean => {
  let compiled = parsed.get(template)
  if (compiled === undefined) {
    try {
      compiled = new UriTemplate(template.uriTemplate)
    } catch {
      compiled = null
    }
    parsed.set(template, compiled)
  }
  try {
    return compiled !== null && compiled.match(uri) !== null
  } catch {
    return false
  }
}
