import { type Transport as CoreTransport, Transport } from "@vmcp-status/core"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"
import type { BreakerSettings } from "./CircuitBreaker.ts"
import { InvalidHealthConfig } from "./Errors.ts"

/** What a custom check may report besides success. */
export interface CheckResult {
  /** The number of tools the backend offers, if the check knows it. */
  readonly toolCount?: number
  /**
   * The backend is not ready to be probed yet (e.g. its process is starting): the probe is
   * neither a success nor a failure. The backend reports `unknown` with this text as its
   * message, its failure count and circuit stay as they are.
   */
  readonly pending?: string
  /** The number of resources it offers, if known (reported as `resourceCount`; needs `toolCount`). */
  readonly resourceCount?: number
  /** The number of resource templates it offers, if known (`resourceTemplateCount`; needs `toolCount`). */
  readonly resourceTemplateCount?: number
  /** The number of prompts it offers, if known (`promptCount`; needs `toolCount`). */
  readonly promptCount?: number
}

/**
 * A user-supplied probe. Resolving (or succeeding) means healthy; rejecting (or failing) means a
 * failed probe, categorized like any other (`categorize`): throw an error with `status: 401` to
 * report `unauthenticated`, `status: 429` for rate limiting. `signal` aborts on timeout and stop.
 */
export type CustomCheck = (context: {
  readonly signal: AbortSignal
}) => Promise<CheckResult | void> | Effect.Effect<CheckResult | void, unknown>

/** An MCP backend over Streamable HTTP: a kept session, probed with `ping`. */
export interface McpHttpBackend {
  readonly name: string
  readonly transport: "streamable-http"
  readonly url: string
  /** Sent with every request (e.g. `authorization`); never reported. */
  readonly headers?: Readonly<Record<string, string>>
}

/** An MCP backend over stdio: a child process kept running, probed with `ping`. */
export interface McpStdioBackend {
  readonly name: string
  readonly transport: "stdio"
  readonly command: string
  readonly args?: ReadonlyArray<string>
  /** Added to the SDK's default inherited environment; never reported. */
  readonly env?: Readonly<Record<string, string>>
  readonly cwd?: string
}

/** A plain HTTP endpoint: healthy when `GET url` answers 2xx. */
export interface HttpBackend {
  readonly name: string
  readonly transport: "http"
  readonly url: string
  readonly headers?: Readonly<Record<string, string>>
}

/** A backend probed by your own function; `transport` and `url` only label the report. */
export interface CustomBackend {
  readonly name: string
  readonly transport: CoreTransport
  readonly url?: string
  readonly check: CustomCheck
}

/** One backend to watch. `name` is its unique key. */
export type BackendConfig = McpHttpBackend | McpStdioBackend | HttpBackend | CustomBackend

/** Options of `HealthChecker.make`; every field but `backends` has a default (`HealthDefaults`). */
export interface HealthOptions {
  readonly backends: ReadonlyArray<BackendConfig>
  /** Time between two probes of a backend (default 30 s), jittered by `jitter`. */
  readonly interval?: Duration.Input
  /** Relative jitter of the interval, in [0, 1) (default 0.1: ±10 %). */
  readonly jitter?: number
  /** A probe slower than this has failed with `timeout` (default 10 s). */
  readonly timeout?: Duration.Input
  /** A successful probe slower than this makes the backend `degraded` (default 5 s). */
  readonly slowThreshold?: Duration.Input
  /** Consecutive failed probes before `unhealthy` (default 3). */
  readonly unhealthyAfter?: number
  /** Time between two `tools/list` discoveries of an MCP backend (default 5 min); `list_changed` triggers one at once. */
  readonly discoveryInterval?: Duration.Input
  /** Probes running at the same time across all backends (default 32). */
  readonly concurrency?: number
  readonly circuitBreaker?: {
    /** Consecutive failed probes that open the circuit (default 5). */
    readonly failureThreshold?: number
    /** How long the circuit first stays open (default 60 s); doubles after each failed half-open probe. */
    readonly openDuration?: Duration.Input
    /** The cap of the open duration (default 10 min). */
    readonly maxOpenDuration?: Duration.Input
  }
  /** How the MCP client introduces itself (default `vmcp-status-health`). */
  readonly clientInfo?: { readonly name: string; readonly version: string }
}

