import { Client, StreamableHTTPClientTransport, type Transport } from "@modelcontextprotocol/client"
import { getDefaultEnvironment, StdioClientTransport } from "@modelcontextprotocol/client/stdio"
import type { McpHttpBackend, McpStdioBackend } from "../Config.ts"
import { categorize, type ProbeFailure } from "../ErrorCategory.ts"

/**
 * Failures after which a kept session is worth one fresh attempt in the same probe: the
 * connection or process is gone, or the server no longer knows the session (404, as the MCP
 * Streamable HTTP transport answers for a terminated session).
 */
const isStale = (failure: ProbeFailure): boolean =>
  failure.category === "connection_reset" ||
  failure.category === "process_exited" ||
  (failure.category === "http_error" && failure.detail === "HTTP 404")

/** How long closing waits for the server to acknowledge the end of an HTTP session. */
const TERMINATE_MS = 1_000

/**
 * One kept MCP client session to a backend. Probes reuse it; a session that fails (or whose
 * stdio process exits) is dropped and the next probe opens a new one. A kept session that fails
 * with a sign of staleness (HTTP 404 after a server restart, a closed connection) gets one fresh
 * attempt within the same probe, so a restarted backend is not counted as failing.
 */
export class McpSession {
  private client: Client | undefined
  private transport: Transport | undefined
  private lost = false
  private closed = false
  private readonly config: McpHttpBackend | McpStdioBackend
  private readonly clientInfo: { readonly name: string; readonly version: string }
  private readonly requestTimeoutMs: number
  private readonly onToolsChanged: () => void

  constructor(
    config: McpHttpBackend | McpStdioBackend,
    clientInfo: { readonly name: string; readonly version: string },
    requestTimeoutMs: number,
    onToolsChanged: () => void
  ) {
    this.config = config
    this.clientInfo = clientInfo
    this.requestTimeoutMs = requestTimeoutMs
    this.onToolsChanged = onToolsChanged
  }

  /** One probe: `ping` on the kept session (opened if needed), then `tools/list` when asked or fresh. */
  async probe(
    signal: AbortSignal,
    discover: boolean
  ): Promise<{ readonly tools: ReadonlyArray<string> | undefined }> {
    const reused = this.client !== undefined && !this.lost
    try {
      return await this.attempt(signal, discover)
    } catch (error) {
      if (signal.aborted || this.closed) throw error
      const failure = this.categorize(error)
      // A JSON-RPC error answer proves the session works: keep it.
      if (failure.category === "protocol_error") throw error
      await this.drop()
      if (!(reused && isStale(failure))) throw error
      return await this.attempt(signal, discover)
    }
  }

  /** `tools/list` on the kept session, if there is one. */
  async discover(signal: AbortSignal): Promise<ReadonlyArray<string> | undefined> {
    const client = this.client
    if (client === undefined || this.lost) return undefined
    const { tools } = await client.listTools(undefined, { signal, timeout: this.requestTimeoutMs })
    return tools.map((t) => t.name)
  }

  /** Categorizes an error of this session; on stdio a closed connection means the process is gone. */
  categorize(error: unknown): ProbeFailure {
    const failure = categorize(error)
    return this.config.transport === "stdio" && failure.category === "connection_reset"
      ? { category: "process_exited", detail: "process exited" }
      : failure
  }

  /**
   * Closes the session (and a stdio backend's process). Idempotent; later probes fail. An HTTP
   * session is first ended on the server (`DELETE`), given at most `TERMINATE_MS`, so a restarted
   * checker does not leave sessions behind on its backends.
   */
  async close(): Promise<void> {
    this.closed = true
    const transport = this.transport
    if (
      transport instanceof StreamableHTTPClientTransport &&
      transport.sessionId !== undefined &&
      !this.lost
    ) {
      let timer: ReturnType<typeof setTimeout> | undefined
      await Promise.race([
        transport.terminateSession().catch(() => undefined),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, TERMINATE_MS)
        })
      ])
      clearTimeout(timer)
    }
    await this.drop()
  }

  private async attempt(signal: AbortSignal, discover: boolean) {
    let client = this.client
    let fresh = false
    if (client === undefined || this.lost) {
      await this.drop()
      client = await this.connect(signal)
      fresh = true
    }
    const options = { signal, timeout: this.requestTimeoutMs }
    await client.ping(options)
    if (!(discover || fresh)) return { tools: undefined }
    const { tools } = await client.listTools(undefined, options)
    return { tools: tools.map((t) => t.name) }
  }

  private async connect(signal: AbortSignal): Promise<Client> {
    if (this.closed) throw new Error("Not connected")
    const client = new Client(this.clientInfo, {
      listChanged: {
        tools: { autoRefresh: false, debounceMs: 0, onChanged: () => this.onToolsChanged() }
      }
    })
    client.onclose = () => {
      if (this.client === client) this.lost = true
    }
    // Errors surface through the calls that fail; the SDK's extra reports would only be noise.
    client.onerror = () => undefined
    const transport: Transport =
      this.config.transport === "stdio"
        ? new StdioClientTransport({
            command: this.config.command,
            args: [...(this.config.args ?? [])],
            env: { ...getDefaultEnvironment(), ...this.config.env },
            ...(this.config.cwd === undefined ? {} : { cwd: this.config.cwd }),
            stderr: "ignore"
          })
        : new StreamableHTTPClientTransport(new URL(this.config.url), {
            requestInit: { headers: { ...this.config.headers } }
          })
    this.client = client
    this.transport = transport
    this.lost = false
    try {
      await client.connect(transport, { signal, timeout: this.requestTimeoutMs })
    } catch (error) {
      await this.drop(client)
      throw error
    }
    if (this.closed) {
      await this.drop(client)
      throw new Error("Not connected")
    }
    return client
  }

  /** Closes `client` (default: the current one), forgetting it if it is still the current one. */
  private async drop(client: Client | undefined = this.client): Promise<void> {
    if (this.client === client) {
      this.client = undefined
      this.transport = undefined
      this.lost = false
    }
    if (client !== undefined) await client.close().catch(() => undefined)
  }
}
