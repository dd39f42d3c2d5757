/**
 * A lean Streamable HTTP MCP backend in a process of its own (so its CPU is not the client's):
 * the SDK's `Server` behind `NodeStreamableHTTPServerTransport`, one transport per 2025-era
 * session, one tool `echo` answering with the text it was given. Nothing else runs in it, so its
 * cost per call is the SDK's, the same whether a call comes straight from a client or via vmcp.
 *
 * Prints one JSON line `{"url": "http://127.0.0.1:<port>/mcp"}` once it listens; exits on
 * SIGTERM or when its stdin closes (the bench went away).
 */
import { randomUUID } from "node:crypto"
import { createServer, type IncomingMessage } from "node:http"
import type { AddressInfo } from "node:net"
import { NodeStreamableHTTPServerTransport } from "@modelcontextprotocol/node"
import { isInitializeRequest, Server } from "@modelcontextprotocol/server"

const sessions = new Map<string, NodeStreamableHTTPServerTransport>()

const makeServer = () => {
  const server = new Server({ name: "bench-backend", version: "0.0.0" }, { capabilities: { tools: {} } })
  server.setRequestHandler("tools/list", () => ({
    tools: [
      {
        name: "echo",
        description: "Answers with the text it was given",
        inputSchema: { type: "object" as const, properties: { text: { type: "string" } } }
      }
    ]
  }))
  server.setRequestHandler("tools/call", (request) => ({
    content: [{ type: "text" as const, text: String(request.params.arguments?.text ?? "") }]
  }))
  return server
}

const readBody = async (req: IncomingMessage): Promise<unknown> => {
  const chunks: Array<Buffer> = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  const text = Buffer.concat(chunks).toString("utf8")
  return text === "" ? undefined : JSON.parse(text)
}

const http = createServer((req, res) => {
  const fail = (status: number, message: string) => {
    if (!res.headersSent) res.writeHead(status, { "content-type": "application/json" })
    res.end(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: -32000, message } }))
  }
  const handle = async () => {
    const body = req.method === "POST" ? await readBody(req) : undefined
    const id = req.headers["mcp-session-id"]
    const existing = typeof id === "string" ? sessions.get(id) : undefined
    if (existing !== undefined) return existing.handleRequest(req, res, body)
    if (typeof id === "string") return fail(404, "Session not found")
    if (req.method !== "POST" || !isInitializeRequest(body)) return fail(400, "No valid session ID provided")
    const transport: NodeStreamableHTTPServerTransport = new NodeStreamableHTTPServerTransport({
      sessionIdGenerator: randomUUID,
      onsessioninitialized: (sessionId) => {
        sessions.set(sessionId, transport)
      },
      onsessionclosed: (sessionId) => {
        sessions.delete(sessionId)
      }
    })
    transport.onclose = () => {
      if (transport.sessionId !== undefined) sessions.delete(transport.sessionId)
    }
    await makeServer().connect(transport)
    return transport.handleRequest(req, res, body)
  }
  handle().catch((error: unknown) => fail(500, error instanceof Error ? error.message : String(error)))
})
http.keepAliveTimeout = 60_000
http.listen(0, "127.0.0.1", () => {
  const { port } = http.address() as AddressInfo
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}/mcp` })}\n`)
})

const stop = () => {
  http.closeAllConnections()
  http.close()
  process.exit(0)
}
process.once("SIGTERM", stop)
process.stdin.on("end", stop).resume()
