import type { Tool } from "@modelcontextprotocol/client"
import { UriTemplate } from "@modelcontextprotocol/server"
import { describe, expect, it } from "vitest"
import {
  type AggregationInput,
  aggregate,
  aggregateTools,
  changedKinds,
  prefixUri,
  prefixUriTemplate,
  routeResource,
  unprefixUri
} from "../src/gateway/Aggregation.ts"
import { capabilitiesOf } from "../src/gateway/McpEndpoint.ts"

const tool = (name: string, description?: string): Tool => ({
  name,
  inputSchema: { type: "object" },
  ...(description === undefined ? {} : { description })
})

const backends = [
  { name: "clock", routable: true, tools: [tool("now"), tool("echo", "clock's echo")] },
  { name: "echo", routable: true, tools: [tool("echo", "echo's echo")] },
  { name: "flaky", routable: false, tools: [tool("coin")] }
]

describe("aggregateTools", () => {
  it("prefix: every tool of a routable backend as <backend>_<tool>, sorted; unroutable ones hidden", () => {
    const table = aggregateTools(backends, { conflictResolution: "prefix" })
    expect(table.map((t) => [t.name, t.backend, t.backendTool])).toEqual([
      ["clock_echo", "clock", "echo"],
      ["clock_now", "clock", "now"],
      ["echo_echo", "echo", "echo"]
    ])
    expect(table[0]?.tool).toEqual({
      name: "clock_echo",
      description: "clock's echo",
      inputSchema: { type: "object" }
    })
  })

  it("prefix with a custom separator", () => {
    const table = aggregateTools(backends, { conflictResolution: "prefix", separator: "." })
    expect(table.map((t) => t.name)).toEqual(["clock.echo", "clock.now", "echo.echo"])
  })

  it("priority: plain names, a clash goes to the first backend in input order", () => {
    const table = aggregateTools(backends, { conflictResolution: "priority" })
    expect(table.map((t) => [t.name, t.backend])).toEqual([
      ["echo", "clock"],
      ["now", "clock"]
    ])
  })

  it("priority: the configured order wins, and the next routable backend takes over", () => {
    const preferred = aggregateTools(backends, { conflictResolution: "priority", priority: ["echo"] })
    expect(preferred.find((t) => t.name === "echo")?.backend).toBe("echo")
    const echoDown = aggregateTools(
      backends.map((b) => (b.name === "echo" ? { ...b, routable: false } : b)),
      { conflictResolution: "priority", priority: ["echo"] }
    )
    expect(echoDown.find((t) => t.name === "echo")?.backend).toBe("clock")
  })

  it("no routable backend: no tools", () => {
    expect(
      aggregateTools(
        backends.map((b) => ({ ...b, routable: false })),
        { conflictResolution: "prefix" }
      )
    ).toEqual([])
  })
})

const catalogs: ReadonlyArray<AggregationInput> = [
  {
    name: "docs",
    routable: true,
    tools: [],
    prompts: [{ name: "summarize", arguments: [{ name: "topic" }] }],
    resources: [
      { uri: "file:///README.md", name: "readme" },
      { uri: "docs://only-docs", name: "mine" }
    ],
    resourceTemplates: [{ uriTemplate: "docs://page/{id}", name: "page" }]
  },
  {
    name: "wiki",
    routable: true,
    tools: [],
    prompts: [{ name: "summarize" }, { name: "translate" }],
    resources: [{ uri: "file:///README.md", name: "wiki readme" }],
    resourceTemplates: [{ uriTemplate: "wiki://{+path}", name: "article" }]
  },
  {
    name: "down",
    routable: false,
    tools: [],
    prompts: [{ name: "hidden" }],
    resources: [{ uri: "down://x", name: "x" }],
    resourceTemplates: [{ uriTemplate: "down://{y}", name: "y" }]
  }
]

