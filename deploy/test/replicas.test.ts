/**
 * What `--replicas` > 1 needs from the Service, shown with two real `vmcp serve` processes
 * behind a proxy that balances per request, as a Service without affinity may (kube-proxy picks
 * a replica per connection; a client's next connection can land anywhere):
 * (a) without affinity a 2025-era client's session is unknown to the other replica;
 * (b) pinned by source address (`sessionAffinity: ClientIP`, what `vmcp manifests` sets) it works;
 * (c) 2026-07-28 clients are stateless and work on any replica without affinity.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, writeFileSync } from "node:fs"
import { createServer, request as httpRequest, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client"
import { eventually, type McpBackendHandle, startMcpBackend } from "@vmcp-status/testkit"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { vmcpCli } from "./support/apply.ts"

interface Replica {
  readonly port: number
  readonly process: ChildProcess
}

/** One answer that passed the proxy: which replica, for which request, with what status. */
interface Passed {
  readonly replica: number
  readonly method: string
  readonly status: number
}

/** A small HTTP proxy in front of the replicas: round-robin per request, or pinned by client IP. */
const startProxy = async (ports: ReadonlyArray<number>, affinity: "None" | "ClientIP") => {
  const passed: Array<Passed> = []
  const pinned = new Map<string, number>()
  let next = 0
  const pick = (clientIp: string) => {
    if (affinity === "ClientIP") {
      const known = pinned.get(clientIp)
      if (known !== undefined) return known
    }
    const replica = next++ % ports.length
    if (affinity === "ClientIP") pinned.set(clientIp, replica)
    return replica
  }
  const server: Server = createServer((req, res) => {
    const replica = pick(req.socket.remoteAddress ?? "")
    const upstream = httpRequest(
      { host: "127.0.0.1", port: ports[replica], method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        passed.push({ replica, method: req.method ?? "", status: answer.statusCode ?? 0 })
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(res)
      }
    )
    upstream.on("error", () => {
      if (!res.headersSent) res.writeHead(502)
      res.end()
    })
    req.pipe(upstream)
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`,
    passed,
    /** Answers per replica. */
    answered: () => ports.map((_, i) => passed.filter((p) => p.replica === i).length),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}

const startReplica = async (index: number, backend: McpBackendHandle): Promise<Replica> => {
  const dir = mkdtempSync(join(tmpdir(), `vmcp-replica-${index}-`))
  const config = join(dir, "vmcp.yaml")
  writeFileSync(
    config,
    [
      `name: replica-${index}`,
      // Port 0: the replica picks a free port and names it in its "serving MCP at" line.
      "listen: { host: 127.0.0.1, port: 0 }",
      "backends:",
      "  - name: fixture",
      "    transport: streamable-http",
      `    url: ${backend.url}`
    ].join("\n")
  )
  const child = spawn(process.execPath, [vmcpCli, "serve", "--config", config, "--reporters", "log"], {
    stdio: ["ignore", "pipe", "inherit"]
  })
  let out = ""
  child.stdout?.on("data", (chunk: Buffer) => {
    out += chunk.toString()
  })
  const port = await eventually(`replica ${index} to listen`, () => {
    const match = /serving MCP at http:\/\/127\.0\.0\.1:(\d+)\//.exec(out)
    return match === null ? undefined : Number(match[1])
  })
  const replica = { port, process: child }
  await eventually(`replica ${index} Ready`, async () => {
    const res = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined)
    return res?.ok === true ? true : undefined
  })
  return replica
}

const legacyClient = () => new Client({ name: "session-client", version: "0.0.0" })
const modernClient = () =>
  new Client({ name: "per-request-client", version: "0.0.0" }, { versionNegotiation: { mode: "auto" } })

describe("two replicas behind one Service", () => {
  let backend: McpBackendHandle
  const replicas: Array<Replica> = []
  const cleanups: Array<() => Promise<unknown>> = []

  beforeAll(async () => {
    backend = await startMcpBackend({ name: "fixture" })
    replicas.push(...(await Promise.all([startReplica(0, backend), startReplica(1, backend)])))
  })
  afterAll(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined)
    for (const r of replicas) r.process.kill("SIGTERM")
    await backend?.close()
  })

  const proxy = async (affinity: "None" | "ClientIP") => {
    const p = await startProxy(
      replicas.map((r) => r.port),
      affinity
    )
    cleanups.push(p.close)
    return p
  }

  it("(a) without affinity a 2025-era session client fails: the other replica does not know its session", async () => {
    const p = await proxy("None")
    const client = legacyClient()
    cleanups.push(() => client.close())
    // initialize lands on one replica, the next request on the other one.
    await expect(
      (async () => {
        await client.connect(new StreamableHTTPClientTransport(new URL(p.url)))
        await client.callTool({ name: "fixture_echo", arguments: { text: "hi" } })
      })()
    ).rejects.toThrow()
    expect(client.getProtocolEra()).not.toBe("modern")
    expect(p.passed[0]).toMatchObject({ replica: 0, method: "POST", status: 200 })
    expect(p.passed.find((x) => x.replica === 1)).toMatchObject({ status: 404 })
  })

  it("(b) with client-IP affinity the same client makes many calls, all answered by one replica", async () => {
    const p = await proxy("ClientIP")
    const client = legacyClient()
    cleanups.push(() => client.close())
    await client.connect(new StreamableHTTPClientTransport(new URL(p.url)))
    for (let i = 0; i < 20; i++) {
      const result = await client.callTool({ name: "fixture_echo", arguments: { text: `call ${i}` } })
      expect(result.isError).not.toBe(true)
    }
    expect(p.passed.every((x) => x.status < 400)).toBe(true)
    expect(p.answered().filter((n) => n > 0)).toHaveLength(1)
  })

  it("(c) a 2026-07 per-request client works across both replicas without affinity", async () => {
    const p = await proxy("None")
    const client = modernClient()
    cleanups.push(() => client.close())
    await client.connect(new StreamableHTTPClientTransport(new URL(p.url)))
    expect(client.getProtocolEra()).toBe("modern")
    for (let i = 0; i < 20; i++) {
      const result = await client.callTool({ name: "fixture_echo", arguments: { text: `call ${i}` } })
      expect(result.isError).not.toBe(true)
    }
    expect(p.passed.every((x) => x.status < 400)).toBe(true)
    const [first, second] = p.answered()
    expect(first).toBeGreaterThan(0)
    expect(second).toBeGreaterThan(0)
  })
})
