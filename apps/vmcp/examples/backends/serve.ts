/**
 * The little bit every example backend shares: a low-level MCP server over stdio whose
 * `tools/list` and `tools/call` come from a table, and an optional `down()` switch that makes
 * every request (ping included) fail, as a broken backend would.
 */
import {
  type JSONRPCMessage,
  ProtocolError,
  ProtocolErrorCode,
  Server,
  type Transport
} from "@modelcontextprotocol/server"
import { StdioServerTransport, serveStdio } from "@modelcontextprotocol/server/stdio"

export interface ExampleTool {
  readonly name: string
  readonly description: string
  readonly properties?: Record<string, { readonly type: string; readonly description: string }>
  readonly run: (args: Record<string, unknown>) => string
}

export const serveTools = (
  name: string,
  tools: ReadonlyArray<ExampleTool>,
  down: () => boolean = () => false
) => {
  const inner = new StdioServerTransport()
  const outer: Transport = {
    start: () => inner.start(),
    send: (message) => inner.send(message),
    close: () => inner.close()
  }
  inner.onclose = () => outer.onclose?.()
  inner.onerror = (error) => outer.onerror?.(error)
  inner.onmessage = (message: JSONRPCMessage) => {
    if ("method" in message && "id" in message && down() && message.method !== "initialize") {
      void inner.send({ jsonrpc: "2.0", id: message.id, error: { code: -32603, message: `${name} is down` } })
      return
    }
    outer.onmessage?.(message)
  }
  serveStdio(
    () => {
      const server = new Server(
        { name, version: "0.1.0" },
        { capabilities: { tools: { listChanged: true } } }
      )
      server.setRequestHandler("tools/list", () => ({
        tools: tools.map((t) => ({
          name: t.name,
          description: t.description,
          inputSchema: { type: "object" as const, properties: t.properties ?? {} }
        }))
      }))
      server.setRequestHandler("tools/call", (request) => {
        const tool = tools.find((t) => t.name === request.params.name)
        if (tool === undefined)
          throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Tool ${request.params.name} not found`)
        return { content: [{ type: "text" as const, text: tool.run(request.params.arguments ?? {}) }] }
      })
      return server
    },
    { transport: outer }
  )
}