describe("aggregate (resources, templates, prompts)", () => {
  it("prefix: prompts like tools, URIs under vmcp://<backend>/, templates keep their expressions", () => {
    const all = aggregate(catalogs, { conflictResolution: "prefix" })
    expect(all.prompts.map((p) => [p.name, p.backend, p.backendPrompt])).toEqual([
      ["docs_summarize", "docs", "summarize"],
      ["wiki_summarize", "wiki", "summarize"],
      ["wiki_translate", "wiki", "translate"]
    ])
    expect(all.prompts[0]?.prompt).toEqual({ name: "docs_summarize", arguments: [{ name: "topic" }] })
    expect(all.resources.map((r) => [r.uri, r.backend, r.backendUri])).toEqual([
      ["vmcp://docs/docs://only-docs", "docs", "docs://only-docs"],
      ["vmcp://docs/file:///README.md", "docs", "file:///README.md"],
      ["vmcp://wiki/file:///README.md", "wiki", "file:///README.md"]
    ])
    expect(all.resources[1]?.resource).toEqual({
      uri: "vmcp://docs/file:///README.md",
      name: "readme"
    })
    expect(all.resourceTemplates.map((t) => [t.uriTemplate, t.backendUriTemplate])).toEqual([
      ["vmcp://docs/docs://page/{id}", "docs://page/{id}"],
      ["vmcp://wiki/wiki://{+path}", "wiki://{+path}"]
    ])
    // Nothing of the unroutable backend.
    expect(JSON.stringify(all)).not.toContain("down")
  })

  it("prefix: a URI expanded from a prefixed template is the prefix plus the backend's own expansion", () => {
    const template = prefixUriTemplate("docs", "docs://page/{id}")
    const expanded = new UriTemplate(template).expand({ id: "a b/c" })
    expect(unprefixUri(expanded)).toEqual({
      backend: "docs",
      uri: new UriTemplate("docs://page/{id}").expand({ id: "a b/c" })
    })
    const reserved = new UriTemplate(prefixUriTemplate("wiki", "wiki://{+path}")).expand({ path: "a/b" })
    expect(unprefixUri(reserved)).toEqual({ backend: "wiki", uri: "wiki://a/b" })
  })

  it("prefixUri and unprefixUri are inverse for any URI; other URIs are not prefixed ones", () => {
    for (const uri of [
      "file:///a%20b.md",
      "https://x.io/p?q=1&r=%20#frag",
      "urn:isbn:0451450523",
      "demo://a/%2F/b",
      "vmcp://other/nested:x"
    ]) {
      expect(unprefixUri(prefixUri("b-1", uri))).toEqual({ backend: "b-1", uri })
      // A valid URI whose authority is the backend.
      expect(new URL(prefixUri("b-1", uri)).host).toBe("b-1")
    }
    expect(unprefixUri("file:///README.md")).toBeUndefined()
    expect(unprefixUri("vmcp://Bad_Name/x")).toBeUndefined()
    expect(unprefixUri("vmcp://b/")).toBeUndefined()
  })

  it("priority: plain names and URIs, a clash goes to the highest-priority routable backend", () => {
    const all = aggregate(catalogs, { conflictResolution: "priority", priority: ["wiki"] })
    expect(all.prompts.map((p) => [p.name, p.backend])).toEqual([
      ["summarize", "wiki"],
      ["translate", "wiki"]
    ])
    expect(all.resources.map((r) => [r.uri, r.backend])).toEqual([
      ["docs://only-docs", "docs"],
      ["file:///README.md", "wiki"]
    ])
    expect(all.resourceTemplates.map((t) => t.uriTemplate)).toEqual(["docs://page/{id}", "wiki://{+path}"])
    const wikiDown = aggregate(
      catalogs.map((b) => (b.name === "wiki" ? { ...b, routable: false } : b)),
      { conflictResolution: "priority", priority: ["wiki"] }
    )
    expect(wikiDown.prompts.map((p) => [p.name, p.backend])).toEqual([["summarize", "docs"]])
    expect(wikiDown.resources.find((r) => r.uri === "file:///README.md")?.backend).toBe("docs")
  })
})

