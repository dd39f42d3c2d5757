import {
  type CallToolResult,
  Client,
  type CompleteRequest,
  type CompleteResult,
  type FetchLike,
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
import { type BackendExit, makeRedactor, type Redactor, secretsOfUrl } from "@vmcp-status/core"
import { BackendRestarting, StartFailed } from "./Errors.ts"
import { type HttpCaller, type HttpCallSession, makeHttpCaller } from "./internal/HttpCall.ts"
import { ProcessTransport } from "./internal/ProcessTransport.ts"
import { makeSupervisor, type Opened } from "./internal/Supervisor.ts"
import { refreshDueAt, SessionDefaults } from "./SessionDefaults.ts"
import type { SessionEvent, SessionPhase } from "./SessionEvent.ts"

/** A backend reached by spawning a process and speaking MCP over its stdin/stdout. */
export interface StdioTransportOptions {
  readonly type: "stdio"
  readonly command: string
  readonly args?: ReadonlyArray<string>
  /** Added to the SDK's default inherited environment (`PATH`, `HOME`, …); its values are secrets. */
  readonly env?: Readonly<Record<string, string>>
  readonly cwd?: string
  /** Also copy the child's stderr to ours (`inherit`) or only keep its tail (`ignore`, the default). */
  readonly stderr?: "inherit" | "ignore"
}

/**
 * A backend reached over MCP Streamable HTTP.
 *
 * `tools/call` takes a direct path: one POST over `node:http(s)` with a keep-alive agent of the
 * session's own, on the session the SDK client opened (its session id, its negotiated
 * `mcp-protocol-version`, the `headers` given here), its answer (JSON or SSE) parsed once and the
 * result passed through unvalidated (checked only to be a JSON object with a `content` array,
 * `[]` when missing, as the SDK makes it). Everything else (opening
 * the session, the other requests, notifications) goes through the SDK client and `fetch`. The
 * rule: the direct path is used unless `fetch` is given without `maxResponseBytes` (a `fetch` of
 * its own then sees every request), or the backend negotiated the 2026-07-28 era (the SDK
 * mirrors tool arguments into headers there).
 */
export interface HttpTransportOptions {
  readonly type: "streamable-http"
  readonly url: string
  /** Sent with every request (e.g. `authorization`); their values are secrets. */
  readonly headers?: Readonly<Record<string, string>>
  /**
   * The `fetch` the SDK client uses, e.g. one that bounds response sizes (default: the global
   * `fetch`). Given without `maxResponseBytes`, tool calls go through it too (no direct path).
   */
  readonly fetch?: FetchLike
  /**
   * The largest answer to a direct `tools/call`: a JSON body by its bytes, an SSE stream per
   * event. Past it the rest is not read (the connection is closed) and the call fails with
   * `ResponseTooLargeError` (JSON), or with the JSON-RPC error `RESPONSE_TOO_LARGE_RPC_CODE`
   * whose `data.code` is `RESPONSE_TOO_LARGE` (SSE), as `boundedFetch` makes the SDK fail
   * (default: unbounded). Bound the SDK's own requests with `fetch`.
   */
  readonly maxResponseBytes?: number
}

/** What `makeBackendSession` takes. Only `name`, `transport` and `clientInfo` are required. */
export interface BackendSessionOptions {
  /** The backend's name, in events, log lines and errors. */
  readonly name: string
  readonly transport: StdioTransportOptions | HttpTransportOptions
  /** How the client introduces itself at `initialize`. */
  readonly clientInfo: { readonly name: string; readonly version: string }
  /** Spawn/connect plus `initialize` (default `SessionDefaults.startTimeoutMs`, 60 s). */
  readonly startTimeoutMs?: number
  /** Restart backoff of a lost process (default `SessionDefaults`). */
  readonly restart?: { readonly baseMs?: number; readonly capMs?: number; readonly stableAfterMs?: number }
  /** `list_changed` coalescing and the timeout of the discovery it causes (default `SessionDefaults`). */
  readonly refresh?: { readonly quietMs?: number; readonly maxWaitMs?: number; readonly timeoutMs?: number }
  /**
   * When a stdio process that is alive but answers nothing counts as hung: after `afterTimeouts`
   * pings in a row (default 3; 0 never) went unanswered (each timed out, or its caller gave up
   * after at least half its timeout, and the process sent nothing meanwhile; a slow tool call
   * says nothing about the process), it gets SIGTERM,
   * then SIGKILL after `killGraceMs` (default 2 s), and is restarted like a process that exited
   * (reason `hung`).
   */
  readonly hang?: { readonly afterTimeouts?: number; readonly killGraceMs?: number }
  /**
   * Redacts the stderr tails in `lastExit` and the reasons of failed starts (default: a
   * `makeRedactor` over the env values, header values and secret URL parts given here).
   */
  readonly redact?: Redactor
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
  /** New starts after a loss so far. */
  readonly restarts: number
  /** Losses in a row (0 before any; 1 after a first loss; more in a crash loop). */
  readonly lossesInARow: number
  readonly lastExit: BackendExit | undefined
}

/**
 * One supervised MCP session to a backend (docs/behaviours.md#backend-lifecycle), shared by
 * everything that talks to it: started on first use and bounded by its own start timeout, never
 * by a request; a stdio process that exits is recorded (`lastExit`) and restarted with capped
 * exponential backoff; an HTTP session dropped after a transport failure is reopened by the next
 * request; `list_changed` notifications are coalesced into one discovery.
 */
export interface BackendSession {
  readonly name: string
  /**
   * Resolves once the session is ready, starting it if nobody has yet. `signal` only ends the
   * wait: the start goes on (bounded by `startTimeoutMs`). While a lost process waits for its
   * restart it rejects at once (`BackendRestarting`), unless `throughRestart` asks to wait for it.
   */
  readonly started: (signal?: AbortSignal, options?: { readonly throughRestart?: boolean }) => Promise<void>
  /** MCP `ping` on the kept session (opening it first if needed). */
  readonly ping: (options: RequestOptions) => Promise<void>
  /** `tools/list` on the kept session; the result also becomes `tools()`. */
  readonly listTools: (options: RequestOptions) => Promise<ReadonlyArray<Tool>>
  /**
   * Lists every kind the backend's session advertises (tools always; resources and resource
   * templates with the `resources` capability; prompts with `prompts`) and keeps the results. A
   * kind the backend does not advertise, or answers with "method not found", is empty; one it
   * answers with another JSON-RPC error keeps its last list.
   */
  readonly discover: (options: RequestOptions) => Promise<Catalog>
  /** The tools from the last successful `listTools` or `discover` (empty before one). */
  readonly tools: () => ReadonlyArray<Tool>
  /** The resources from the last successful `discover` (empty before it). */
  readonly resources: () => ReadonlyArray<Resource>
  /** The resource templates from the last successful `discover` (empty before it). */
  readonly resourceTemplates: () => ReadonlyArray<ResourceTemplate>
  /** The prompts from the last successful `discover` (empty before it). */
  readonly prompts: () => ReadonlyArray<Prompt>
  /** What the backend advertised at `initialize` on the current session (`undefined` before one opened). */
  readonly capabilities: () => ServerCapabilities | undefined
  /**
   * Calls a tool by its backend-side name. Over Streamable HTTP it takes the direct path (see
   * `HttpTransportOptions`): the result is the backend's, unvalidated; a JSON-RPC error is the
   * SDK's `ProtocolError`, a timeout or abort the SDK's `REQUEST_TIMEOUT` error (and
   * `notifications/cancelled` goes to the backend), an HTTP error status an `SdkHttpError` naming
   * it (404 on a session: the session is gone, dropped like after any transport failure).
   */
  readonly callTool: (
    name: string,
    args: Record<string, unknown> | undefined,
    options: RequestOptions
  ) => Promise<CallToolResult>
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
  /** Counts the sessions opened so far: a new session may come with other tools. */
  readonly generation: () => number
  /** Where the session is in its lifecycle, restarts so far, and how it last ended. */
  readonly lifecycle: () => SessionLifecycle
  /**
   * Listens to the session's events (starting, started, lost, lists changed after a
   * `list_changed` of any kind and the discovery it caused); returns the unsubscribe function.
   * Every listener gets every event.
   */
  readonly subscribe: (listener: (event: SessionEvent) => void) => () => void
  /** Closes the session: ends an HTTP session on the server (at most 1 s), stops a stdio process. */
  readonly close: () => Promise<void>
}

/** True for a request's own timeout: it says nothing against the session. */
const isTimeout = (error: unknown): boolean => {
  const code = (error as { code?: unknown } | null)?.code
  const name = (error as { name?: unknown } | null)?.name
  return code === "REQUEST_TIMEOUT" || code === "ETIMEDOUT" || name === "TimeoutError"
}

/** How long closing waits for the server to acknowledge the end of an HTTP session. */
const TERMINATE_MS = 1_000

const endHttpSession = async (transport: StreamableHTTPClientTransport): Promise<void> => {
  if (transport.sessionId === undefined) return
  let timer: ReturnType<typeof setTimeout> | undefined
  await Promise.race([
    transport.terminateSession().catch(() => undefined),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, TERMINATE_MS)
    })
  ])
  clearTimeout(timer)
}