/** The defaults of `HealthOptions`, in one place. Durations in ms. */
export const HealthDefaults = {
  intervalMs: 30_000,
  jitter: 0.1,
  timeoutMs: 10_000,
  slowMs: 5_000,
  unhealthyAfter: 3,
  discoveryIntervalMs: 300_000,
  concurrency: 32,
  breaker: { failureThreshold: 5, openMs: 60_000, maxOpenMs: 600_000 },
  clientInfo: { name: "vmcp-status-health", version: "0.1.0" }
} as const

/** Validated options, durations in ms. */
export interface ResolvedOptions {
  readonly intervalMs: number
  readonly jitter: number
  readonly timeoutMs: number
  readonly slowMs: number
  readonly unhealthyAfter: number
  readonly discoveryIntervalMs: number
  readonly concurrency: number
  readonly breaker: BreakerSettings
  readonly clientInfo: { readonly name: string; readonly version: string }
}

/** The message starts with the field, so a printed error says where as well as what. */
const fail = (field: string, message: string) =>
  Effect.fail(new InvalidHealthConfig({ field, message: `${field}: ${message}` }))

const millis = (field: string, input: Duration.Input | undefined, fallback: number) =>
  Effect.suspend(() => {
    if (input === undefined) return Effect.succeed(fallback)
    const decoded = Duration.fromInput(input)
    const ms = Option.isSome(decoded) ? Duration.toMillis(decoded.value) : Number.NaN
    return ms > 0 && Number.isFinite(ms)
      ? Effect.succeed(ms)
      : fail(
          field,
          `${field} must be a positive duration such as "30 seconds" or 30000 (ms), got ${String(input)}`
        )
  })

const positiveInt = (field: string, input: number | undefined, fallback: number) =>
  input === undefined
    ? Effect.succeed(fallback)
    : Number.isInteger(input) && input > 0
      ? Effect.succeed(input)
      : fail(field, `${field} must be a positive integer, got ${String(input)}`)

const HttpUrl = Schema.String.pipe(
  Schema.check(
    Schema.makeFilter(
      (s: string) =>
        (URL.canParse(s) && /^https?:$/.test(new URL(s).protocol)) ||
        "expected an absolute http(s) URL such as http://127.0.0.1:8080/mcp"
    )
  )
)
const Name = Schema.String.pipe(
  Schema.check(Schema.makeFilter((s: string) => s.trim().length > 0 || "expected a non-empty backend name"))
)
const StringMap = Schema.Record(Schema.String, Schema.String)

const McpHttpSchema = Schema.Struct({
  name: Name,
  transport: Schema.Literal("streamable-http"),
  url: HttpUrl,
  headers: Schema.optionalKey(StringMap)
})
const StdioSchema = Schema.Struct({
  name: Name,
  transport: Schema.Literal("stdio"),
  command: Schema.String.pipe(
    Schema.check(
      Schema.makeFilter((s: string) => s.length > 0 || "expected the command that starts the server")
    )
  ),
  args: Schema.optionalKey(Schema.Array(Schema.String)),
  env: Schema.optionalKey(StringMap),
  cwd: Schema.optionalKey(Schema.String)
})
const HttpSchema = Schema.Struct({
  name: Name,
  transport: Schema.Literal("http"),
  url: HttpUrl,
  headers: Schema.optionalKey(StringMap)
})
const CustomSchema = Schema.Struct({
  name: Name,
  transport: Transport,
  url: Schema.optionalKey(Schema.String),
  check: Schema.Any
})

const SCHEMAS = {
  "streamable-http": McpHttpSchema,
  stdio: StdioSchema,
  http: HttpSchema
} as const

/** `at ["backends"][0]["url"]` in a schema message → `.url`, appended to the backend's path. */
const describeSchemaError = (prefix: string, error: unknown): { field: string; message: string } => {
  const text = error instanceof Error ? error.message : String(error)
  const match = /\n\s*at (\[.*\])\s*$/.exec(text)
  const path = match?.[1] ? match[1].replace(/\["([^"]+)"\]/g, ".$1").replace(/\[(\d+)\]/g, "[$1]") : ""
  const raw = (match ? text.slice(0, match.index) : text).trim()
  const message = raw === "Missing key" ? "required but missing" : raw
  return { field: `${prefix}${path}`, message }
}

/**
 * Validates one backend; `index` names it in errors (`backends[2].url`).
 */
