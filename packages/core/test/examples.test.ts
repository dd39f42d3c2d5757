import { readFileSync } from "node:fs"
import { createServer, type IncomingMessage } from "node:http"
import type { AddressInfo } from "node:net"
import { describe, expect, it } from "vitest"
import { startWebhookPublisher } from "../examples/webhook.ts"
import { backend, status, T1 } from "./fixtures.ts"

const readBody = (req: IncomingMessage) =>
  new Promise<string>((resolve) => {
    let body = ""
    req.on("data", (c) => {
      body += c
    })
    req.on("end", () => resolve(body))
  })

describe("README example: a webhook reporter", () => {
  it("POSTs each transition to a loopback server (shutdown included), and nothing for non-transitions", async () => {
    const received: Array<{ phase: string; backends: Array<{ name: string; from?: string; to?: string }> }> =
      []
    const server = createServer(async (req, res) => {
      received.push(JSON.parse(await readBody(req)))
      res.writeHead(204).end()
    })
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    const { port } = server.address() as AddressInfo
    try {
      const publisher = await startWebhookPublisher(`http://127.0.0.1:${port}/hook`)
      const ready = status([backend("github", "healthy"), backend("jira", "healthy")])
      publisher.update(ready)
      await expect.poll(() => received.length).toBe(1)
      publisher.update(status([backend("github", "healthy", { toolCount: 10 }), backend("jira", "healthy")]))
      publisher.update(status([backend("github", "healthy"), backend("jira", "unhealthy")], { now: T1 }))
      await expect.poll(() => received.length).toBe(2)
      await publisher.stop()
      expect(received[0]?.phase).toBe("Ready")
      expect(received[1]).toMatchObject({
        phase: "Degraded",
        backends: [{ name: "jira", from: "healthy", to: "unhealthy" }]
      })
      // stop hands reporters the final status (ShuttingDown, phase Pending): one more transition.
      expect(received).toHaveLength(3)
      expect(received[2]?.phase).toBe("Pending")
    } finally {
      server.close()
    }
  })

  it("is the code the README shows", () => {
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8")
    const example = readFileSync(new URL("../examples/webhook.ts", import.meta.url), "utf8")
    expect(readme).toContain(example.trim())
  })
})
