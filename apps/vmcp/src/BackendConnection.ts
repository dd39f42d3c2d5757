import { resolve } from "node:path"
import {
  type CallToolResult,
  Client,
  ProtocolError,
  StreamableHTTPClientTransport,
  type Tool
} from "@modelcontextprotocol/client"
import { getDefaultEnvironment, StdioClientTransport } from "@modelcontextprotocol/client/stdio"
import {
  type Transport as CoreTransport,
  makeRedactor,
  type Redactor,
  redactUrl,
  secretsOfUrl
} from "@vmcp-status/core"
import { boundedFetch } from "./BoundedFetch.ts"
import { expandEnv, LimitDefaults, type VmcpBackendConfig } from "./Config.ts"
import { VERSION } from "./Version.ts"

/** The client identity the gateway presents to its backends. */
const CLIENT_INFO = { name: "vmcp", version: VERSION }

/**
 * One backend MCP server, reached over one kept session (a spawned process for stdio). The
 * session is opened lazily and re-opened after it closes or a request on it fails, so a
 * backend that restarts is picked up by the next probe or call.
 */
export interface BackendConnection {
  readonly name: string
  readonly transport: CoreTransport
  /** The backend URL with credentials, query values and path tokens redacted (stdio: the command). */
  readonly displayUrl: string
  /**
   * Redacts text about this backend before it leaves the process: its known secrets (the header
   * values sent, the env values given to the process, the secret parts of its URL) and the
   * generic patterns, bounded (see `makeRedactor`).
   */
  readonly redact: Redactor
  /** The known secrets behind `redact`, for a process-wide redactor. */
  readonly secrets: ReadonlyArray<string>
  /** MCP `ping` on the kept session (opening it first if needed). */
  readonly ping: (options: { readonly timeoutMs: number; readonly signal?: AbortSignal }) => Promise<void>
  /** `tools/list` on the kept session; the result also becomes `tools()`. */
  readonly listTools: (options: {
    readonly timeoutMs: number
    readonly signal?: AbortSignal
  }) => Promise<ReadonlyArray<Tool>>
  /** The tools from the last successful `listTools` (empty before it). */
  readonly tools: () => ReadonlyArray<Tool>
  /** Calls a tool by its backend-side name. */
  readonly callTool: (
    name: string,
    args: Record<string, unknown> | undefined,
    options: { readonly timeoutMs: number; readonly signal?: AbortSignal }
  ) => Promise<CallToolResult>
  /** Counts the sessions opened so far: a new session may come with other tools. */
  readonly generation: () => number
  /** Called when the backend announces `notifications/tools/list_changed`. */
  onToolsChanged: (() => void) | undefined
  /** Closes the session (and stops a stdio process). */
  readonly close: () => Promise<void>
}

/** Options of `makeBackendConnection`. */
export interface BackendConnectionOptions {
  /** Environment for `${VAR}` in `env`/`headers` and for stdio children (default `process.env`). */
  readonly env?: Readonly<Record<string, string | undefined>>
  /** Where a stdio backend's stderr goes (default: ignored, so it cannot garble the status lines). */
  readonly stderr?: "inherit" | "ignore"
  /** Timeout of opening a session (default 10 s). */
  readonly connectTimeoutMs?: number
  /** The working directory of stdio backends without `cwd`, e.g. the config file's folder (default: the current one). */
  readonly baseDir?: string
  /** The largest message a Streamable HTTP backend may answer with (`limits.maxResponseBytes`). */
  readonly maxResponseBytes?: number
}

