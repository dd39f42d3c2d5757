import { resolve } from "node:path"
import {
  type CallToolResult,
  Client,
  type CompleteRequest,
  type CompleteResult,
  type GetPromptResult,
  type Prompt,
  ProtocolError,
  ProtocolErrorCode,
  type ReadResourceResult,
  type Resource,
  type ResourceTemplateType as ResourceTemplate,
  type ServerCapabilities,
  StreamableHTTPClientTransport,
  type Tool
} from "@modelcontextprotocol/client"
import { getDefaultEnvironment } from "@modelcontextprotocol/client/stdio"
import {
  type BackendExit,
  type Transport as CoreTransport,
  makeRedactor,
  type Redactor,
  redactUrl,
  secretsOfUrl
} from "@vmcp-status/core"
import { categorize } from "@vmcp-status/health"
import { expandEnv, LimitDefaults, type VmcpBackendConfig } from "../Config.ts"
import { VERSION } from "../Version.ts"
import {
  BackendRestarting,
  makeSupervisor,
  type Opened,
  ProcessTransport,
  refreshDueAt,
  SessionDefaults,
  type SessionEvent,
  type SessionPhase,
  StartFailed
} from "./BackendSession.ts"
import { boundedFetch } from "./BoundedFetch.ts"

/** The client identity the gateway presents to its backends. */
const CLIENT_INFO = { name: "vmcp", version: VERSION }

/**
 * One backend MCP server, reached over one kept session (a spawned process for stdio) with a
 * lifecycle (docs/behaviours.md#backend-lifecycle): started on first use and bounded by its own
 * `startTimeout`, never by a probe; a stdio process that exits is recorded (code or signal,
 * redacted stderr tail) and restarted with capped exponential backoff; an HTTP session dropped
 * after a transport failure is reopened by the next request.
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
  /**
   * Resolves once the session is ready, starting it if nobody has yet. `signal` only ends the
   * wait: the start goes on (bounded by `startTimeout`).
   */
  readonly started: (signal?: AbortSignal) => Promise<void>
  /** MCP `ping` on the kept session (opening it first if needed). */
  readonly ping: (options: { readonly timeoutMs: number; readonly signal?: AbortSignal }) => Promise<void>
  /** `tools/list` on the kept session; the result also becomes `tools()`. */
  readonly listTools: (options: {
    readonly timeoutMs: number
    readonly signal?: AbortSignal
  }) => Promise<ReadonlyArray<Tool>>
  /** The tools from the last successful `listTools` (empty before it). */
  readonly tools: () => ReadonlyArray<Tool>
  /**
   * Lists every kind the backend's session advertises (tools always; resources and resource
   * templates with the `resources` capability; prompts with `prompts`) and keeps the results
   * (`tools()`, `resources()`, `resourceTemplates()`, `prompts()`). A kind the backend does not
   * advertise, or answers with "method not found", is empty; one it answers with another
   * JSON-RPC error keeps its last list.
   */
  readonly discover: (options: RequestOptions) => Promise<Catalog>
  /** The resources from the last successful `discover` (empty before it). */
  readonly resources: () => ReadonlyArray<Resource>
  /** The resource templates from the last successful `discover` (empty before it). */
  readonly resourceTemplates: () => ReadonlyArray<ResourceTemplate>
  /** The prompts from the last successful `discover` (empty before it). */
  readonly prompts: () => ReadonlyArray<Prompt>
  /** What the backend advertised at `initialize` on the current session (`undefined` before one opened). */
  readonly capabilities: () => ServerCapabilities | undefined
  /** `resources/read` by the backend-side URI. */
  readonly readResource: (uri: string, options: RequestOptions) => Promise<ReadResourceResult>
  /** `prompts/get` by the backend-side name. */
  readonly getPrompt: (
    name: string,
    args: Record<string, string> | undefined,
    options: RequestOptions
  ) => Promise<GetPromptResult>
  /** `completion/complete` with a backend-side reference. */
  readonly complete: (params: CompleteRequest["params"], options: RequestOptions) => Promise<CompleteResult>
  /** Calls a tool by its backend-side name. */
  readonly callTool: (
    name: string,
    args: Record<string, unknown> | undefined,
    options: { readonly timeoutMs: number; readonly signal?: AbortSignal }
  ) => Promise<CallToolResult>
  /** Counts the sessions opened so far: a new session may come with other tools. */
  readonly generation: () => number
  /** Where the session is in its lifecycle, restarts so far, and how it last ended. */
  readonly lifecycle: () => SessionLifecycle
  /**
   * Listens to the session's events (started, lost, restarting, lists changed after a
   * `list_changed` of any kind and the discovery it caused); returns the unsubscribe function.
   */
  readonly subscribe: (listener: (event: SessionEvent) => void) => () => void
  /** Closes the session (and stops a stdio process). */
  readonly close: () => Promise<void>
}

