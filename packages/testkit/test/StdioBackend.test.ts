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

const exitOf = (options: StdioBackendOptions) =>
  new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const { command, args } = stdioBackendCommand(options)
    const child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"] })
    let stderr = ""
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    child.once("exit", (code) => resolve({ code, stderr }))
  })

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
    const { client } = await connect({ delayMs: 300 })
    await expect(client.ping({ timeout: 50 })).rejects.toThrow(/timed out/i)
  })

  it("exits on its own after the given time, and the client sees the connection close", async () => {
    const { client } = await connect({ exitAfterMs: 200 })
    const closed = new Promise<void>((resolve) => {
      client.onclose = () => resolve()
    })
    await client.ping()
    await closed
    await expect(client.ping()).rejects.toThrow()
    expect(await exitOf({ exitAfterMs: 50, exitCode: 3 })).toMatchObject({ code: 3 })
  })

  it("crashes on start when told to, saying so on stderr", async () => {
    const result = await exitOf({ crash: true })
    expect(result.code).toBe(1)
    expect(result.stderr).toContain("crashing on start")
    await expect(connect({ crash: true })).rejects.toThrow()
  })
})
