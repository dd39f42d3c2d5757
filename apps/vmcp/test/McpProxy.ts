import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { Readable } from "node:stream"

/**
 * What the proxy does with a `tools/call` (everything else is forwarded as is):
 * - `forward`: forwards it;
 * - `hold`: keeps it until `release()`, then forwards it (a tool that blocks);
 * - `endless`: answers 200 with a body that never ends (`json`: one JSON value being written;
 *   `sse`: one SSE event being written), until the client hangs up.
 */
export type ToolsCallMode = "forward" | "hold" | { readonly endless: "json" | "sse" }

export interface McpProxy {
  /** The proxy's MCP URL. */
  readonly url: string
  setMode: (mode: ToolsCallMode) => void
  /** `tools/call` requests held now. */
  readonly held: () => number
  /** Forwards every held call. */
  readonly release: () => void
  /** Bytes written to endless answers so far, and how many of them the client hung up on. */
  readonly endless: () => { readonly bytes: number; readonly hungUp: number }
  readonly close: () => Promise<void>
}

const readBody = async (req: IncomingMessage): Promise<Buffer> => {
  const chunks: Array<Buffer> = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

const isToolsCall = (body: Buffer): boolean => {
  try {
    const parsed: unknown = JSON.parse(body.toString("utf8"))
    return (
      typeof parsed === "object" && parsed !== null && "method" in parsed && parsed.method === "tools/call"
    )
  } catch {
    return false
  }
}

const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "content-length", "host"])

/**
 * A plain HTTP proxy on 127.0.0.1 in front of a real MCP backend that can hold `tools/call`
 * requests or answer them with a body that never ends.
 */
export const startMcpProxy = async (upstream: string): Promise<McpProxy> => {
  let mode: ToolsCallMode = "forward"
  let waiting: Array<() => void> = []
  let bytes = 0
  let hungUp = 0
  const chunk = Buffer.alloc(64 * 1024, "x")

  const forward = async (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    const headers = new Headers()
    for (const [key, value] of Object.entries(req.headers))
      if (!HOP_BY_HOP.has(key) && typeof value === "string") headers.set(key, value)
    const controller = new AbortController()
    res.on("close", () => controller.abort())
    try {
      const answer = await fetch(upstream, {
        method: req.method ?? "GET",
        headers,
        signal: controller.signal,
        ...(body.length > 0 ? { body } : {})
      })
      const out: Record<string, string> = {}
      answer.headers.forEach((value, key) => {
        if (!HOP_BY_HOP.has(key)) out[key] = value
      })
      res.writeHead(answer.status, out)
      if (answer.body === null) {
        res.end()
        return
      }
      Readable.fromWeb(answer.body as import("node:stream/web").ReadableStream).pipe(res)
    } catch {
      if (!res.headersSent) res.writeHead(502)
      res.end()
    }
  }

  const endless = (res: ServerResponse, kind: "json" | "sse") => {
    res.writeHead(200, { "content-type": kind === "json" ? "application/json" : "text/event-stream" })
    res.write(
      kind === "json"
        ? '{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"'
        : 'event: message\ndata: {"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"'
    )
    let open = true
    res.on("close", () => {
      open = false
      hungUp++
    })
    const pump = () => {
      while (open && res.write(chunk)) bytes += chunk.length
      if (open) res.once("drain", pump)
    }
    pump()
  }

  const server = createServer((req, res) => {
    void readBody(req).then(async (body): Promise<void> => {
      if (req.method === "POST" && isToolsCall(body)) {
        const current = mode
        if (current === "hold") {
          waiting.push(() => void forward(req, res, body))
          return
        }
        if (current !== "forward") return endless(res, current.endless)
      }
      await forward(req, res, body)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const port = (server.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    setMode: (next) => {
      mode = next
    },
    held: () => waiting.length,
    release: () => {
      const ready = waiting
      waiting = []
      for (const go of ready) go()
    },
    endless: () => ({ bytes, hungUp }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
  }
}
