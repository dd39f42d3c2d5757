/**
 * Secrets stay in the process (issue 13, findings 3 and 4): `vmcp serve` as a child process,
 * backends on loopback that echo what the gateway sends them back in their errors, a real MCP
 * client, and every output surface searched for the planted secrets.
 */
import { mkdtempSync, writeFileSync } from "node:fs"
import { createServer, type IncomingHttpHeaders, request } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Writable } from "node:stream"
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client"
import { eventually, type McpBackendHandle, startMcpBackend } from "@vmcp-status/testkit"
import { afterEach, describe, expect, it } from "vitest"
import YAML from "yaml"
import { runCli } from "../src/cli/Commands.ts"
import { startCli } from "./cliProcess.ts"

const cleanups: Array<() => Promise<unknown> | unknown> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

interface App {
  readonly stdout: () => string
  readonly stderr: () => string
  /** The MCP endpoint, once the app logged it. */
  readonly mcpUrl: () => Promise<string>
}

const startApp = (file: string, env: Record<string, string> = {}): App => {
  const app = startCli(["serve", "--config", file], env)
  cleanups.push(app.stop)
  return {
    stdout: app.stdout,
    stderr: app.stderr,
    mcpUrl: () =>
      eventually(
        "the app to listen",
        () => {
          const { exitCode } = app.child
          if (exitCode !== null) throw new Error(`vmcp exited ${exitCode}: ${app.stdout()}${app.stderr()}`)
          return /serving MCP at (\S+)/.exec(app.stdout())?.[1]
        },
        120_000
      )
  }
}

const writeConfig = (config: unknown) => {
  const file = join(mkdtempSync(join(tmpdir(), "vmcp-redact-")), "vmcp.yaml")
  writeFileSync(file, YAML.stringify(config))
  return file
}

/**
 * A backend that leaks what it receives: in front of an MCP fixture, it forwards every request
 * (any path, so the backend URL can carry path tokens and query values) except `tools/call`,
 * which it answers with HTTP 500 and a body echoing the request line and headers, as a careless
 * error page does. When the fixture is down it answers 502 with the same echo.
 */
const startEchoProxy = async (upstream: McpBackendHandle) => {
  const echoed: Array<IncomingHttpHeaders> = []
  const server = createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("end", () => {
      const body = Buffer.concat(chunks)
      const echo = (status: number) => {
        echoed.push(req.headers)
        res.writeHead(status, { "content-type": "application/json" })
        res.end(
          JSON.stringify({
            error: status === 500 ? "internal error" : "bad gateway",
            request: `${req.method} ${req.url}`,
            headers: req.headers,
            trace: "    at handle (/srv/app/server.js:42:7)\n".repeat(80)
          })
        )
      }
      let method: unknown
      try {
        method = (JSON.parse(body.toString("utf8")) as { method?: unknown }).method
      } catch {
        method = undefined
      }
      if (method === "tools/call") return echo(500)
      const forward = request(
        {
          host: "127.0.0.1",
          port: upstream.port,
          path: "/mcp",
          method: req.method,
          headers: { ...req.headers, host: `127.0.0.1:${upstream.port}` }
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers)
          answer.pipe(res)
        }
      )
      forward.on("error", () => (res.headersSent ? res.destroy() : echo(502)))
      res.on("close", () => forward.destroy())
      forward.end(body)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const port = (server.address() as AddressInfo).port
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  )
  return { origin: `127.0.0.1:${port}`, echoed }
}

/** A stdio MCP backend (newline-delimited JSON-RPC) whose `tools/call` error quotes its environment. */
const envEchoBackend = (): { command: string; args: Array<string> } => {
  const script = join(mkdtempSync(join(tmpdir(), "vmcp-redact-stdio-")), "env-echo.mjs")
  writeFileSync(
    script,
    `import { createInterface } from "node:readline"
const send = (m) => process.stdout.write(JSON.stringify({ jsonrpc: "2.0", ...m }) + "\\n")
createInterface({ input: process.stdin }).on("line", (line) => {
  const m = JSON.parse(line)
  if (m.id === undefined) return
  if (m.method === "initialize")
    return send({ id: m.id, result: { protocolVersion: m.params.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: "env-echo", version: "0.0.0" } } })
  if (m.method === "ping") return send({ id: m.id, result: {} })
  if (m.method === "tools/list") return send({ id: m.id, result: { tools: [{ name: "read", inputSchema: { type: "object" } }] } })
  if (m.method === "tools/call")
    return send({ id: m.id, error: { code: -32603, message: "upstream refused the call with API_TOKEN=" + process.env.API_TOKEN } })
  send({ id: m.id, error: { code: -32601, message: "method not found" } })
})
`
  )
  return { command: "node", args: [script] }
}