/** The timeout and abort signal of one request to a backend. */
export interface RequestOptions {
  readonly timeoutMs: number
  readonly signal?: AbortSignal
}

/** Everything one backend offers, as its last discovery found it. */
export interface Catalog {
  readonly tools: ReadonlyArray<Tool>
  readonly resources: ReadonlyArray<Resource>
  readonly resourceTemplates: ReadonlyArray<ResourceTemplate>
  readonly prompts: ReadonlyArray<Prompt>
}

/** A backend session's lifecycle as status sees it. */
export interface SessionLifecycle {
  readonly phase: SessionPhase
  /** True while a first start (or the first restart after a stable run) is in progress: not a failure yet. */
  readonly startingCleanly: boolean
  readonly restarts: number
  readonly lastExit: BackendExit | undefined
}

/** Options of `makeBackendConnection`. */
export interface BackendConnectionOptions {
  /** Environment for `${VAR}` in `env`/`headers` and for stdio children (default `process.env`). */
  readonly env?: Readonly<Record<string, string | undefined>>
  /** Where a stdio backend's stderr goes besides its kept tail (default: only the tail, so it cannot garble the status lines). */
  readonly stderr?: "inherit" | "ignore"
  /** Timeout of opening a session: spawn/connect and `initialize` (default: the backend's `startTimeout`, else 60 s). */
  readonly startTimeoutMs?: number
  /** The working directory of stdio backends without `cwd`, e.g. the config file's folder (default: the current one). */
  readonly baseDir?: string
  /** Timeout of the `tools/list` that follows a `list_changed` (default 30 s). */
  readonly refreshTimeoutMs?: number
  /** Restart backoff of a lost stdio process (default `SessionDefaults`). */
  readonly restart?: { readonly baseMs?: number; readonly capMs?: number; readonly stableAfterMs?: number }
  /** The largest message a Streamable HTTP backend may answer with (`limits.maxResponseBytes`). */
  readonly maxResponseBytes?: number
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
  const startTimeoutMs = options.startTimeoutMs ?? config.startTimeout ?? SessionDefaults.startTimeoutMs
  const refreshTimeoutMs = options.refreshTimeoutMs ?? 30_000
  const stdio = config.transport === "stdio"
  let tools: ReadonlyArray<Tool> = []
  let resources: ReadonlyArray<Resource> = []
  let resourceTemplates: ReadonlyArray<ResourceTemplate> = []
  let prompts: ReadonlyArray<Prompt> = []
  let current: Client | undefined
  const secrets = backendSecrets(config, env)
  const redact = makeRedactor({ secrets })
  const listeners = new Set<(event: SessionEvent) => void>()
  const emit = (event: SessionEvent) => {
    for (const listener of [...listeners]) listener(event)
  }
  /** The process behind each stdio client, to tell a request that failed because its process ended. */
  const processes = new WeakMap<Client, ProcessTransport>()

