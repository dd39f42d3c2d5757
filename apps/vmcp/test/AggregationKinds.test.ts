import { createRequire } from "node:module"
import {
  Client,
  ProtocolError,
  ResourceNotFoundError,
  StreamableHTTPClientTransport
} from "@modelcontextprotocol/client"
import { UriTemplate } from "@modelcontextprotocol/server"
import type { RuntimeStatus } from "@vmcp-status/core"
import { type McpBackendHandle, startMcpBackend } from "@vmcp-status/testkit"
import { Effect, Exit, Scope } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { decodeConfig } from "../src/Config.ts"
import { prefixUri, prefixUriTemplate } from "../src/gateway/Aggregation.ts"
import { makeBackendConnection } from "../src/gateway/BackendConnection.ts"
import { makeGateway } from "../src/gateway/Gateway.ts"
import { makeMcpEndpoint } from "../src/gateway/McpEndpoint.ts"
import { startHttpServer } from "../src/server/HttpServer.ts"
import { recorder, wire } from "./wiring.ts"

/**
 * The gateway in front of two instances of the reference MCP server published on npm
 * (`@modelcontextprotocol/server-everything`, over stdio: tools, resources, resource templates,
 * prompts, completions; the same names in both, so every kind clashes) and the testkit's HTTP
 * fixture (prompts and resources that change on demand), with a real SDK client.
 */

const require = createRequire(import.meta.url)
const everythingBin = require
  .resolve("@modelcontextprotocol/server-everything/package.json")
  .replace(/package\.json$/, "dist/index.js")

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined)
})

/** Notifications of one method, counted; `next()` resolves on the next one: no polling. */
const notifications = () => {
  let waiting: Array<() => void> = []
  let count = 0
  return {
    notify: () => {
      count++
      const ready = waiting
      waiting = []
      for (const resolve of ready) resolve()
    },
    next: () => new Promise<void>((resolve) => waiting.push(resolve)),
    count: () => count
  }
}

/**
 * Waits for a change announced after `since` (a count of `changes`) and a list that `holds`,
 * listing again after every announcement: server-everything also announces list changes of its
 * own at any time, so one notification alone proves nothing about the list.
 */
const untilListed = async <A>(
  changes: ReturnType<typeof notifications>,
  since: number,
  list: () => Promise<A>,
  holds: (listed: A) => boolean
): Promise<A> => {
  for (;;) {
    const before = changes.count()
    const listed = await list()
    if (holds(listed) && before > since) return listed
    if (changes.count() === before) await changes.next()
  }
}

const backendOf = (status: RuntimeStatus, name: string) => status.backends.find((b) => b.name === name)

const WEB_PROMPT_TEXT = "the web fixture's simple prompt"
const SHARED_URI = "demo://resource/static/document/architecture.md"

const setup = async (aggregation: Record<string, unknown>) => {
  const web: McpBackendHandle = await startMcpBackend({
    name: "web",
    tools: [{ name: "echo", text: "web echo" }],
    prompts: [
      { name: "simple-prompt", text: WEB_PROMPT_TEXT },
      { name: "greet", arguments: ["who"], text: "hello {who}" }
    ],
    resources: [{ uri: SHARED_URI, name: "architecture", text: "web's architecture" }]
  })
  cleanups.push(() => web.close())
  const config = Effect.runSync(
    decodeConfig(
      {
        aggregation,
        calls: { timeout: "20s" },
        health: { interval: "200ms", timeout: "20s", slowThreshold: "10s", unhealthyThreshold: 1 },
        backends: [
          { name: "alpha", transport: "stdio", command: "node", args: [everythingBin, "stdio"] },
          { name: "beta", transport: "stdio", command: "node", args: [everythingBin, "stdio"] },
          { name: "web", transport: "streamable-http", url: web.url }
        ]
      },
      "test"
    )
  )
  const scope = Effect.runSync(Scope.make())
  cleanups.push(() => Effect.runPromise(Scope.close(scope, Exit.void)))
  const wired = await wire(
    scope,
    config,
    config.backends.map((b) => makeBackendConnection(b))
  )
  const { gateway } = wired
  cleanups.push(() => gateway.close())
  const endpoint = makeMcpEndpoint({ name: "vmcp", version: "0.0.0", router: gateway })
  cleanups.push(() => endpoint.close())
  await wired.serve(endpoint)
  const http = await startHttpServer({
    host: "127.0.0.1",
    port: 0,
    endpoint,
    ready: () => true,
    status: () => undefined
  })
  cleanups.push(() => http.close())
  const { reporter, published } = recorder()
  await wired.startStatus({ reporters: [reporter] })
  // Every backend healthy and discovered: its prompts counted.
  const ready = await published((s) =>
    s.backends.every((b) => b.health === "healthy" && (b.promptCount ?? 0) > 0)
  )
  const changes = { tools: notifications(), resources: notifications(), prompts: notifications() }
  const connect = async (modern = false) => {
    const client = new Client(
      { name: "test-client", version: "0.0.0" },
      {
        ...(modern ? { versionNegotiation: { mode: "auto" as const } } : {}),
        listChanged: {
          tools: { autoRefresh: false, debounceMs: 0, onChanged: changes.tools.notify },
          resources: { autoRefresh: false, debounceMs: 0, onChanged: changes.resources.notify },
          prompts: { autoRefresh: false, debounceMs: 0, onChanged: changes.prompts.notify }
        }
      }
    )
    await client.connect(new StreamableHTTPClientTransport(new URL(`${http.url}/mcp`)))
    cleanups.push(() => client.close())
    return client
  }
  return { web, gateway, published, ready, changes, client: await connect(), connect }
}