describe("routeResource", () => {
  const prefix = { conflictResolution: "prefix" } as const
  const priority = { conflictResolution: "priority", priority: ["wiki"] } as const
  const route = (
    options: typeof prefix | typeof priority,
    uri: string,
    backends: ReadonlyArray<AggregationInput> = catalogs
  ) => routeResource(aggregate(backends, options), backends, options, uri)

  it("a listed URI goes to its owner", () => {
    expect(route(prefix, "vmcp://wiki/file:///README.md")).toEqual({
      backend: "wiki",
      uri: "file:///README.md"
    })
    expect(route(priority, "file:///README.md")).toEqual({ backend: "wiki", uri: "file:///README.md" })
  })

  it("prefix: a vmcp:// URI of a routable backend loses its prefix; of an unroutable or unknown one, not routed", () => {
    expect(route(prefix, "vmcp://docs/docs://page/7")).toEqual({
      backend: "docs",
      uri: "docs://page/7"
    })
    expect(route(prefix, prefixUri("down", "down://x"))).toBeUndefined()
    expect(route(prefix, prefixUri("nobody", "a://b"))).toBeUndefined()
  })

  it("a backend-side URI: listed by a routable backend, else matching its template, in clash order", () => {
    // In prefix mode too: links inside results carry the backends' own URIs.
    expect(route(prefix, "docs://only-docs")).toEqual({ backend: "docs", uri: "docs://only-docs" })
    expect(route(prefix, "file:///README.md")).toEqual({ backend: "docs", uri: "file:///README.md" })
    expect(route(priority, "docs://page/3")).toEqual({ backend: "docs", uri: "docs://page/3" })
    expect(route(priority, "wiki://deep/path")).toEqual({ backend: "wiki", uri: "wiki://deep/path" })
    expect(route(priority, "down://x")).toBeUndefined()
  })

  it("an unknown URI goes to the one routable backend offering resources, else nowhere", () => {
    expect(route(priority, "other://thing")).toBeUndefined()
    const single = [catalogs[0]!, { name: "tools-only", routable: true, tools: [] }]
    expect(route(priority, "other://thing", single)).toEqual({ backend: "docs", uri: "other://thing" })
  })
})

describe("changedKinds and capabilitiesOf", () => {
  it("names exactly the kinds whose client-visible lists differ", () => {
    const options = { conflictResolution: "prefix" } as const
    const before = aggregate(catalogs, options)
    expect(changedKinds(before, aggregate(catalogs, options))).toEqual([])
    const withTemplate = catalogs.map((b) =>
      b.name === "docs"
        ? {
            ...b,
            resourceTemplates: [...(b.resourceTemplates ?? []), { uriTemplate: "docs://x/{y}", name: "x" }]
          }
        : b
    )
    expect(changedKinds(before, aggregate(withTemplate, options))).toEqual(["resources"])
    const wikiDown = catalogs.map((b) => (b.name === "wiki" ? { ...b, routable: false } : b))
    expect(changedKinds(before, aggregate(wikiDown, options))).toEqual(["resources", "prompts"])
    const renamed = catalogs.map((b) =>
      b.name === "docs"
        ? { ...b, tools: [tool("new")], prompts: [{ name: "summarize", description: "d" }] }
        : b
    )
    expect(changedKinds(before, aggregate(renamed, options))).toEqual(["tools", "prompts"])
  })

  it("advertises tools always and the other kinds only when offered, each with listChanged", () => {
    expect(capabilitiesOf(undefined)).toEqual({ tools: { listChanged: true } })
    expect(capabilitiesOf({ resources: true, prompts: true, completions: true })).toEqual({
      tools: { listChanged: true },
      resources: { listChanged: true },
      prompts: { listChanged: true },
      completions: {}
    })
    expect(capabilitiesOf({ resources: false, prompts: true, completions: false })).toEqual({
      tools: { listChanged: true },
      prompts: { listChanged: true }
    })
  })
})
