import { makeBackendSession } from "@vmcp-status/mcp"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type {
  BackendConfig,
  CheckResult,
  CustomBackend,
  HttpBackend,
  McpHttpBackend,
  McpStdioBackend
} from "../Config.ts"
import { categorize, type ProbeFailure } from "../ErrorCategory.ts"

/**
 * What a discovery found: the tool count (and, from a custom check, the other kinds' counts), and
 * a key that changes when what was found does.
 */
export interface Discovered {
  readonly count: number
  readonly key: string
  readonly others?: OtherCounts
}

/** The counts of kinds besides tools, each absent when unknown. */
export interface OtherCounts {
  readonly resourceCount?: number
  readonly resourceTemplateCount?: number
  readonly promptCount?: number
}

const isCount = (n: unknown): n is number => typeof n === "number" && Number.isInteger(n) && n >= 0

/** What a successful probe learned: `discovered` when it ran a discovery; `pending` when the backend is not ready yet. */
export interface ProbeSuccess {
  readonly discovered: Discovered | undefined
  readonly pending?: string
}

const fromNames = (names: ReadonlyArray<string>): Discovered => ({
  count: names.length,
  key: JSON.stringify([...names].sort())
})

/** The probing side of one backend, as Effects: interruption aborts the request in flight. */
export interface Prober {
  readonly probe: (discover: boolean) => Effect.Effect<ProbeSuccess, ProbeFailure>
  /** A discovery alone, on the kept session; `undefined` when there is no session to ask. */
  readonly discover: Effect.Effect<Discovered | undefined, ProbeFailure>
  /** True for MCP backends, which have tools to discover. */
  readonly discovers: boolean
  readonly close: Effect.Effect<void>
}

const httpProbe = (config: HttpBackend): Prober => ({
  probe: () =>
    Effect.tryPromise({
      try: async (signal) => {
        const response = await fetch(config.url, {
          headers: { ...config.headers },
          signal,
          redirect: "manual"
        })
        await response.body?.cancel().catch(() => undefined)
        if (response.status >= 400) throw Object.assign(new Error("HTTP status"), { status: response.status })
        return { discovered: undefined }
      },
      catch: categorize
    }),
  discover: Effect.succeed(undefined),
  discovers: false,
  close: Effect.void
})

const fromCheck = (out: CheckResult | void): ProbeSuccess => {
  const pending = out?.pending
  if (typeof pending === "string") return { discovered: undefined, pending }
  const count = out?.toolCount
  if (!isCount(count)) return { discovered: undefined }
  const others: OtherCounts = {
    ...(isCount(out?.resourceCount) ? { resourceCount: out.resourceCount } : {}),
    ...(isCount(out?.resourceTemplateCount) ? { resourceTemplateCount: out.resourceTemplateCount } : {}),
    ...(isCount(out?.promptCount) ? { promptCount: out.promptCount } : {})
  }
  return Object.keys(others).length === 0
    ? { discovered: { count, key: String(count) } }
    : { discovered: { count, key: JSON.stringify([count, others]), others } }
}

const customProbe = (config: CustomBackend): Prober => ({
  probe: () =>
    Effect.suspend(() => {
      const controller = new AbortController()
      let out: ReturnType<CustomBackend["check"]>
      try {
        out = config.check({ signal: controller.signal })
      } catch (error) {
        return Effect.fail(categorize(error))
      }
      if (Effect.isEffect(out)) return out.pipe(Effect.map(fromCheck), Effect.mapError(categorize))
      return Effect.tryPromise({ try: () => Promise.resolve(out), catch: categorize }).pipe(
        Effect.map(fromCheck),
        Effect.onInterrupt(() => Effect.sync(() => controller.abort()))
      )
    }),
  discover: Effect.succeed(undefined),
  discovers: false,
  close: Effect.void
})

/**
 * Failures after which a kept session is worth one fresh attempt in the same probe: the
 * connection or process is gone, or the server no longer knows the session (404, as the MCP
 * Streamable HTTP transport answers for a terminated session).
 */
const isStale = (failure: ProbeFailure): boolean =>
  failure.category === "connection_reset" ||
  failure.category === "process_exited" ||
  (failure.category === "http_error" && failure.detail === "HTTP 404")

const processExited: ProbeFailure = { category: "process_exited", detail: "process exited" }

/**
 * An MCP backend over the shared supervised session of `@vmcp-status/mcp`, started on first
 * use and bounded by its own start timeout. A stdio process still starting after half the probe
 * timeout is pending (`unknown`, `starting`), not a failure, unless it is crash-looping; one that
 * exits is restarted with backoff, and a probe after its first loss waits for the restart. An
 * HTTP connect is part of its probe. A stale session gets one fresh attempt within the probe.
 */