const textOf = (content: unknown): string =>
  typeof content === "object" && content !== null && "text" in content ? String(content.text) : ""

describe("aggregation of every kind (server-everything ×2 over stdio + an HTTP fixture)", () => {
  it("prefix: lists, reads, gets and completes each kind under the backend's prefix; counts in the status", async () => {
    const { client, ready } = await setup({ conflictResolution: "prefix" })
    const caps = client.getServerCapabilities()
    expect(caps).toMatchObject({
      tools: { listChanged: true },
      resources: { listChanged: true },
      prompts: { listChanged: true },
      completions: {}
    })
    // Subscriptions are not offered.
    expect(caps?.resources?.subscribe).toBeUndefined()

    // Prompts: `<backend>_<name>`, the clash between alpha and beta resolved by the prefix.
    const { prompts } = await client.listPrompts(undefined, { cacheMode: "bypass" })
    const names = prompts.map((p) => p.name)
    for (const name of ["simple-prompt", "args-prompt", "completable-prompt", "resource-prompt"])
      expect(names).toEqual(expect.arrayContaining([`alpha_${name}`, `beta_${name}`]))
    expect(names).toEqual(expect.arrayContaining(["web_simple-prompt", "web_greet"]))
    const args = await client.getPrompt({ name: "beta_args-prompt", arguments: { city: "Lyon" } })
    expect(textOf(args.messages[0]?.content)).toContain("Lyon")
    const web = await client.getPrompt({ name: "web_simple-prompt" })
    expect(textOf(web.messages[0]?.content)).toBe(WEB_PROMPT_TEXT)
    const greet = await client.getPrompt({ name: "web_greet", arguments: { who: "Ada" } })
    expect(textOf(greet.messages[0]?.content)).toBe("hello Ada")

    // Resources: `vmcp://<backend>/<uri encoded>`; the same URI from two backends stays apart.
    const { resources } = await client.listResources(undefined, { cacheMode: "bypass" })
    const uris = resources.map((r) => r.uri)
    expect(uris).toEqual(
      expect.arrayContaining([
        prefixUri("alpha", SHARED_URI),
        prefixUri("beta", SHARED_URI),
        prefixUri("web", SHARED_URI)
      ])
    )
    expect(uris.every((u) => u.startsWith("vmcp://"))).toBe(true)
    const fromAlpha = await client.readResource(
      { uri: prefixUri("alpha", SHARED_URI) },
      { cacheMode: "bypass" }
    )
    expect(fromAlpha.contents[0]?.uri).toBe(prefixUri("alpha", SHARED_URI))
    expect(textOf(fromAlpha.contents[0])).toContain("Everything Server")
    const fromWeb = await client.readResource({ uri: prefixUri("web", SHARED_URI) }, { cacheMode: "bypass" })
    expect(textOf(fromWeb.contents[0])).toBe("web's architecture")

    // Templates: the prefix with the expressions kept; an expansion reads through the gateway.
    const { resourceTemplates } = await client.listResourceTemplates(undefined, { cacheMode: "bypass" })
    const template = prefixUriTemplate("alpha", "demo://resource/dynamic/text/{resourceId}")
    expect(resourceTemplates.map((t) => t.uriTemplate)).toEqual(
      expect.arrayContaining([
        template,
        prefixUriTemplate("beta", "demo://resource/dynamic/text/{resourceId}")
      ])
    )
    const expanded = new UriTemplate(template).expand({ resourceId: "42" })
    const dynamic = await client.readResource({ uri: expanded }, { cacheMode: "bypass" })
    expect(textOf(dynamic.contents[0])).toContain("Resource 42:")
    expect(dynamic.contents[0]?.uri).toBe(expanded)

    // Completions: a prompt argument and a template variable, refs mapped back to the backend's.
    const department = await client.complete({
      ref: { type: "ref/prompt", name: "alpha_completable-prompt" },
      argument: { name: "department", value: "Eng" }
    })
    expect(department.completion.values).toEqual(["Engineering"])
    const resourceId = await client.complete({
      ref: { type: "ref/resource", uri: template },
      argument: { name: "resourceId", value: "7" }
    })
    expect(resourceId.completion.values).toEqual(["7"])

    // Unknown names answer errors, not hangs.
    await expect(client.getPrompt({ name: "nobody_simple-prompt" })).rejects.toThrow(/not found/)
    await expect(
      client.readResource({ uri: prefixUri("nobody", SHARED_URI) }, { cacheMode: "bypass" })
    ).rejects.toBeInstanceOf(ProtocolError)

    // The status counts each kind per backend, and the routable totals.
    expect(backendOf(ready, "alpha")).toMatchObject({
      resourceCount: 7,
      resourceTemplateCount: 2,
      promptCount: 4
    })
    expect(backendOf(ready, "web")).toMatchObject({
      resourceCount: 1,
      resourceTemplateCount: 0,
      promptCount: 2
    })
    expect(ready.totalPromptCount).toBe(10)
    expect(ready.totalResourceCount).toBe(15)
    expect(ready.totalResourceTemplateCount).toBe(4)
  }, 120_000)

  it("priority: plain names and URIs, the configured backend wins a clash, the next takes over when it is unroutable", async () => {
    const { client, web, changes, published } = await setup({
      conflictResolution: "priority",
      priority: ["web", "beta"]
    })
    const { prompts } = await client.listPrompts(undefined, { cacheMode: "bypass" })
    expect(prompts.map((p) => p.name).sort()).toEqual([
      "args-prompt",
      "completable-prompt",
      "greet",
      "resource-prompt",
      "simple-prompt"
    ])
    // The clashing prompt and resource URI go to web, the highest priority.
    const simple = await client.getPrompt({ name: "simple-prompt" })
    expect(textOf(simple.messages[0]?.content)).toBe(WEB_PROMPT_TEXT)
    const shared = await client.readResource({ uri: SHARED_URI }, { cacheMode: "bypass" })
    expect(textOf(shared.contents[0])).toBe("web's architecture")
    const { resources } = await client.listResources(undefined, { cacheMode: "bypass" })
    expect(resources.filter((r) => r.uri === SHARED_URI)).toHaveLength(1)
    // Templates keep their URIs; an expansion is routed by the template that matches it.
    const { resourceTemplates } = await client.listResourceTemplates(undefined, { cacheMode: "bypass" })
    expect(resourceTemplates.map((t) => t.uriTemplate).sort()).toEqual([
      "demo://resource/dynamic/blob/{resourceId}",
      "demo://resource/dynamic/text/{resourceId}"
    ])
    const dynamic = await client.readResource(
      { uri: "demo://resource/dynamic/text/5" },
      { cacheMode: "bypass" }
    )
    expect(textOf(dynamic.contents[0])).toContain("Resource 5:")
    const completed = await client.complete({
      ref: { type: "ref/prompt", name: "completable-prompt" },
      argument: { name: "department", value: "Sa" }
    })
    expect(completed.completion.values).toEqual(["Sales"])

    // web goes down: unhealthy, so unroutable; its prompt and resource are hidden, clients are
    // told, and beta (next in priority) answers the clashing names.
    const promptsBefore = changes.prompts.count()
    await web.setMode("down")
    const after = await untilListed(
      changes.prompts,
      promptsBefore,
      () => client.listPrompts(undefined, { cacheMode: "bypass" }),
      (listed) => !listed.prompts.some((p) => p.name === "greet")
    )
    expect(after.prompts.map((p) => p.name)).not.toContain("greet")
    const fallback = await client.getPrompt({ name: "simple-prompt" })
    expect(textOf(fallback.messages[0]?.content)).toBe("This is a simple prompt without arguments.")
    const everything = await client.readResource({ uri: SHARED_URI }, { cacheMode: "bypass" })
    expect(textOf(everything.contents[0])).toContain("Everything Server")
    await expect(client.getPrompt({ name: "greet", arguments: { who: "x" } })).rejects.toThrow(/not found/)
    // The status: web's own counts stay the last discovered, the totals leave it out.
    const down = await published((s) => backendOf(s, "web")?.health === "unhealthy")
    expect(backendOf(down, "web")).toMatchObject({ promptCount: 2, resourceCount: 1 })
    expect(down.totalPromptCount).toBe(8)
    expect(down.totalResourceCount).toBe(14)
  }, 120_000)

  it("list_changed: a backend's new resource or prompt reaches 2025 and 2026-07 clients, with counts following", async () => {
    const { client, web, changes, published, connect, gateway } = await setup({
      conflictResolution: "prefix"
    })
    // A real backend announces resources/list_changed: server-everything registers a session
    // resource when its gzip tool runs with resourceLink output (a data: URI, no network).
    const resourcesBefore = changes.resources.count()
    const result = await client.callTool({
      name: "alpha_gzip-file-as-resource",
      arguments: { name: "hello.txt.gz", data: "data:text/plain;base64,aGVsbG8=", outputType: "resourceLink" }
    })
    expect(result.isError).not.toBe(true)
    const sessionUri = "demo://resource/session/hello.txt.gz"
    await untilListed(
      changes.resources,
      resourcesBefore,
      () => client.listResources(undefined, { cacheMode: "bypass" }),
      (listed) => listed.resources.some((r) => r.uri === prefixUri("alpha", sessionUri))
    )
    // The tool's resource_link carries the backend's own URI; reading it through the gateway
    // works too (it is listed by exactly one backend).
    const link = (result.content as ReadonlyArray<{ type: string; uri?: string }>).find(
      (c) => c.type === "resource_link"
    )
    expect(link?.uri).toBe(sessionUri)
    const read = await client.readResource({ uri: sessionUri }, { cacheMode: "bypass" })
    expect(read.contents[0]).toHaveProperty("blob")
    const counted = await published((s) => backendOf(s, "alpha")?.resourceCount === 8)
    expect(counted.totalResourceCount).toBe(16)

    // prompts/list_changed from the HTTP fixture, to a 2025-era and a 2026-07 client.
    const modern = await connect(true)
    expect(modern.getProtocolEra()).toBe("modern")
    const promptsChanged = changes.prompts.next()
    const seen = changes.prompts.count()
    await web.addPrompt({ name: "farewell", text: "bye" })
    await promptsChanged
    while (changes.prompts.count() < seen + 2) await changes.prompts.next()
    const listed = await modern.listPrompts(undefined, { cacheMode: "bypass" })
    expect(listed.prompts.map((p) => p.name)).toContain("web_farewell")
    expect(gateway.prompts().map((p) => p.name)).toContain("web_farewell")
    const got = await client.getPrompt({ name: "web_farewell" })
    expect(textOf(got.messages[0]?.content)).toBe("bye")
    await published((s) => backendOf(s, "web")?.promptCount === 3)

    // A resource removed from the fixture leaves the list, and clients are told.
    const beforeRemoval = changes.resources.count()
    await web.removeResource(SHARED_URI)
    const rest = await untilListed(
      changes.resources,
      beforeRemoval,
      () => client.listResources(undefined, { cacheMode: "bypass" }),
      (listed) => !listed.resources.some((r) => r.uri === prefixUri("web", SHARED_URI))
    )
    expect(rest.resources.map((r) => r.uri)).not.toContain(prefixUri("web", SHARED_URI))
  }, 120_000)

  it("tools only: a gateway whose backends offer no resources or prompts advertises neither", async () => {
    const only = await startMcpBackend({ name: "only", tools: [{ name: "echo" }] })
    cleanups.push(() => only.close())
    const config = Effect.runSync(
      decodeConfig({ backends: [{ name: "only", transport: "streamable-http", url: only.url }] }, "test")
    )
    const connection = makeBackendConnection(config.backends[0]!)
    const gateway = makeGateway(config, [connection])
    cleanups.push(() => gateway.close())
    await connection.discover({ timeoutMs: 20_000 })
    gateway.setRoutable("only", true)
    const endpoint = makeMcpEndpoint({ name: "vmcp", version: "0.0.0", router: gateway })
    cleanups.push(() => endpoint.close())
    const http = await startHttpServer({
      host: "127.0.0.1",
      port: 0,
      endpoint,
      ready: () => true,
      status: () => undefined
    })
    cleanups.push(() => http.close())
    const client = new Client({ name: "test-client", version: "0.0.0" })
    await client.connect(new StreamableHTTPClientTransport(new URL(`${http.url}/mcp`)))
    cleanups.push(() => client.close())
    expect(client.getServerCapabilities()).toEqual({ tools: { listChanged: true } })
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual(["only_echo"])
  }, 60_000)

  it("discovery: a failing prompts/list keeps the last prompts and the backend healthy; a failing tools/list fails it", async () => {
    const fixture = await startMcpBackend({ name: "fx", prompts: [{ name: "kept" }], resources: [] })
    cleanups.push(() => fixture.close())
    const connection = makeBackendConnection({
      name: "fx",
      transport: "streamable-http",
      url: fixture.url,
      args: [],
      env: {},
      headers: {}
    })
    cleanups.push(() => connection.close())
    const first = await connection.discover({ timeoutMs: 20_000 })
    expect(first.prompts.map((p) => p.name)).toEqual(["kept"])
    expect(first.resources).toEqual([])
    await fixture.setMode({ kind: "failing", methods: ["prompts/list"] })
    await fixture.addPrompt({ name: "unseen" })
    const again = await connection.discover({ timeoutMs: 20_000 })
    expect(again.tools.map((t) => t.name)).toEqual(["echo"])
    expect(connection.prompts().map((p) => p.name)).toEqual(["kept"])
    await fixture.setMode({ kind: "failing", methods: ["tools/list"] })
    await expect(connection.discover({ timeoutMs: 20_000 })).rejects.toThrow()
    await fixture.setMode("up")
    const back = await connection.discover({ timeoutMs: 20_000 })
    expect(back.prompts.map((p) => p.name).sort()).toEqual(["kept", "unseen"])
  }, 60_000)

  it("a backend's 'not found' on resources/read reaches the client as not found for its URI, the backend's secrets redacted", async () => {
    const secret = "Bearer s3cr3t-t0ken-value"
    const fixture = await startMcpBackend({
      name: "fx",
      resources: [{ uri: "docs://readme", name: "readme" }]
    })
    cleanups.push(() => fixture.close())
    const config = Effect.runSync(
      decodeConfig(
        {
          backends: [
            { name: "fx", transport: "streamable-http", url: fixture.url, headers: { authorization: secret } }
          ]
        },
        "test"
      )
    )
    const connection = makeBackendConnection(config.backends[0]!)
    const gateway = makeGateway(config, [connection])
    cleanups.push(() => gateway.close())
    await connection.discover({ timeoutMs: 20_000 })
    gateway.setRoutable("fx", true)
    const endpoint = makeMcpEndpoint({ name: "vmcp", version: "0.0.0", router: gateway })
    cleanups.push(() => endpoint.close())
    const http = await startHttpServer({
      host: "127.0.0.1",
      port: 0,
      endpoint,
      ready: () => true,
      status: () => undefined
    })
    cleanups.push(() => http.close())
    const client = new Client({ name: "test-client", version: "0.0.0" })
    await client.connect(new StreamableHTTPClientTransport(new URL(`${http.url}/mcp`)))
    cleanups.push(() => client.close())
    const uri = prefixUri("fx", "docs://readme")
    await fixture.setMode({
      kind: "failing",
      code: -32002,
      message: `not found; you sent ${secret}`,
      methods: ["resources/read"]
    })
    const error = await client.readResource({ uri }, { cacheMode: "bypass" }).then(
      () => undefined,
      (e: unknown) => e
    )
    // "Not found" naming the URI the client asked for (the SDK emits it as -32602 with data.uri).
    expect(error).toBeInstanceOf(ResourceNotFoundError)
    expect((error as ResourceNotFoundError).uri).toBe(uri)
    expect((error as ProtocolError).message).toContain("not found")
    expect((error as ProtocolError).message).not.toContain("s3cr3t-t0ken-value")
    // The fixture back up: the same URI reads.
    await fixture.setMode("up")
    const read = await client.readResource({ uri }, { cacheMode: "bypass" })
    expect(read.contents).toEqual([{ uri, text: "docs://readme contents" }])
  }, 60_000)
})
