import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import type { Readable } from "node:stream"

/** A loopback HTTP server answering every path with 200 after ~2 ms: many plain-HTTP backends. */
export const startHttpBackends = async () => {
  const server = createServer((_req, res) => {
    setTimeout(() => res.writeHead(200, { "content-type": "text/plain" }).end("ok"), 2)
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}

/** Reads a stream line by line: `next()` resolves with the next full line. */
export const readLines = (stream: Readable) => {
  let buffer = ""
  const queue: Array<string> = []
  const waiting: Array<(line: string) => void> = []
  stream.setEncoding("utf8")
  stream.on("data", (chunk: string) => {
    buffer += chunk
    let i = buffer.indexOf("\n")
    while (i >= 0) {
      const line = buffer.slice(0, i)
      buffer = buffer.slice(i + 1)
      const waiter = waiting.shift()
      if (waiter) waiter(line)
      else queue.push(line)
      i = buffer.indexOf("\n")
    }
  })
  return {
    next: () => {
      const line = queue.shift()
      return line !== undefined
        ? Promise.resolve(line)
        : new Promise<string>((resolve) => waiting.push(resolve))
    }
  }
}
