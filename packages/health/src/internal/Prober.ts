import * as Effect from "effect/Effect"
import type { BackendConfig, CheckResult, CustomBackend, HttpBackend } from "../Config.ts"
import { categorize, type ProbeFailure } from "../ErrorCategory.ts"
import { McpSession } from "./McpSession.ts"

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

/** Builds the prober of a backend. `onToolsChanged` fires on `notifications/tools/list_changed`. */
export const makeProber = (
  config: BackendConfig,
  clientInfo: { readonly name: string; readonly version: string },
  requestTimeoutMs: number,
  onToolsChanged: () => void
): Prober => {
  if ("check" in config) return customProbe(config)
  if (config.transport === "http") return httpProbe(config)
  const session = new McpSession(config, clientInfo, requestTimeoutMs, onToolsChanged)
  return {
    probe: (discover) =>
      Effect.tryPromise({
        try: (signal) => session.probe(signal, discover),
        catch: (error) => session.categorize(error)
      }).pipe(
        Effect.map(({ tools }) => ({ discovered: tools === undefined ? undefined : fromNames(tools) }))
      ),
    discover: Effect.tryPromise({
      try: (signal) => session.discover(signal),
      catch: (error) => session.categorize(error)
    }).pipe(Effect.map((names) => (names === undefined ? undefined : fromNames(names)))),
    discovers: true,
    close: Effect.promise(() => session.close())
  }
}
