import { getEventListeners } from "node:events"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { afterEach, describe, expect, it } from "vitest"
import {
  boundedFetch,
  RESPONSE_TOO_LARGE_RPC_CODE,
  ResponseTooLargeError
} from "../src/gateway/BoundedFetch.ts"

const encoder = new TextEncoder()

/** A response whose body yields `chunks`, counting how many were pulled. */
const streamed = (chunks: ReadonlyArray<string>, headers: Record<string, string>) => {
  let pulled = 0
  const body = new ReadableStream<Uint8Array>(
    {
      pull: (controller) => {
        const next = chunks[pulled]
        if (next === undefined) return controller.close()
        pulled++
        controller.enqueue(encoder.encode(next))
      }
      // Pulled only when read: `pulled` counts what the reader asked for.
    },
    { highWaterMark: 0 }
  )
  return { response: new Response(body, { headers }), pulled: () => pulled }
}

const servers: Array<{ close: () => void; closeAllConnections: () => void }> = []
afterEach(() => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections()
    s.close()
  }
})

/** A real HTTP server on loopback: `/hang` never answers, anything else answers `{}`. */
const startServer = async () => {
  const server = createServer((req, res) => {
    if (req.url === "/hang") return
    res.writeHead(200, { "content-type": "application/json" }).end("{}")
  })
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

describe("boundedFetch", () => {
  it("leaves no listener on the caller's long-lived signal once each response is read", async () => {
    const base = await startServer()
    const transport = new AbortController()
    const fetch = boundedFetch(1024 * 1024)
    for (let i = 0; i < 50; i++) {
      const response = await fetch(`${base}/mcp`, { method: "POST", body: "{}", signal: transport.signal })
      expect(await response.json()).toEqual({})
    }
    // Node's own fetch would have added one listener per request, kept until garbage collection.
    expect(getEventListeners(transport.signal, "abort")).toHaveLength(0)
  })

  it("aborts a request in flight when the caller's signal aborts", async () => {
    const base = await startServer()
    const transport = new AbortController()
    const pending = boundedFetch(1024 * 1024)(`${base}/hang`, {
      method: "POST",
      body: "{}",
      signal: transport.signal
    })
    expect(getEventListeners(transport.signal, "abort")).toHaveLength(1)
    transport.abort(new Error("transport closed"))
    await expect(pending).rejects.toThrow("transport closed")
    expect(getEventListeners(transport.signal, "abort")).toHaveLength(0)
  })

  it("bounds each SSE event, not the stream: many small events pass however long the stream", async () => {
    const events = Array.from({ length: 100 }, (_, i) => `event: message\ndata: ${"x".repeat(1000)}${i}\n\n`)
    const { response } = streamed(events, { "content-type": "text/event-stream" })
    const fetch = boundedFetch(4096, async () => response)
    const text = await (await fetch("http://127.0.0.1:1/mcp", { method: "GET" })).text()
    expect(text).toBe(events.join(""))
  })

  it("answers a POST's requests with a JSON-RPC error when one SSE event passes the bound, and stops reading", async () => {
    const chunks = ["event: message\ndata: {", ...Array.from({ length: 1000 }, () => "y".repeat(1024))]
    const { response, pulled } = streamed(chunks, { "content-type": "text/event-stream" })
    const fetch = boundedFetch(8192, async () => response)
    const text = await (
      await fetch("http://127.0.0.1:1/mcp", {
        method: "POST",
        body: JSON.stringify({ jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "x" } })
      })
    ).text()
    const last = text.trimEnd().split("\n").at(-1)!
    expect(JSON.parse(last.replace(/^data: /, ""))).toMatchObject({
      id: 7,
      error: { code: RESPONSE_TOO_LARGE_RPC_CODE, data: { code: "RESPONSE_TOO_LARGE", limitBytes: 8192 } }
    })
    expect(pulled()).toBeLessThan(20)
  })

  it("refuses a JSON body by its Content-Length before reading any of it", async () => {
    const { response, pulled } = streamed(["{}"], {
      "content-type": "application/json",
      "content-length": String(64 * 1024 * 1024)
    })
    const fetch = boundedFetch(1024 * 1024, async () => response)
    const answer = await fetch("http://127.0.0.1:1/mcp", { method: "POST", body: "{}" })
    await expect(answer.json()).rejects.toBeInstanceOf(ResponseTooLargeError)
    expect(pulled()).toBe(0)
  })

  it("passes a JSON body within the bound unchanged", async () => {
    const { response } = streamed(['{"jsonrpc":"2.0",', '"id":1,"result":{}}'], {
      "content-type": "application/json"
    })
    const fetch = boundedFetch(1024, async () => response)
    expect(await (await fetch("http://127.0.0.1:1/mcp", { method: "POST", body: "{}" })).json()).toEqual({
      jsonrpc: "2.0",
      id: 1,
      result: {}
    })
  })
})