const connect = async (mcpUrl: string) => {
  const client = new Client({ name: "redaction-test", version: "0.0.0" })
  await client.connect(new StreamableHTTPClientTransport(new URL(mcpUrl)))
  cleanups.push(() => client.close())
  return client
}

const toolError = async (client: Client, name: string): Promise<string> => {
  const result = await client.callTool({ name })
  expect(result.isError).toBe(true)
  return (result.content as Array<{ type: string; text?: string }>).map((c) => c.text ?? "").join("\n")
}

const capture = () => {
  let text = ""
  return {
    stream: new Writable({
      write(chunk, _encoding, done) {
        text += String(chunk)
        done()
      }
    }),
    text: () => text
  }
}

const health = {
  interval: "300ms",
  // A bound, not a speed limit: a loaded machine must not time a probe out.
  timeout: "20s",
  slowThreshold: "15s",
  unhealthyThreshold: 1,
  circuitBreaker: { failureThreshold: 1000 }
}

describe("backend errors that reach clients (finding 3)", () => {
  it("a backend answering 500 with the request headers echoed: the client's tool error holds neither credential, is bounded, and says HTTP 500", async () => {
    const vault = await startMcpBackend({ name: "vault", tools: [{ name: "read", text: "ok" }] })
    cleanups.push(() => vault.close())
    const proxy = await startEchoProxy(vault)
    const app = startApp(
      writeConfig({
        listen: { port: 0 },
        health,
        backends: [
          {
            name: "vault",
            transport: "streamable-http",
            url: `http://${proxy.origin}/mcp`,
            headers: { authorization: "Bearer s3cret-token", "x-api-key": "k3y-value" }
          }
        ]
      })
    )
    const client = await connect(await app.mcpUrl())
    await eventually("vault's tool", async () =>
      (await client.listTools()).tools.some((t) => t.name === "vault_read") ? true : undefined
    )

    const text = await toolError(client, "vault_read")

    // The backend did receive (and echo) the credentials: the test would see a leak.
    expect(proxy.echoed.at(-1)).toMatchObject({
      authorization: "Bearer s3cret-token",
      "x-api-key": "k3y-value"
    })
    expect(text).not.toContain("s3cret-token")
    expect(text).not.toContain("k3y-value")
    expect(text.length).toBeLessThanOrEqual(700)
    expect(text).toContain("vmcp: calling read on backend vault failed")
    expect(text).toContain("HTTP 500")
  })
})

interface Plant {
  readonly place: string
  readonly secret: string
}

