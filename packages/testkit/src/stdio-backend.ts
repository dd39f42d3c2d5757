/**
 * An MCP server over stdio for tests: `node stdio-backend.js [flags]`. Every flag has an
 * environment twin, flags win:
 *
 *   --name <name>               MCP_FIXTURE_NAME                 serverInfo.name (default "stdio-fixture")
 *   --tools <a,b,c>             MCP_FIXTURE_TOOLS                tool names (default "echo")
 *   --tools-json <json>         MCP_FIXTURE_TOOLS_JSON           full tool definitions (FixtureTool[])
 *   --fail <all|m1,m2>          MCP_FIXTURE_FAIL                 answer these JSON-RPC methods with -32603
 *   --delay-ms <n>              MCP_FIXTURE_DELAY_MS             wait before handling each request
 *   --exit-after-requests <n>   MCP_FIXTURE_EXIT_AFTER_REQUESTS  answer n JSON-RPC requests (`initialize`
 *                                                                counts), then close stdout and exit
 *   --exit-code <n>             MCP_FIXTURE_EXIT_CODE            the code for --exit-after-requests (default 0)
 *   --crash                     MCP_FIXTURE_CRASH=1              print an error and exit 1 at once
 *   --start-delay-ms <n>        MCP_FIXTURE_START_DELAY_MS       a slow starter: read nothing for n ms after start
 *   --spawn-log <file>          MCP_FIXTURE_SPAWN_LOG            append this process's pid to <file> (a line per start)
 *   --stderr <text>             MCP_FIXTURE_STDERR               write this line to stderr at start
 */
import { appendFileSync } from "node:fs"
import { parseArgs } from "node:util"
import type { JSONRPCMessage, Transport } from "@modelcontextprotocol/server"
import { StdioServerTransport, serveStdio } from "@modelcontextprotocol/server/stdio"
import { type FixtureTool, jsonRpcError, makeToolServer } from "./internal/toolServer.ts"

const { values } = parseArgs({
  options: {
    name: { type: "string" },
    tools: { type: "string" },
    "tools-json": { type: "string" },
    fail: { type: "string" },
    "delay-ms": { type: "string" },
    "exit-after-requests": { type: "string" },
    "exit-code": { type: "string" },
    crash: { type: "boolean" },
    "start-delay-ms": { type: "string" },
    "spawn-log": { type: "string" },
    stderr: { type: "string" }
  },
  strict: true
})

const env = process.env
const setting = (flag: string | undefined, name: string) => flag ?? env[name]
const number = (raw: string | undefined, name: string): number | undefined => {
  if (raw === undefined || raw === "") return undefined
  const n = Number(raw)
  if (!Number.isFinite(n) || n < 0) {
    process.stderr.write(`stdio-backend: ${name} must be a non-negative number, got ${raw}\n`)
    process.exit(2)
  }
  return n
}

// Logged before anything else, so a process that crashes at once is counted too.
const spawnLog = setting(values["spawn-log"], "MCP_FIXTURE_SPAWN_LOG")
if (spawnLog !== undefined && spawnLog !== "") appendFileSync(spawnLog, `${process.pid}\n`)
const stderrLine = setting(values.stderr, "MCP_FIXTURE_STDERR")
if (stderrLine !== undefined && stderrLine !== "") process.stderr.write(`${stderrLine}\n`)

if (values.crash === true || env.MCP_FIXTURE_CRASH === "1") {
  process.stderr.write("stdio-backend: crashing on start as asked (--crash)\n")
  process.exit(1)
}

const toolsJson = setting(values["tools-json"], "MCP_FIXTURE_TOOLS_JSON")
const tools: ReadonlyArray<FixtureTool> =
  toolsJson !== undefined
    ? (JSON.parse(toolsJson) as ReadonlyArray<FixtureTool>)
    : (setting(values.tools, "MCP_FIXTURE_TOOLS") ?? "echo")
        .split(",")
        .map((n) => n.trim())
        .filter((n) => n.length > 0)
        .map((name) => ({ name }))
const fail = (setting(values.fail, "MCP_FIXTURE_FAIL") ?? "")
  .split(",")
  .map((m) => m.trim())
  .filter((m) => m.length > 0)
const delayMs = number(setting(values["delay-ms"], "MCP_FIXTURE_DELAY_MS"), "--delay-ms") ?? 0
const exitAfterRequests = number(
  setting(values["exit-after-requests"], "MCP_FIXTURE_EXIT_AFTER_REQUESTS"),
  "--exit-after-requests"
)
const exitCode = number(setting(values["exit-code"], "MCP_FIXTURE_EXIT_CODE"), "--exit-code") ?? 0
const info = { name: setting(values.name, "MCP_FIXTURE_NAME") ?? "stdio-fixture", version: "0.0.0" }

const fails = (method: string) => fail.includes("all") || fail.includes(method)

const inner = new StdioServerTransport()

// With --exit-after-requests the process exits on what it has served, never on a timer: a
// timer would also count process start, which a busy machine stretches past any bound.
let received = 0
let answered = 0
const isResponse = (message: JSONRPCMessage) => "id" in message && !("method" in message)
const answer = async (message: JSONRPCMessage) => {
  await inner.send(message)
  if (exitAfterRequests === undefined || !isResponse(message)) return
  answered += 1
  // Ending stdout first, so the client reads the last answer before it sees the pipe close.
  if (answered === exitAfterRequests) process.stdout.end(() => process.exit(exitCode))
}

// Wraps the stdio transport to apply the failure, delay and exit settings before the SDK sees a message.
const outer: Transport = {
  start: () => inner.start(),
  send: (message) => answer(message),
  close: () => inner.close()
}
inner.onclose = () => outer.onclose?.()
inner.onerror = (error) => outer.onerror?.(error)
inner.onmessage = (message: JSONRPCMessage) => {
  const isRequest = "method" in message && "id" in message
  if (isRequest && exitAfterRequests !== undefined) {
    // Requests past the last one are never answered: the process is on its way out.
    if (received >= exitAfterRequests) return
    received += 1
  }
  if (isRequest && fails(message.method)) {
    void answer(jsonRpcError(message.id, -32603, `fixture failing: ${message.method}`) as JSONRPCMessage)
    return
  }
  if (isRequest && delayMs > 0) {
    setTimeout(() => outer.onmessage?.(message), delayMs)
    return
  }
  outer.onmessage?.(message)
}

const startDelayMs =
  number(setting(values["start-delay-ms"], "MCP_FIXTURE_START_DELAY_MS"), "--start-delay-ms") ?? 0
const serve = () => {
  serveStdio(() => makeToolServer(info, () => tools), { transport: outer })
  if (exitAfterRequests === 0) process.exit(exitCode)
}
// A slow starter reads nothing until it is "up": the client's `initialize` waits in the pipe.
if (startDelayMs > 0) setTimeout(serve, startDelayMs)
else serve()