  const makeTransport = () => {
    if (stdio) {
      const childEnv: Record<string, string> = { ...getDefaultEnvironment() }
      for (const [key, value] of Object.entries(config.env)) childEnv[key] = expandEnv(value, env)
      const cwd = config.cwd === undefined ? options.baseDir : resolve(options.baseDir ?? ".", config.cwd)
      return new ProcessTransport({
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

  const open = async (signal: AbortSignal): Promise<Opened<Client>> => {
    const client: Client = new Client(CLIENT_INFO, {
      listChanged: {
        tools: {
          // The session coalesces notifications itself (a bounded wait, see `refreshDueAt`).
          autoRefresh: false,
          debounceMs: 0,
          onChanged: () => listsChanged()
        },
        resources: { autoRefresh: false, debounceMs: 0, onChanged: () => listsChanged() },
        prompts: { autoRefresh: false, debounceMs: 0, onChanged: () => listsChanged() }
      }
    })
    const transport = makeTransport()
    const ended =
      transport instanceof ProcessTransport
        ? transport.ended
        : new Promise<undefined>((resolve) => {
            client.onclose = () => resolve(undefined)
          })
    const aborted = new Promise<never>((_, reject) => {
      if (signal.aborted) reject(signal.reason)
      signal.addEventListener("abort", () => reject(signal.reason), { once: true })
    })
    try {
      await Promise.race([client.connect(transport), aborted])
    } catch (error) {
      await client.close().catch(() => undefined)
      const end = transport instanceof ProcessTransport ? await transport.ended : undefined
      throw new StartFailed(error, end, signal.aborted)
    }
    if (transport instanceof ProcessTransport) processes.set(client, transport)
    current = client
    return {
      client,
      pid: transport instanceof ProcessTransport ? transport.pid : undefined,
      ended,
      close: () => client.close()
    }
  }

  const session = makeSupervisor<Client>({
    name: config.name,
    restartable: stdio,
    open,
    startTimeoutMs,
    redact,
    emit,
    ...(options.restart === undefined ? {} : { restart: options.restart })
  })

  /**
   * Runs a request on the session. A request never closes a stdio session (its process is
   * watched instead); an HTTP session is dropped after a transport failure that is not our own
   * timeout or abort, so that the next request reconnects. A request cut by its stdio process
   * ending fails as `process_exited`.
   */
  const request = async <A>(run: (c: Client) => Promise<A>, signal?: AbortSignal): Promise<A> => {
    const c = await session.get(signal)
    try {
      return await run(c)
    } catch (error) {
      const process = processes.get(c)
      if (process?.hasEnded === true)
        throw new BackendRestarting(config.name, "its process exited during the request")
      if (
        !stdio &&
        !(error instanceof ProtocolError) &&
        signal?.aborted !== true &&
        categorize(error).category !== "timeout"
      )
        session.drop()
      throw error
    }
  }

  const listTools = async (timeoutMs: number, signal?: AbortSignal) => {
    const result = await request(
      (c) =>
        c.listTools(undefined, {
          timeout: timeoutMs,
          cacheMode: "bypass",
          ...(signal === undefined ? {} : { signal })
        }),
      signal
    )
    tools = result.tools
    return tools
  }

  const requestOptions = ({ timeoutMs, signal }: RequestOptions) => ({
    timeout: timeoutMs,
    ...(signal === undefined ? {} : { signal })
  })

  /**
   * A list besides tools: "method not found" is an empty list; another JSON-RPC error keeps the
   * last list of that kind (the backend answers, so its tools keep it healthy); a transport
   * error fails the discovery like one of `tools/list`.
   */
  const optional = <A>(
    offered: boolean,
    last: ReadonlyArray<A>,
    list: () => Promise<ReadonlyArray<A>>
  ): Promise<ReadonlyArray<A>> =>
    offered
      ? list().catch((error: unknown) => {
          if (!(error instanceof ProtocolError)) throw error
          return error.code === ProtocolErrorCode.MethodNotFound ? [] : last
        })
      : Promise.resolve([])

  const discover = async (options: RequestOptions): Promise<Catalog> => {
    const found = await request(async (c) => {
      const caps = c.getServerCapabilities()
      const cacheable = { ...requestOptions(options), cacheMode: "bypass" as const }
      const [t, r, rt, p] = await Promise.all([
        c.listTools(undefined, cacheable).then((x) => x.tools),
        optional(caps?.resources !== undefined, resources, () =>
          c.listResources(undefined, cacheable).then((x) => x.resources)
        ),
        optional(caps?.resources !== undefined, resourceTemplates, () =>
          c.listResourceTemplates(undefined, cacheable).then((x) => x.resourceTemplates)
        ),
        optional(caps?.prompts !== undefined, prompts, () =>
          c.listPrompts(undefined, cacheable).then((x) => x.prompts)
        )
      ])
      return { tools: t, resources: r, resourceTemplates: rt, prompts: p }
    }, options.signal)
    tools = found.tools
    resources = found.resources
    resourceTemplates = found.resourceTemplates
    prompts = found.prompts
    return found
  }

  // `list_changed` coalescing: a refresh after a short quiet, but at least every
  // `refreshMaxWaitMs` during a storm; one refresh at a time, and a notification that arrives
  // during one causes another, so the newest list is always fetched.
  let firstAt: number | undefined
  let lastAt = 0
  let refreshTimer: NodeJS.Timeout | undefined
  let refreshing = false
  const schedule = () => {
    if (refreshTimer !== undefined) clearTimeout(refreshTimer)
    refreshTimer = undefined
    if (firstAt === undefined || refreshing) return
    const due = refreshDueAt(
      firstAt,
      lastAt,
      SessionDefaults.refreshQuietMs,
      SessionDefaults.refreshMaxWaitMs
    )
    refreshTimer = setTimeout(refresh, Math.max(0, due - Date.now()))
  }
  const refresh = () => {
    refreshTimer = undefined
    firstAt = undefined
    refreshing = true
    discover({ timeoutMs: refreshTimeoutMs })
      .then(() => emit({ _tag: "ListsChanged", backend: config.name }))
      .catch(() => undefined)
      .finally(() => {
        refreshing = false
        schedule()
      })
  }
  const listsChanged = () => {
    const now = Date.now()
    if (firstAt === undefined) firstAt = now
    lastAt = now
    schedule()
  }

  const connection: BackendConnection = {
    name: config.name,
    transport: config.transport,
    displayUrl: stdio ? `stdio:${config.command ?? ""}` : redactUrl(config.url ?? ""),
    redact,
    secrets,
    ping: ({ timeoutMs, signal }) =>
      request(
        (c) => c.ping({ timeout: timeoutMs, ...(signal === undefined ? {} : { signal }) }),
        signal
      ).then(() => undefined),
    started: (signal) => session.get(signal).then(() => undefined),
    listTools: ({ timeoutMs, signal }) => listTools(timeoutMs, signal),
    tools: () => tools,
    discover,
    resources: () => resources,
    resourceTemplates: () => resourceTemplates,
    prompts: () => prompts,
    capabilities: () => current?.getServerCapabilities(),
    readResource: (uri, options) =>
      request(
        (c) => c.readResource({ uri }, { ...requestOptions(options), cacheMode: "bypass" }),
        options.signal
      ),
    getPrompt: (name, args, options) =>
      request(
        (c) =>
          c.getPrompt({ name, ...(args === undefined ? {} : { arguments: args }) }, requestOptions(options)),
        options.signal
      ),
    complete: (params, options) =>
      request((c) => c.complete(params, requestOptions(options)), options.signal),
    generation: session.generation,
    callTool: (name, args, { timeoutMs, signal }) =>
      request(
        (c) =>
          c.callTool(
            { name, ...(args === undefined ? {} : { arguments: args }) },
            { timeout: timeoutMs, ...(signal === undefined ? {} : { signal }) }
          ) as Promise<CallToolResult>,
        signal
      ),
    lifecycle: () => ({
      phase: session.phase(),
      startingCleanly: session.startingCleanly(),
      restarts: session.restarts(),
      lastExit: session.lastExit()
    }),
    subscribe: (listener) => {
      listeners.add(listener)
      return () => {
        listeners.delete(listener)
      }
    },
    close: async () => {
      if (refreshTimer !== undefined) clearTimeout(refreshTimer)
      firstAt = undefined
      await session.close()
    }
  }
  return connection
}
