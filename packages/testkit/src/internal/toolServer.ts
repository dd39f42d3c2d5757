import { ProtocolError, ProtocolErrorCode, Server } from "@modelcontextprotocol/server"

/**
 * A tool a fixture exposes. Tools are plain data so the same definition can travel through
 * argv/env to the stdio fixture; `inputSchema` is a JSON Schema object.
 */
export interface FixtureTool {
  readonly name: string
  readonly description?: string
  readonly inputSchema?: { readonly type: "object"; readonly [key: string]: unknown }
  /** The text `tools/call` answers with; defaults to `"<name> ok"`. */
  readonly text?: string
  /** Answer `tools/call` with a tool-level error (`isError: true`) instead of a result. */
  readonly isError?: boolean
}

/** A prompt a fixture exposes: `prompts/get` answers with one user message, `text`. */
export interface FixturePrompt {
  readonly name: string
  readonly description?: string
  /** Argument names; `{name}` in `text` is replaced by the argument's value. */
  readonly arguments?: ReadonlyArray<string>
  /** Default `"<name> prompt"`. */
  readonly text?: string
}

/** A resource a fixture exposes: `resources/read` answers with `text`. */
export interface FixtureResource {
  readonly uri: string
  readonly name: string
  /** Default `"<uri> contents"`. */
  readonly text?: string
}

/** Prompts and resources besides tools; a kind is advertised only when its list is given. */
export interface FixtureCatalog {
  readonly prompts?: () => ReadonlyArray<FixturePrompt>
  readonly resources?: () => ReadonlyArray<FixtureResource>
}

export interface FixtureInfo {
  readonly name: string
  readonly version: string
}

/**
 * Builds a low-level MCP server whose `tools/list` and `tools/call` read the current tool set
 * on every request, so a change to the set is visible immediately to every session.
 */
export const makeToolServer = (
  info: FixtureInfo,
  tools: () => ReadonlyArray<FixtureTool>,
  catalog: FixtureCatalog = {}
): Server => {
  const server = new Server(
    { name: info.name, version: info.version },
    {
      capabilities: {
        tools: { listChanged: true },
        ...(catalog.prompts === undefined ? {} : { prompts: { listChanged: true } }),
        ...(catalog.resources === undefined ? {} : { resources: { listChanged: true } })
      }
    }
  )
  server.setRequestHandler("tools/list", () => ({
    tools: tools().map((tool) => ({
      name: tool.name,
      ...(tool.description === undefined ? {} : { description: tool.description }),
      inputSchema: { ...(tool.inputSchema ?? { type: "object" as const }) }
    }))
  }))
  server.setRequestHandler("tools/call", (request) => {
    const tool = tools().find((t) => t.name === request.params.name)
    if (tool === undefined) {
      throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Tool ${request.params.name} not found`)
    }
    return {
      content: [{ type: "text" as const, text: tool.text ?? `${tool.name} ok` }],
      ...(tool.isError ? { isError: true } : {})
    }
  })
  const { prompts, resources } = catalog
  if (prompts !== undefined) {
    server.setRequestHandler("prompts/list", () => ({
      prompts: prompts().map((p) => ({
        name: p.name,
        ...(p.description === undefined ? {} : { description: p.description }),
        ...(p.arguments === undefined ? {} : { arguments: p.arguments.map((name) => ({ name })) })
      }))
    }))
    server.setRequestHandler("prompts/get", (request) => {
      const prompt = prompts().find((p) => p.name === request.params.name)
      if (prompt === undefined)
        throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Prompt ${request.params.name} not found`)
      const args = request.params.arguments ?? {}
      const text = (prompt.text ?? `${prompt.name} prompt`).replace(
        /\{(\w+)\}/g,
        (m, k: string) => args[k] ?? m
      )
      return { messages: [{ role: "user" as const, content: { type: "text" as const, text } }] }
    })
  }
  if (resources !== undefined) {
    server.setRequestHandler("resources/list", () => ({
      resources: resources().map((r) => ({ uri: r.uri, name: r.name }))
    }))
    server.setRequestHandler("resources/templates/list", () => ({ resourceTemplates: [] }))
    server.setRequestHandler("resources/read", (request) => {
      const resource = resources().find((r) => r.uri === request.params.uri)
      if (resource === undefined)
        throw new ProtocolError(
          ProtocolErrorCode.ResourceNotFound,
          `Resource ${request.params.uri} not found`,
          {
            uri: request.params.uri
          }
        )
      return { contents: [{ uri: resource.uri, text: resource.text ?? `${resource.uri} contents` }] }
    })
  }
  return server
}

/** A JSON-RPC error answer for `id`, the shape every fixture's failing mode uses. */
export const jsonRpcError = (id: unknown, code: number, message: string) => ({
  jsonrpc: "2.0" as const,
  id,
  error: { code, message }
})