const withTimeout = <A>(promise: Promise<A>, ms: number, what: string): Promise<A> => {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/**
 * The known secrets of a backend, as `makeRedactor` takes them: the header values and the env
 * values it is given (after `${VAR}` expansion: what is actually sent) and the secret parts of
 * its URL (userinfo, query values, path tokens).
 *
 * @example
 * ```ts
 * import { backendSecrets } from "@vmcp-status/vmcp"
 *
 * backendSecrets({ name: "gh", transport: "streamable-http", url: "https://x.io/mcp",
 *   headers: { authorization: "Bearer ${GH_TOKEN}" }, env: {}, args: [] }, { GH_TOKEN: "ghp_abc123" })
 * // ["Bearer ghp_abc123"]
 * ```
 */
export const backendSecrets = (
  config: VmcpBackendConfig,
  env: Readonly<Record<string, string | undefined>> = process.env
): ReadonlyArray<string> => [
  ...Object.values(config.headers).map((v) => expandEnv(v, env)),
  ...Object.values(config.env).map((v) => expandEnv(v, env)),
  ...(config.url === undefined ? [] : secretsOfUrl(config.url))
]

/**
 * Makes a connection to one configured backend. Nothing is opened until the first request.
 *
 * @example
 * ```ts
 * import { makeBackendConnection } from "@vmcp-status/vmcp"
 *
 * const clock = makeBackendConnection({ name: "clock", transport: "stdio", command: "node",
 *   args: ["examples/backends/clock.ts"], env: {}, headers: {} })
 * await clock.ping({ timeoutMs: 5000 })
 * await clock.close()
 * ```
 */
export const makeBackendConnection = (
  config: VmcpBackendConfig,
  options: BackendConnectionOptions = {}
): BackendConnection => {
  const env = options.env ?? process.env
  const connectTimeoutMs = options.connectTimeoutMs ?? 10_000
  let session: Promise<Client> | undefined
  let closed = false
  let tools: ReadonlyArray<Tool> = []
  let generation = 0
  const secrets = backendSecrets(config, env)
  const redact = makeRedactor({ secrets })

  const makeTransport = () => {
    if (config.transport === "stdio") {
      const childEnv: Record<string, string> = { ...getDefaultEnvironment() }
      for (const [key, value] of Object.entries(config.env)) childEnv[key] = expandEnv(value, env)
      const cwd = config.cwd === undefined ? options.baseDir : resolve(options.baseDir ?? ".", config.cwd)
      return new StdioClientTransport({
        // `node` means the Node binary running vmcp, so examples run on the same version.
        command: config.command === "node" ? process.execPath : config.command!,
        args: [...config.args],
        env: childEnv,
        stderr: options.stderr ?? "ignore",
        ...(cwd === undefined ? {} : { cwd })
      })
    }
    const headers: Record<string, string> = {}
    for (const [key, value] of Object.entries(config.headers)) headers[key] = expandEnv(value, env)
    return new StreamableHTTPClientTransport(new URL(config.url!), {
      requestInit: { headers },
      fetch: boundedFetch(options.maxResponseBytes ?? LimitDefaults.maxResponseBytes)
    })
  }

  const open = async (): Promise<Client> => {
    const client: Client = new Client(CLIENT_INFO, {
      listChanged: {
        tools: {
          // The gateway refreshes on its own schedule; it only needs to know that it should.
          autoRefresh: false,
          onChanged: () => connection.onToolsChanged?.()
        }
      }
    })
    const transport = makeTransport()
    client.onclose = () => {
      if (current === client) drop()
    }
    try {
      await withTimeout(client.connect(transport), connectTimeoutMs, `connecting to ${config.name}`)
    } catch (error) {
      await client.close().catch(() => undefined)
      throw error
    }
    if (closed) {
      await client.close().catch(() => undefined)
      throw new Error(`backend ${config.name} is closed`)
    }
    current = client
    generation++
    return client
  }

  let current: Client | undefined
  const drop = () => {
    const old = current
    current = undefined
    session = undefined
    if (old !== undefined) void old.close().catch(() => undefined)
  }

  const client = (): Promise<Client> => {
    if (closed) return Promise.reject(new Error(`backend ${config.name} is closed`))
    if (session === undefined) {
      const opening = open()
      session = opening
      opening.catch(() => {
        if (session === opening) session = undefined
      })
    }
    return session
  }

  /**
   * Runs a request. A JSON-RPC error means the backend answered: the session stays. Anything
   * else (a timeout, a transport error, a lost session) drops it so that the next request
   * reconnects (and restarts a stdio process that hangs).
   */
  const request = async <A>(run: (c: Client) => Promise<A>): Promise<A> => {
    const c = await client()
    try {
      return await run(c)
    } catch (error) {
      if (current === c && !(error instanceof ProtocolError)) drop()
      throw error
    }
  }

  const connection: BackendConnection = {
    name: config.name,
    transport: config.transport,
    displayUrl: config.transport === "stdio" ? `stdio:${config.command ?? ""}` : redactUrl(config.url ?? ""),
    redact,
    secrets,
    ping: ({ timeoutMs, signal }) =>
      request((c) => c.ping({ timeout: timeoutMs, ...(signal === undefined ? {} : { signal }) })).then(
        () => undefined
      ),
    listTools: async ({ timeoutMs, signal }) => {
      const result = await request((c) =>
        c.listTools(undefined, {
          timeout: timeoutMs,
          cacheMode: "bypass",
          ...(signal === undefined ? {} : { signal })
        })
      )
      tools = result.tools
      return tools
    },
    tools: () => tools,
    generation: () => generation,
    callTool: (name, args, { timeoutMs, signal }) =>
      client().then(
        (c) =>
          c.callTool(
            { name, ...(args === undefined ? {} : { arguments: args }) },
            { timeout: timeoutMs, ...(signal === undefined ? {} : { signal }) }
          ) as Promise<CallToolResult>
      ),
    onToolsChanged: undefined,
    close: async () => {
      closed = true
      const pending = session
      session = undefined
      current = undefined
      if (pending !== undefined) {
        const c = await pending.catch(() => undefined)
        await c?.close().catch(() => undefined)
      }
    }
  }
  return connection
}
