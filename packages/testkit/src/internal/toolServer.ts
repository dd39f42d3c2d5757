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

export interface FixtureInfo {
  readonly name: string
  readonly version: string
}

/**
 * Builds a low-level MCP server whose `tools/list` and `tools/call` read the current tool set
 * on every request, so a change to the set is visible immediately to every session.
 */
export const makeToolServer = (info: FixtureInfo, tools: () => ReadonlyArray<FixtureTool>): Server => {
  const server = new Server(
    { name: info.name, version: info.version },
    { capabilities: { tools: { listChanged: true } } }
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
  return server
}

/** A JSON-RPC error answer for `id`, the shape every fixture's failing mode uses. */
export const jsonRpcError = (id: unknown, code: number, message: string) => ({
  jsonrpc: "2.0" as const,
  id,
  error: { code, message }
})
