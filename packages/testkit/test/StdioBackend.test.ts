import { spawn } from "node:child_process"
import { Client } from "@modelcontextprotocol/client"
import { getDefaultEnvironment, StdioClientTransport } from "@modelcontextprotocol/client/stdio"
import { afterEach, describe, expect, it } from "vitest"
import { type StdioBackendOptions, stdioBackendCommand } from "../src/StdioBackend.ts"

const clients: Array<Client> = []
afterEach(async () => {
  await Promise.allSettled(clients.splice(0).map((c) => c.close()))
})

const connect = async (options: StdioBackendOptions, env?: Record<string, string>) => {
  const transport = new StdioClientTransport({
    ...stdioBackendCommand(options),
    stderr: "pipe",
    ...(env ? { env: { ...getDefaultEnvironment(), ...env } } : {})
  })
  let stderr = ""
  transport.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  const client = new Client({ name: "testkit-test", version: "1.0.0" })
  clients.push(client)
  await client.connect(transport)
  return { client, transport, stderr: () => stderr }
}

/** Runs the fixture without an MCP client; `requests` are written to its stdin as JSON lines. */
const exitOf = (options: StdioBackendOptions, requests: ReadonlyArray<object> = []) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const { command, args } = stdioBackendCommand(options)
    const child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString()
    })
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    child.stdin.on("error", () => undefined)
    for (const request of requests) child.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", ...request })}\n`)
    child.once("close", (code) => resolve({ code, stdout, stderr }))
  })

const initialize = {
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "0" } }
}

describe("stdio MCP backend fixture", () => {
  it("exposes the tools named on its command line", async () => {
    const { client } = await connect({ name: "files", tools: ["read", { name: "write", text: "written" }] })
    expect(client.getServerVersion()?.name).toBe("files")
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual(["read", "write"])
    expect(await client.callTool({ name: "write", arguments: {} })).toMatchObject({
      content: [{ type: "text", text: "written" }]
    })
  })

  it("takes its settings from the environment too", async () => {
    const { client } = await connect({}, { MCP_FIXTURE_TOOLS: "x,y,z" })
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual(["x", "y", "z"])
  })

  it("answers the methods it is told to fail with JSON-RPC errors", async () => {
    const { client } = await connect({ fail: ["ping"] })
    await expect(client.ping()).rejects.toMatchObject({
      code: -32603,
      message: expect.stringContaining("ping")
    })
    expect((await client.listTools()).tools).toHaveLength(1)
  })

  it("is slow when told to: a client with a shorter timeout gives up", async () => {
    // The fixture is another process: its delay dwarfs the timeout, so the answer cannot win
    // even when this process waits long for a core.
    const { client } = await connect({ delayMs: 2_000 })
    await expect(client.ping({ timeout: 50 })).rejects.toThrow(/timed out/i)
  })

  it("exits after answering the given number of requests, and the client sees the connection close", async () => {
    // initialize is the first request, ping the second and last.
    const { client } = await connect({ exitAfterRequests: 2 })
    const closed = new Promise<void>((resolve) => {
      client.onclose = () => resolve()
    })
    await client.ping()
    await closed
    await expect(client.ping()).rejects.toThrow()
  })

  it("exits with the given code, after writing its last answer", async () => {
    const result = await exitOf({ exitAfterRequests: 1, exitCode: 3 }, [
      initialize,
      { id: 2, method: "ping" }
    ])
    expect(result.code).toBe(3)
    const answers = result.stdout
      .split("\n")
      .filter((line) => line.length > 0)
      .map((line) => JSON.parse(line) as { id: number })
    expect(answers.map((a) => a.id)).toEqual([1])
    expect(answers[0]).toMatchObject({ result: { serverInfo: { name: "stdio-fixture" } } })
  })

  it("crashes on start when told to, saying so on stderr", async () => {
    const result = await exitOf({ crash: true })
    expect(result.code).toBe(1)
    expect(result.stderr).toContain("crashing on start")
    await expect(connect({ crash: true })).rejects.toThrow()
  })
})