export const validateBackend = (input: unknown, index: number) =>
  Effect.suspend((): Effect.Effect<BackendConfig, InvalidHealthConfig> => {
    const prefix = `backends[${index}]`
    if (!Predicate.isObject(input))
      return fail(prefix, "expected a backend object with a name and a transport")
    const record = input as Record<string, unknown>
    if ("check" in record) {
      if (!Predicate.isFunction(record.check))
        return fail(`${prefix}.check`, "expected a function (context) => Promise | Effect")
      try {
        Schema.decodeUnknownSync(CustomSchema)(record)
      } catch (error) {
        const { field, message } = describeSchemaError(prefix, error)
        return fail(field, message)
      }
      return Effect.succeed(record as unknown as CustomBackend)
    }
    const transport = record.transport
    if (transport === "sse")
      return fail(
        `${prefix}.transport`,
        'the deprecated SSE transport is not probed; use "streamable-http" or a custom check'
      )
    if (!(Predicate.isString(transport) && transport in SCHEMAS))
      return fail(
        `${prefix}.transport`,
        `expected "streamable-http", "stdio" or "http" (or a custom "check" function), got ${JSON.stringify(transport)}`
      )
    try {
      return Effect.succeed(
        Schema.decodeUnknownSync(SCHEMAS[transport as keyof typeof SCHEMAS])(record) as BackendConfig
      )
    } catch (error) {
      const { field, message } = describeSchemaError(prefix, error)
      return fail(field, message)
    }
  })

/** Validates a backend list: every backend, and unique names. */
export const validateBackends = (backends: unknown) =>
  Effect.gen(function* () {
    if (!Array.isArray(backends)) return yield* fail("backends", "expected an array of backends")
    const out: Array<BackendConfig> = []
    const names = new Map<string, number>()
    for (const [index, input] of backends.entries()) {
      const backend = yield* validateBackend(input, index)
      const seen = names.get(backend.name)
      if (seen !== undefined)
        return yield* fail(
          `backends[${index}].name`,
          `"${backend.name}" is already the name of backends[${seen}]; names must be unique`
        )
      names.set(backend.name, index)
      out.push(backend)
    }
    return out as ReadonlyArray<BackendConfig>
  })

/**
 * Validates the options, naming the offending field in `InvalidHealthConfig`, and fills in the
 * defaults.
 */
export const resolveOptions = (options: Omit<HealthOptions, "backends">) =>
  Effect.gen(function* () {
    const jitter = options.jitter ?? HealthDefaults.jitter
    if (!(Predicate.isNumber(jitter) && jitter >= 0 && jitter < 1))
      return yield* fail("jitter", `jitter must be a number in [0, 1), got ${String(jitter)}`)
    const breaker = options.circuitBreaker ?? {}
    const resolved: ResolvedOptions = {
      intervalMs: yield* millis("interval", options.interval, HealthDefaults.intervalMs),
      jitter,
      timeoutMs: yield* millis("timeout", options.timeout, HealthDefaults.timeoutMs),
      slowMs: yield* millis("slowThreshold", options.slowThreshold, HealthDefaults.slowMs),
      unhealthyAfter: yield* positiveInt(
        "unhealthyAfter",
        options.unhealthyAfter,
        HealthDefaults.unhealthyAfter
      ),
      discoveryIntervalMs: yield* millis(
        "discoveryInterval",
        options.discoveryInterval,
        HealthDefaults.discoveryIntervalMs
      ),
      concurrency: yield* positiveInt("concurrency", options.concurrency, HealthDefaults.concurrency),
      breaker: {
        failureThreshold: yield* positiveInt(
          "circuitBreaker.failureThreshold",
          breaker.failureThreshold,
          HealthDefaults.breaker.failureThreshold
        ),
        openMs: yield* millis(
          "circuitBreaker.openDuration",
          breaker.openDuration,
          HealthDefaults.breaker.openMs
        ),
        maxOpenMs: yield* millis(
          "circuitBreaker.maxOpenDuration",
          breaker.maxOpenDuration,
          HealthDefaults.breaker.maxOpenMs
        )
      },
      clientInfo: options.clientInfo ?? HealthDefaults.clientInfo
    }
    if (resolved.slowMs >= resolved.timeoutMs)
      return yield* fail(
        "slowThreshold",
        `slowThreshold (${resolved.slowMs} ms) must be shorter than timeout (${resolved.timeoutMs} ms)`
      )
    if (resolved.breaker.maxOpenMs < resolved.breaker.openMs)
      return yield* fail(
        "circuitBreaker.maxOpenDuration",
        `maxOpenDuration (${resolved.breaker.maxOpenMs} ms) must not be shorter than openDuration (${resolved.breaker.openMs} ms)`
      )
    return resolved
  })