const mcpProbe = (
  config: McpHttpBackend | McpStdioBackend,
  clientInfo: { readonly name: string; readonly version: string },
  probeTimeoutMs: number,
  requestTimeoutMs: number,
  onToolsChanged: () => void
): Prober => {
  const stdio = config.transport === "stdio"
  const open = () => {
    const session = makeBackendSession({
      name: config.name,
      transport:
        config.transport === "stdio"
          ? {
              type: "stdio",
              command: config.command,
              args: config.args ?? [],
              env: config.env ?? {},
              ...(config.cwd === undefined ? {} : { cwd: config.cwd })
            }
          : { type: "streamable-http", url: config.url, headers: config.headers ?? {} },
      clientInfo
    })
    // The session has already refreshed its lists when it says so: `discover` reads them.
    session.subscribe((event) => {
      if (event._tag === "ListsChanged") onToolsChanged()
    })
    return session
  }
  let session = open()
  /**
   * An HTTP connect abandoned by its probe (timeout, stop) is closed, so a hung connect does not
   * outlive the probe: the next probe connects afresh.
   */
  const abandonStart = Effect.sync(() => {
    if (session.lifecycle().phase !== "starting") return
    const old = session
    session = open()
    void old.close()
  })
  /** On stdio a closed connection means the process is gone. */
  const categorizeMcp = (error: unknown): ProbeFailure => {
    const failure = categorize(error)
    return stdio && failure.category === "connection_reset" ? processExited : failure
  }
  let discoveredGeneration = -1

  /** The session ready to probe, or `pending` while a clean start outlasts half the probe timeout. */
  const ready: Effect.Effect<"ready" | "pending", ProbeFailure> = Effect.suspend(() => {
    const { phase, lossesInARow } = session.lifecycle()
    if (phase === "ready") return Effect.succeed("ready" as const)
    // A crash loop fails at once: the next restart may be a minute away.
    if (phase === "restarting" && lossesInARow > 1) return Effect.fail(processExited)
    const started = Effect.tryPromise({
      try: (signal) => session.started(signal, { throughRestart: true }),
      catch: categorizeMcp
    })
    // Connecting to an HTTP backend is part of its probe, bounded by the probe timeout.
    if (!stdio)
      return started.pipe(
        Effect.as("ready" as const),
        Effect.onInterrupt(() => abandonStart)
      )
    return started.pipe(
      Effect.timeoutOption(probeTimeoutMs / 2),
      Effect.flatMap(
        Option.match({
          onSome: () => Effect.succeed("ready" as const),
          onNone: () =>
            session.lifecycle().startingCleanly
              ? Effect.succeed("pending" as const)
              : Effect.fail(processExited)
        })
      )
    )
  })

  /** `ping`, then `tools/list` when asked or on a session not listed yet. */
  const attempt = (discover: boolean) =>
    Effect.tryPromise({
      try: async (signal) => {
        await session.ping({ timeoutMs: requestTimeoutMs, signal })
        const generation = session.generation()
        if (!discover && generation === discoveredGeneration) return undefined
        const tools = await session.listTools({ timeoutMs: requestTimeoutMs, signal })
        discoveredGeneration = generation
        return fromNames(tools.map((t) => t.name))
      },
      catch: categorizeMcp
    })

  const probeOnce = (discover: boolean): Effect.Effect<ProbeSuccess, ProbeFailure> =>
    Effect.flatMap(ready, (state) =>
      state === "pending"
        ? Effect.succeed({ discovered: undefined, pending: "starting" })
        : Effect.map(attempt(discover), (discovered) => ({ discovered }))
    )

  return {
    probe: (discover) =>
      Effect.suspend(() => {
        const reused = session.lifecycle().phase === "ready"
        return probeOnce(discover).pipe(
          Effect.catch((failure) => (reused && isStale(failure) ? probeOnce(discover) : Effect.fail(failure)))
        )
      }),
    discover: Effect.sync(() =>
      session.lifecycle().phase === "ready" && discoveredGeneration === session.generation()
        ? fromNames(session.tools().map((t) => t.name))
        : undefined
    ),
    discovers: true,
    close: Effect.promise(() => session.close())
  }
}

/** Builds the prober of a backend. `onToolsChanged` fires once the session has refreshed its lists after `list_changed`. */
export const makeProber = (
  config: BackendConfig,
  clientInfo: { readonly name: string; readonly version: string },
  probeTimeoutMs: number,
  requestTimeoutMs: number,
  onToolsChanged: () => void
): Prober => {
  if ("check" in config) return customProbe(config)
  if (config.transport === "http") return httpProbe(config)
  return mcpProbe(config, clientInfo, probeTimeoutMs, requestTimeoutMs, onToolsChanged)
}