describe("no secret leaves the process (findings 3 and 4)", () => {
  it("a secret planted in every configurable place appears on no output surface, through a backend down and up", async () => {
    const plants: ReadonlyArray<Plant> = [
      { place: "streamable-http header value", secret: "hdr-Secret-91x7" },
      { place: "stdio env value (expanded from the environment)", secret: "env-Secret-42q8" },
      { place: "bearer token in a header, expanded from the environment", secret: "brr-Secret-55k2" },
      { place: "URL query value", secret: "qry-Secret-77m3" },
      { place: "URL path token", secret: "a7f3c9e1b5d2f8a4c6e0" }
    ]
    const [header, env, bearer, query, path] = plants.map((p) => p.secret) as [
      string,
      string,
      string,
      string,
      string
    ]
    const fixtures = await Promise.all(
      ["hdr", "qry", "path"].map((name) => startMcpBackend({ name, tools: [{ name: "read", text: "ok" }] }))
    )
    for (const f of fixtures) cleanups.push(() => f.close())
    const [hdrFixture, qryFixture, pathFixture] = fixtures as [
      McpBackendHandle,
      McpBackendHandle,
      McpBackendHandle
    ]
    const hdr = await startEchoProxy(hdrFixture)
    const qry = await startEchoProxy(qryFixture)
    const tok = await startEchoProxy(pathFixture)
    const stdio = envEchoBackend()
    const app = startApp(
      writeConfig({
        listen: { port: 0 },
        health,
        backends: [
          {
            name: "hdr",
            transport: "streamable-http",
            url: `http://${hdr.origin}/mcp`,
            headers: { "x-api-key": header }
          },
          // biome-ignore lint/suspicious/noTemplateCurlyInString: the config's own ${VAR} syntax
          { name: "env", transport: "stdio", ...stdio, env: { API_TOKEN: "${VMCP_TEST_TOKEN}" } },
          {
            name: "qry",
            transport: "streamable-http",
            url: `http://${qry.origin}/mcp?pass=${query}&region=eu`,
            // biome-ignore lint/suspicious/noTemplateCurlyInString: the config's own ${VAR} syntax
            headers: { authorization: "Bearer ${VMCP_TEST_BEARER}" }
          },
          { name: "path", transport: "streamable-http", url: `http://${tok.origin}/t/${path}/mcp` }
        ]
      }),
      { VMCP_TEST_TOKEN: env, VMCP_TEST_BEARER: bearer }
    )
    const mcpUrl = await app.mcpUrl()
    const base = mcpUrl.replace(/\/mcp$/, "")
    const client = await connect(mcpUrl)
    const statusOf = async () =>
      (await (await fetch(`${base}/status`)).json()) as {
        backends: Array<{ name: string; health: string }>
      }
    const healthOf = async (name: string) => (await statusOf()).backends.find((b) => b.name === name)?.health
    const all = async (names: ReadonlyArray<string>, wanted: string) =>
      (await Promise.all(names.map(healthOf))).every((h) => h === wanted) ? true : undefined

    const up = ["hdr", "env", "qry", "path"]
    await eventually("the reachable backends healthy", () => all(up, "healthy"))
    const errors = [await toolError(client, "hdr_read"), await toolError(client, "env_read")]
    for (const f of [hdrFixture, qryFixture, pathFixture]) await f.setMode("down")
    await eventually("the HTTP backends unhealthy", () => all(["hdr", "qry", "path"], "unhealthy"))
    const statusWhileDown = await (await fetch(`${base}/status`)).text()
    for (const f of [hdrFixture, qryFixture, pathFixture]) await f.setMode("up")
    await eventually("the backends healthy again", () => all(up, "healthy"))
    errors.push(
      await toolError(client, "hdr_read"),
      await toolError(client, "qry_read"),
      await toolError(client, "path_read"),
      await toolError(client, "env_read")
    )
    // Each of those answers went through a backend that echoed the secrets to the gateway.
    expect(hdr.echoed.at(-1)).toMatchObject({ "x-api-key": header })
    expect(qry.echoed.at(-1)).toMatchObject({ authorization: `Bearer ${bearer}` })

    const cli = capture()
    const cliJson = capture()
    await runCli(["status", "--url", base], { stdout: cli.stream, stderr: cli.stream, env: {} })
    await runCli(["status", "--url", base, "--json"], {
      stdout: cliJson.stream,
      stderr: cliJson.stream,
      env: {}
    })
    const surfaces: Record<string, string> = {
      "log (stdout)": app.stdout(),
      stderr: app.stderr(),
      "/status while down": statusWhileDown,
      "/status": await (await fetch(`${base}/status`)).text(),
      "/metrics": await (await fetch(`${base}/metrics`)).text(),
      "tool errors": errors.join("\n"),
      "vmcp status": cli.text(),
      "vmcp status --json": cliJson.text()
    }
    // The surfaces are not empty: the status names the backends, the log has their transitions.
    expect(surfaces["log (stdout)"]).toContain("unhealthy")
    // Finding 4: the log names the backend URLs with parameter names kept, values and path tokens gone.
    expect(surfaces["log (stdout)"]).toContain("/mcp?pass=REDACTED&region=REDACTED")
    expect(surfaces["log (stdout)"]).toContain("/t/REDACTED/mcp")
    expect(surfaces["/metrics"]).toContain("hdr")
    expect(surfaces["vmcp status"]).toContain("path")

    const leaks = plants.map(({ place, secret }) => ({
      place,
      leaksTo: Object.entries(surfaces)
        .filter(([, text]) => text.includes(secret))
        .map(([surface]) => surface)
    }))
    expect(leaks).toEqual(plants.map(({ place }) => ({ place, leaksTo: [] })))
  })
})