/**
 * Makes a supervised session to one backend. Nothing is opened until the first request (or
 * `started()`).
 *
 * @example
 * ```ts
 * import { makeBackendSession } from "@vmcp-status/mcp"
 *
 * const clock = makeBackendSession({
 *   name: "clock",
 *   transport: { type: "stdio", command: process.execPath, args: ["clock-server.js"] },
 *   clientInfo: { name: "my-gateway", version: "1.0.0" }
 * })
 * clock.subscribe((event) => console.log(event._tag))
 * await clock.ping({ timeoutMs: 5_000 })
 * console.log(clock.lifecycle()) // { phase: "ready", restarts: 0, ... }
 * await clock.close()
 * ```
 */
export const makeBackendSession = (options: BackendSessionOptions): BackendSession => {
  const { name, transport: target } = options
  const stdio = target.type === "stdio"
  const startTimeoutMs = options.startTimeoutMs ?? SessionDefaults.startTimeoutMs
  const quietMs = options.refresh?.quietMs ?? SessionDefaults.refreshQuietMs
  const maxWaitMs = options.refresh?.maxWaitMs ?? SessionDefaults.refreshMaxWaitMs
  const refreshTimeoutMs = options.refresh?.timeoutMs ?? SessionDefaults.refreshTimeoutMs
  const hangAfter = options.hang?.afterTimeouts ?? SessionDefaults.hangAfterTimeouts
  const hangGraceMs = options.hang?.killGraceMs ?? SessionDefaults.hangKillGraceMs
  /** Requests in a row that timed out on the current session (any answer resets it). */
  let timeoutsInARow = 0
  const redact =
    options.redact ??
    makeRedactor({
      secrets:
        target.type === "stdio"
          ? Object.values(target.env ?? {})
          : [...Object.values(target.headers ?? {}), ...secretsOfUrl(target.url)]
    })
  let tools: ReadonlyArray<Tool> = []
  let resources: ReadonlyArray<Resource> = []
  let resourceTemplates: ReadonlyArray<ResourceTemplate> = []
  let prompts: ReadonlyArray<Prompt> = []
  let current: Client | undefined
  const listeners = new Set<(event: SessionEvent) => void>()
  const emit = (event: SessionEvent) => {
    for (const listener of [...listeners]) {
      try {
        listener(event)
      } catch {
        // One listener's failure must not keep the event from the others.
      }
    }
  }
  /** The process behind each stdio client, to tell a request that failed because its process ended. */
  const processes = new WeakMap<Client, ProcessTransport>()
  /** The HTTP transport behind each client, whose session the direct `tools/call` reuses. */
  const httpTransports = new WeakMap<Client, StreamableHTTPClientTransport>()
  const caller: HttpCaller | undefined =
    target.type === "streamable-http" && (target.fetch === undefined || target.maxResponseBytes !== undefined)
      ? makeHttpCaller({
          url: target.url,
          headers: target.headers,
          maxResponseBytes: target.maxResponseBytes
        })
      : undefined
  /** What a direct call reuses of the client's session; undefined when the call goes through the SDK. */
  const directSession = (c: Client): HttpCallSession | undefined => {
    const transport = httpTransports.get(c)
    if (caller === undefined || transport === undefined || c.getProtocolEra() === "modern") return undefined
    return {
      sessionId: transport.sessionId,
      protocolVersion: transport.protocolVersion,
      deliver: (message) => transport.onmessage?.(message),
      cancel: (requestId, reason) => {
        c.notification({ method: "notifications/cancelled", params: { requestId, reason } }).catch(
          () => undefined
        )
      }
    }
  }

  const makeTransport = () =>
    target.type === "stdio"
      ? new ProcessTransport({
          command: target.command,
          args: [...(target.args ?? [])],
          env: { ...getDefaultEnvironment(), ...target.env },
          stderr: target.stderr ?? "ignore",
          ...(target.cwd === undefined ? {} : { cwd: target.cwd })
        })
      : new StreamableHTTPClientTransport(new URL(target.url), {
          requestInit: { headers: { ...target.headers } },
          ...(target.fetch === undefined ? {} : { fetch: target.fetch })
        })

  const open = async (signal: AbortSignal): Promise<Opened<Client>> => {
    const changed = { autoRefresh: false, debounceMs: 0, onChanged: () => listsChanged() }
    // The session coalesces notifications itself (a bounded wait, see `refreshDueAt`).
    const client: Client = new Client(options.clientInfo, {
      listChanged: { tools: changed, resources: changed, prompts: changed }
    })
    // Errors surface through the requests that fail; the SDK's extra reports would only be noise.
    client.onerror = () => undefined
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
    else httpTransports.set(client, transport)
    current = client
    return {
      client,
      pid: transport instanceof ProcessTransport ? transport.pid : undefined,
      ended,
      close: async () => {
        if (transport instanceof StreamableHTTPClientTransport) await endHttpSession(transport)
        await client.close()
      },
      ...(transport instanceof ProcessTransport ? { kill: (graceMs: number) => transport.kill(graceMs) } : {})
    }
  }

  const session = makeSupervisor<Client>({
    name,
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
   * ending fails with `BackendRestarting` (`PROCESS_EXITED`).
   */
  const request = async <A>(
    run: (c: Client) => Promise<A>,
    { timeoutMs, signal }: RequestOptions,
    liveness = false
  ): Promise<A> => {
    const c = await session.get(signal)
    const generation = session.generation()
    const sentAt = Date.now()
    const receivedBefore = processes.get(c)?.received
    try {
      const answer = await run(c)
      timeoutsInARow = 0
      return answer
    } catch (error) {
      if (processes.get(c)?.hasEnded === true)
        throw new BackendRestarting(name, "its process exited during the request")
      const process = processes.get(c)
      // Unanswered: it timed out, or its caller gave up after at least half its timeout (a probe's
      // own deadline), and the process sent nothing at all meanwhile. Only pings count toward a
      // hang: a slow tool call says nothing about the process.
      const unanswered =
        process !== undefined &&
        process.received === receivedBefore &&
        (isTimeout(error) || (signal?.aborted === true && Date.now() - sentAt >= timeoutMs / 2))
      if (error instanceof ProtocolError || (process !== undefined && !unanswered)) timeoutsInARow = 0
      else if (liveness && unanswered && hangAfter > 0 && ++timeoutsInARow >= hangAfter) {
        timeoutsInARow = 0
        session.kill(generation, `hung: no answer to ${hangAfter} pings in a row`, hangGraceMs)
      }
      if (!stdio && !(error instanceof ProtocolError) && signal?.aborted !== true && !isTimeout(error))
        session.drop()
      throw error
    }
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

  const discover = async (request_: RequestOptions): Promise<Catalog> => {
    const found = await request(async (c) => {
      const caps = c.getServerCapabilities()
      const bypass = { ...requestOptions(request_), cacheMode: "bypass" as const }
      const [t, r, rt, p] = await Promise.all([
        c.listTools(undefined, bypass).then((x) => x.tools),
        optional(caps?.resources !== undefined, resources, () =>
          c.listResources(undefined, bypass).then((x) => x.resources)
        ),
        optional(caps?.resources !== undefined, resourceTemplates, () =>
          c.listResourceTemplates(undefined, bypass).then((x) => x.resourceTemplates)
        ),
        optional(caps?.prompts !== undefined, prompts, () =>
          c.listPrompts(undefined, bypass).then((x) => x.prompts)
        )
      ])
      return { tools: t, resources: r, resourceTemplates: rt, prompts: p }
    }, request_)
    tools = found.tools
    resources = found.resources
    resourceTemplates = found.resourceTemplates
    prompts = found.prompts
    return found
  }

  // `list_changed` coalescing: a refresh after a short quiet, but at least every `maxWaitMs`
  // during a storm; one refresh at a time, and a notification that arrives during one causes
  // another, so the newest list is always fetched.
  let firstAt: number | undefined
  let lastAt = 0
  let refreshTimer: ReturnType<typeof setTimeout> | undefined
  let refreshing = false
  let closed = false
  const schedule = () => {
    if (refreshTimer !== undefined) clearTimeout(refreshTimer)
    refreshTimer = undefined
    if (firstAt === undefined || refreshing || closed) return
    const due = refreshDueAt(firstAt, lastAt, quietMs, maxWaitMs)
    refreshTimer = setTimeout(refresh, Math.max(0, due - Date.now()))
  }
  const refresh = () => {
    refreshTimer = undefined
    firstAt = undefined
    refreshing = true
    discover({ timeoutMs: refreshTimeoutMs })
      .then(() => emit({ _tag: "ListsChanged", backend: name }))
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

  return {
    name,
    started: (signal, startedOptions) => session.get(signal, startedOptions).then(() => undefined),
    ping: (request_) =>
      request((c) => c.ping(requestOptions(request_)), request_, true).then(() => undefined),
    listTools: async (request_) => {
      const result = await request(
        (c) => c.listTools(undefined, { ...requestOptions(request_), cacheMode: "bypass" }),
        request_
      )
      tools = result.tools
      return tools
    },
    discover,
    tools: () => tools,
    resources: () => resources,
    resourceTemplates: () => resourceTemplates,
    prompts: () => prompts,
    capabilities: () => current?.getServerCapabilities(),
    callTool: (tool, args, request_) =>
      request((c) => {
        const params = { name: tool, ...(args === undefined ? {} : { arguments: args }) }
        const direct = directSession(c)
        return direct === undefined || caller === undefined
          ? (c.callTool(params, requestOptions(request_)) as Promise<CallToolResult>)
          : caller.callTool(direct, params, request_)
      }, request_),
    readResource: (uri, request_) =>
      request((c) => c.readResource({ uri }, { ...requestOptions(request_), cacheMode: "bypass" }), request_),
    getPrompt: (prompt, args, request_) =>
      request(
        (c) =>
          c.getPrompt(
            { name: prompt, ...(args === undefined ? {} : { arguments: args }) },
            requestOptions(request_)
          ),
        request_
      ),
    complete: (params, request_) => request((c) => c.complete(params, requestOptions(request_)), request_),
    generation: session.generation,
    lifecycle: () => ({
      phase: session.phase(),
      startingCleanly: session.startingCleanly(),
      restarts: session.restarts(),
      lossesInARow: session.lossesInARow(),
      lastExit: session.lastExit()
    }),
    subscribe: (listener) => {
      listeners.add(listener)
      return () => {
        listeners.delete(listener)
      }
    },
    close: async () => {
      closed = true
      if (refreshTimer !== undefined) clearTimeout(refreshTimer)
      firstAt = undefined
      await session.close()
      caller?.close()
    }
  }
}
