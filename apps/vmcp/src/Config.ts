import { readFileSync } from "node:fs"
// Effect's modules one by one, not the "effect" index: the index loads every module (~50 MB, ~0.6 s
// more for `vmcp validate`; see docs/numbers.md "The reference app").
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import * as SchemaTransformation from "effect/SchemaTransformation"
import YAML from "yaml"
import { isLoopbackHostname } from "./server/RequestPolicy.ts"
import { ShutdownBudget } from "./server/ShutdownBudget.ts"

/** The longest delay a Node timer holds (2^31 − 1 ms, about 24.8 days); a longer one fires at once. */
export const MAX_TIMER_MS = 2_147_483_647

const DURATION_FORMAT = "a duration such as 500ms, 10s, 5m or a number of milliseconds (> 0)"

/** A duration of at most `maxMs`; `maxText` says the maximum and why, for the error. */
const durationAtMost = (maxMs: number, maxText: string) =>
  Schema.Union([Schema.Finite, Schema.String])
    .annotate({ expected: "a duration such as 500ms, 10s, 5m or a number of milliseconds" })
    .pipe(
      Schema.decodeTo(
        Schema.Finite,
        SchemaTransformation.transformEffect({
          decode: (input, options) => {
            const ms = parseDuration(input)
            if (ms === undefined)
              return Effect.fail(new SchemaIssue.InvalidValue({ message: DURATION_FORMAT }, input, options))
            if (ms > maxMs)
              return Effect.fail(
                new SchemaIssue.InvalidValue({ message: `a duration of at most ${maxText}` }, input, options)
              )
            return Effect.succeed(ms)
          },
          encode: (ms) => Effect.succeed(ms)
        })
      )
    )

/**
 * A duration in the config: a number of milliseconds, or a string such as `500ms`, `10s`,
 * `5m`, `1h`. Decodes to milliseconds; at most `MAX_TIMER_MS`, what a timer can hold.
 */
export const DurationMs = durationAtMost(
  MAX_TIMER_MS,
  `${MAX_TIMER_MS} ms (about 24.8 days): a longer one overflows Node's timers and fires at once`
)

/** `shutdown.drainTimeout`: vmcp exits within 10 s of SIGTERM, so the drain gets at most 5 s. */
const DrainTimeoutMs = durationAtMost(
  ShutdownBudget.maxDrainMs,
  `${ShutdownBudget.maxDrainMs / 1000}s: vmcp exits within 10 s of SIGTERM (drain, 3 s for the final status, close; docs/behaviours.md#shutdown)`
)

/** The defaults of the `limits` section (one definition: the config, the endpoint and the docs use these). */
export const LimitDefaults = {
  maxResponseBytes: 16 * 1024 * 1024,
  maxRequestBytesInFlight: 32 * 1024 * 1024,
  maxConcurrentCalls: 64,
  maxConcurrentCallsPerSession: 16,
  maxSessionsPerClient: 32,
  sessionIdleTimeoutMs: 30 * 60_000
} as const

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }

/** `"10s"` → 10000; numbers are milliseconds; `undefined` when not a positive duration. */
export const parseDuration = (input: number | string): number | undefined => {
  if (typeof input === "number") return input > 0 ? input : undefined
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$/.exec(input)
  if (match === null) return undefined
  const ms = Number(match[1]) * UNITS[match[2] as string]!
  return ms > 0 ? ms : undefined
}

const withDefault =
  <S extends Schema.Top>(value: S["Encoded"]) =>
  (schema: S) =>
    schema.pipe(Schema.withDecodingDefaultKey(Effect.succeed(value)))

const Name = Schema.String.pipe(
  Schema.check(
    Schema.isPattern(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, {
      message: "a DNS-1123 label: lowercase letters, digits and '-', at most 63, e.g. clock"
    }),
    Schema.isMaxLength(63, { message: "at most 63 characters" })
  )
)
const PositiveInt = Schema.Int.pipe(Schema.check(Schema.isGreaterThan(0, { message: "an integer > 0" })))
const Port = Schema.Int.pipe(
  Schema.check(Schema.isBetween({ minimum: 0, maximum: 65535 }, { message: "a port between 0 and 65535" }))
)
const StringMap = Schema.Record(Schema.String, Schema.String)
const HostNames = Schema.Array(
  Schema.String.pipe(
    Schema.check(
      Schema.isPattern(/^[^/?#@\s]+$/, {
        message: "a host name, optionally with :port, e.g. vmcp.example.com"
      })
    )
  )
)
const HttpUrl = Schema.String.pipe(
  Schema.check(
    Schema.isPattern(/^https?:\/\/[^\s]+$/, {
      message: "an http:// or https:// URL, e.g. https://idp.example.com"
    })
  )
)

/**
 * Who may use `/mcp`. `none`: anyone who reaches the port (refused off loopback unless
 * `allowUnauthenticated`); `bearer`: a token from `bearer.tokenFiles`; `oidc`: a JWT of `oidc.issuer`.
 */
export const AuthConfigSchema = Schema.Struct({
  mode: Schema.Literals(["none", "bearer", "oidc"]).pipe(withDefault("none")),
  /** With `mode: none`, serve `/mcp` beyond loopback anyway: anyone who reaches the port may call every tool. */
  allowUnauthenticated: Schema.Boolean.pipe(withDefault(false)),
  bearer: Schema.optionalKey(
    Schema.Struct({
      /** Files of tokens, one per line (a mounted Secret); re-read when they change. */
      tokenFiles: Schema.Array(Schema.NonEmptyString)
    })
  ),
  oidc: Schema.optionalKey(
    Schema.Struct({
      /** The token issuer (`iss`), exactly; its keys are found by OpenID Connect discovery. */
      issuer: HttpUrl,
      /** The `aud` a token must carry: this server's identifier at the issuer. */
      audience: Schema.NonEmptyString,
      /** The issuer's JWKS (default: `jwks_uri` of `<issuer>/.well-known/openid-configuration`). */
      jwksUri: Schema.optionalKey(HttpUrl),
      /** This server's `/mcp` URL as clients reach it (default: from the request's Host). */
      resource: Schema.optionalKey(HttpUrl),
      clockSkew: DurationMs.pipe(withDefault("30s")),
      /** After fetching the keys, no refetch for this long, even for an unknown `kid`. */
      jwksCooldown: DurationMs.pipe(withDefault("30s")),
      /** Scopes every token must have (`scope` or `scp` claim); missing ones get 403 insufficient_scope. */
      requiredScopes: Schema.Array(Schema.NonEmptyString).pipe(withDefault([]))
    })
  )
}).pipe(withDefault({}))

/**
 * One backend MCP server. `stdio` needs `command` (and optionally `args`, `env`, `cwd`);
 * `streamable-http` needs `url` (and optionally `headers`). Values of `env` and `headers` may
 * name environment variables as `${VAR}`, so secrets stay out of the file.
 */
export const VmcpBackendConfig = Schema.Struct({
  name: Name,
  transport: Schema.Literals(["stdio", "streamable-http"]),
  command: Schema.optionalKey(Schema.NonEmptyString),
  args: Schema.Array(Schema.String).pipe(withDefault([])),
  env: StringMap.pipe(withDefault({})),
  cwd: Schema.optionalKey(Schema.String),
  url: Schema.optionalKey(Schema.String),
  headers: StringMap.pipe(withDefault({})),
  /** Timeout of one `tools/call` on this backend (default: `calls.timeout`). */
  callTimeout: Schema.optionalKey(DurationMs),
  /**
   * How long spawning/connecting and `initialize` may take before the attempt is given up and
   * retried with backoff (default `SessionDefaults.startTimeoutMs`, 60 s). Probes never cut it short.
   */
  startTimeout: Schema.optionalKey(DurationMs)
})
export type VmcpBackendConfig = typeof VmcpBackendConfig.Type

/** The whole `vmcp.yaml`. Every operational field has a default; only `backends` is usually set. */
export const VmcpConfig = Schema.Struct({
  /** The server's name: `serverInfo.name`, the log's `vmcp` field, the default object name. */
  name: Name.pipe(withDefault("vmcp")),
  listen: Schema.Struct({
    /** Default `127.0.0.1`: only this host. Use `0.0.0.0` in a pod. */
    host: Schema.NonEmptyString.pipe(withDefault("127.0.0.1")),
    port: Port.pipe(withDefault(4483)),
    /** 2025-era MCP sessions kept open at most; past it the client holding the most loses its least recently used one. */
    maxSessions: PositiveInt.pipe(withDefault(1000)),
    /** Browser origins served besides loopback ones, exactly (`https://console.example`); any other `Origin` gets 403. */
    allowedOrigins: Schema.optionalKey(
      Schema.Array(
        Schema.String.pipe(
          Schema.check(
            Schema.isPattern(/^https?:\/\/[^/?#@\s]+$/, {
              message: "an origin (scheme://host[:port], no path), e.g. https://console.example"
            })
          )
        )
      )
    ),
    /** Off loopback: the `Host` values served (`name` any port, `name:port`); unset, any. `/healthz` and `/readyz` are exempt (probes). */
    allowedHosts: Schema.optionalKey(HostNames),
    /**
     * The admin listener: `/healthz`, `/readyz`, `/status`, `/metrics`. Default loopback, port
     * `listen.port + 1` (0 when `listen.port` is 0). With `auth.mode` other than `none` the main
     * listener no longer serves `/status` and `/metrics`.
     */
    admin: Schema.Struct({
      host: Schema.NonEmptyString.pipe(withDefault("127.0.0.1")),
      port: Schema.optionalKey(Port),
      /** Off loopback: the `Host` values served on the admin port; unset, any. */
      allowedHosts: Schema.optionalKey(HostNames)
    }).pipe(withDefault({}))
  }).pipe(withDefault({})),
  auth: AuthConfigSchema,
  aggregation: Schema.Struct({
    /** `prefix`: every tool is `<backend><separator><tool>`. `priority`: plain names, the first backend in `priority` wins a clash. */
    conflictResolution: Schema.Literals(["prefix", "priority"]).pipe(withDefault("prefix")),
    separator: Schema.NonEmptyString.pipe(withDefault("_")),
    /** Backend names, highest priority first (default: the order of `backends`). */
    priority: Schema.Array(Schema.String).pipe(withDefault([]))
  }).pipe(withDefault({})),
  calls: Schema.Struct({
    timeout: DurationMs.pipe(withDefault("30s"))
  }).pipe(withDefault({})),
  health: Schema.Struct({
    interval: DurationMs.pipe(withDefault("30s")),
    timeout: DurationMs.pipe(withDefault("10s")),
    unhealthyThreshold: PositiveInt.pipe(withDefault(3)),
    slowThreshold: DurationMs.pipe(withDefault("5s")),
    /** Stops probing a backend that keeps failing; one half-open probe after `openDuration` (doubling up to `maxOpenDuration`). */
    circuitBreaker: Schema.Struct({
      failureThreshold: PositiveInt.pipe(withDefault(5)),
      openDuration: DurationMs.pipe(withDefault("60s")),
      maxOpenDuration: DurationMs.pipe(withDefault("10m"))
    }).pipe(withDefault({}))
  }).pipe(withDefault({})),
  status: Schema.Struct({
    /** The publisher's periodic report interval. */
    interval: DurationMs.pipe(withDefault("30s")),
    log: Schema.Struct({
      mode: Schema.Literals(["transitions", "changes"]).pipe(withDefault("transitions")),
      format: Schema.Literals(["auto", "json", "pretty"]).pipe(withDefault("auto")),
      summaryInterval: Schema.optionalKey(DurationMs)
    }).pipe(withDefault({})),
    k8s: Schema.Struct({
      /** `full` standalone; `runtime` beside an operator that owns phase and Ready. */
      mode: Schema.Literals(["full", "runtime"]).pipe(withDefault("full")),
      leaderElection: Schema.Boolean.pipe(withDefault(false)),
      /** How long to wait before retrying after 403 (RBAC) or 404 (CRD or object missing): a human has to fix those. */
      slowRetry: DurationMs.pipe(withDefault("60s"))
    }).pipe(withDefault({}))
  }).pipe(withDefault({})),
  /** Bounds on what clients and backends may make the gateway hold (docs/behaviours.md#bounds). */
  limits: Schema.Struct({
    /** The largest JSON-RPC message a Streamable HTTP backend may answer with; a larger one is cut off (stdio: the SDK's 10 MB). */
    maxResponseBytes: PositiveInt.pipe(withDefault(LimitDefaults.maxResponseBytes)),
    /** Bytes of MCP request bodies being handled at once (a body counts until its answer is done); past it 503. */
    maxRequestBytesInFlight: PositiveInt.pipe(withDefault(LimitDefaults.maxRequestBytesInFlight)),
    /** Tool calls in flight at once, over all clients; past it a call is refused with a JSON-RPC error. */
    maxConcurrentCalls: PositiveInt.pipe(withDefault(LimitDefaults.maxConcurrentCalls)),
    /** Tool calls in flight at once in one session (per request client: per client identity). */
    maxConcurrentCallsPerSession: PositiveInt.pipe(withDefault(LimitDefaults.maxConcurrentCallsPerSession)),
    /** Open sessions of one client identity; past it that client's least recently used session is closed. */
    maxSessionsPerClient: PositiveInt.pipe(withDefault(LimitDefaults.maxSessionsPerClient)),
    /** A session without a request for this long is closed (the client must initialize again). */
    sessionIdleTimeout: DurationMs.pipe(withDefault(LimitDefaults.sessionIdleTimeoutMs))
  }).pipe(withDefault({})),
  shutdown: Schema.Struct({
    /** How long in-flight calls may finish after SIGTERM before they are cut; at most 5 s. */
    drainTimeout: DrainTimeoutMs.pipe(withDefault("5s"))
  }).pipe(withDefault({})),
  backends: Schema.Array(VmcpBackendConfig).pipe(withDefault([]))
})
export type VmcpConfig = typeof VmcpConfig.Type

/**
 * One problem in a config file: where, what was expected, what was found. `problem`, when set,
 * states what is wrong in words, and `expected` then says how to fix it.
 */
export interface ConfigIssue {
  readonly path: string
  readonly expected: string
  readonly found: string
  readonly problem?: string
}

/** One issue as a line: `path: expected …, found …`, or `path: problem; fix`. */
export const formatConfigIssue = (
  issue: ConfigIssue,
  emphasize: (text: string) => string = (t) => t
): string =>
  issue.problem === undefined
    ? `${emphasize(issue.path)}: expected ${issue.expected}, found ${issue.found}`
    : `${emphasize(issue.path)}: ${issue.problem}; ${issue.expected}`

/** The config cannot be used; `issues` say where and why. The CLI exits with code 2. */
export class ConfigError extends Schema.TaggedError<ConfigError>()("ConfigError", {
  file: Schema.String,
  issues: Schema.Array(
    Schema.Struct({
      path: Schema.String,
      expected: Schema.String,
      found: Schema.String,
      problem: Schema.optionalKey(Schema.String)
    })
  )
}) {
  override get message(): string {
    const lines = this.issues.map((i) => `  ${formatConfigIssue(i)}`)
    return `invalid config ${this.file}:\n${lines.join("\n")}`
  }
}

/** The environment `${VAR}` references are checked against. */
export type ConfigEnv = Readonly<Record<string, string | undefined>>

/** Options of `decodeConfig` and `loadVmcpConfig`. */
export interface ConfigOptions {
  /**
   * Check that every `${VAR}` in `headers` and `env` names a variable set here (what `serve`
   * will expand them from). Leave it out where the variables live elsewhere (manifests for a pod).
   */
  readonly env?: ConfigEnv
}

const formatPath = (path: ReadonlyArray<PropertyKey>): string =>
  path.length === 0
    ? "(top level)"
    : path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join("")

const valueAt = (root: unknown, path: ReadonlyArray<PropertyKey>): { present: boolean; value: unknown } => {
  let current: unknown = root
  for (const key of path) {
    if (!Predicate.isObjectOrArray(current) || !(key in current)) return { present: false, value: undefined }
    current = (current as Record<PropertyKey, unknown>)[key]
  }
  return { present: true, value: current }
}

/** Fields whose values may be secrets (or hold them): an error shows only their kind. */
const SECRET_FIELDS: ReadonlySet<PropertyKey> = new Set([
  "headers",
  "env",
  "args",
  "url",
  "command",
  "tokenFiles"
])

const kindOf = (value: unknown): string =>
  Array.isArray(value)
    ? "a list"
    : Predicate.isObject(value)
      ? "a mapping"
      : Predicate.isString(value)
        ? "a string (not shown)"
        : value === null
          ? "null"
          : `a ${typeof value}`

/**
 * What an error shows of the value found: scalars of ordinary fields as written; for fields that
 * may hold secrets, unknown keys (a misspelt `headers`) and whole mappings or lists, the kind only.
 */
const describeFound = (path: ReadonlyArray<PropertyKey>, root: unknown, unknownKey: boolean): string => {
  const { present, value } = valueAt(root, path)
  if (!present) return "nothing (the key is missing)"
  if (unknownKey || Predicate.isObjectOrArray(value) || path.some((p) => SECRET_FIELDS.has(p)))
    return kindOf(value)
  const text = JSON.stringify(value)
  if (text === undefined) return String(value)
  return text.length > 80 ? `${text.slice(0, 77)}...` : text
}

const lowerFirst = (s: string) => (s.length > 0 ? s[0]!.toLowerCase() + s.slice(1) : s)

const EXCESS_KEY = "Expected no excess property"

const expectedText = (message: string): string => {
  if (message === EXCESS_KEY) return "no such key (check the spelling)"
  if (message === "Missing key") return "this key to be set"
  return lowerFirst(message.replace(/^Expected /, "")).replace(/, got .*$/, "")
}

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

const ENV_REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g

/** The variables a value names as `${VAR}`. */
export const envReferences = (value: string): Array<string> =>
  [...value.matchAll(ENV_REFERENCE)].map((m) => m[1] as string)

const HTTP_URL = "an http:// or https:// URL"

/** What is wrong with a backend URL, if anything; never quotes the URL (it may hold credentials). */
const urlProblem = (url: string): Omit<ConfigIssue, "path"> | undefined => {
  const parsed = URL.canParse(url) ? new URL(url) : undefined
  if (parsed === undefined || !/^https?:$/.test(parsed.protocol))
    return { expected: HTTP_URL, found: "a value that is not one" }
  if (parsed.username !== "" || parsed.password !== "")
    return {
      problem: "credentials in the URL (not shown) cannot be used: fetch refuses a URL with user:password@",
      expected: `move the credentials to \`headers\`, e.g. \`authorization: Basic …\` (base64 of user:password; \`\${VAR}\` keeps it out of the file)`,
      found: "credentials in the URL"
    }
  return undefined
}

/**
 * The problem with serving `/mcp` on `host` under `auth`, if any: `mode: none` beyond loopback
 * needs `allowUnauthenticated: true`, said explicitly.
 */
export const unauthenticatedExposure = (
  host: string,
  auth: { readonly mode?: unknown; readonly allowUnauthenticated?: unknown }
): ConfigIssue | undefined => {
  if ((auth.mode ?? "none") !== "none" || auth.allowUnauthenticated === true || isLoopbackHostname(host))
    return undefined
  return {
    path: "auth.mode",
    problem: `auth.mode is none while listen.host is ${JSON.stringify(host)}: anyone who reaches the port could call every backend's tools`,
    expected:
      "set auth.mode to bearer (auth.bearer.tokenFiles) or oidc (auth.oidc.issuer, audience), or listen.host to 127.0.0.1; to serve without authentication anyway, set auth.allowUnauthenticated: true",
    found: "none"
  }
}

const authIssues = (root: unknown): Array<ConfigIssue> => {
  const issues: Array<ConfigIssue> = []
  const auth = Predicate.isObject(root) && Predicate.isObject(root.auth) ? root.auth : {}
  const listen = Predicate.isObject(root) && Predicate.isObject(root.listen) ? root.listen : {}
  const host = Predicate.isString(listen.host) ? listen.host : "127.0.0.1"
  const exposure = unauthenticatedExposure(host, auth)
  if (exposure !== undefined) issues.push(exposure)
  if (auth.mode === "bearer") {
    const bearer = Predicate.isObject(auth.bearer) ? auth.bearer : undefined
    if (bearer === undefined || (Array.isArray(bearer.tokenFiles) && bearer.tokenFiles.length === 0))
      issues.push({
        path: "auth.bearer.tokenFiles",
        expected:
          "at least one file of tokens for auth.mode bearer, e.g. tokenFiles: [/etc/vmcp/tokens/token]",
        found: bearer === undefined ? "nothing (the key is missing)" : "an empty list"
      })
  }
  if (auth.mode === "oidc" && auth.oidc === undefined)
    issues.push({
      path: "auth.oidc",
      expected:
        "the issuer and audience for auth.mode oidc, e.g. oidc: { issuer: https://idp.example.com, audience: vmcp }",
      found: "nothing (the key is missing)"
    })
  return issues
}

const entriesOf = (value: unknown): Array<[string, unknown]> =>
  Predicate.isObject(value) ? Object.entries(value) : []

/**
 * Checks what the schema cannot: rules across fields, and `${VAR}` references against `env`.
 * Works on the raw document, so it runs beside the schema's own problems: every problem at once.
 */
const crossFieldIssues = (root: unknown, env: ConfigEnv | undefined): Array<ConfigIssue> => {
  const issues: Array<ConfigIssue> = authIssues(root)
  const seen = new Set<string>()
  const backends = Predicate.isObject(root) && Array.isArray(root.backends) ? root.backends : []
  for (const [i, b] of backends.entries()) {
    if (!Predicate.isObject(b)) continue
    const at = `backends[${i}]`
    if (Predicate.isString(b.name)) {
      if (seen.has(b.name))
        issues.push({
          path: `${at}.name`,
          expected: "a name no other backend uses",
          found: JSON.stringify(b.name)
        })
      seen.add(b.name)
    }
    if (b.transport === "stdio" && b.command === undefined)
      issues.push({
        path: `${at}.command`,
        expected: "the program to run for a stdio backend, e.g. command: node",
        found: "nothing (the key is missing)"
      })
    if (b.transport === "streamable-http") {
      if (b.url === undefined)
        issues.push({
          path: `${at}.url`,
          expected: "the backend's MCP endpoint, e.g. url: http://127.0.0.1:8080/mcp",
          found: "nothing (the key is missing)"
        })
      else if (Predicate.isString(b.url)) {
        const problem = urlProblem(b.url)
        if (problem !== undefined) issues.push({ path: `${at}.url`, ...problem })
      }
    }
    if (env !== undefined)
      for (const field of ["headers", "env"] as const)
        for (const [key, value] of entriesOf(b[field]))
          if (Predicate.isString(value))
            for (const name of envReferences(value))
              if (env[name] === undefined)
                issues.push({
                  path: formatPath(["backends", i, field, key]),
                  problem: `environment variable ${name} is not set`,
                  expected: `set it where vmcp runs (export ${name}=… in a shell, the container's env in Kubernetes); \${VAR} has no default syntax`,
                  found: "nothing (the variable is unset)"
                })
  }
  const aggregation = Predicate.isObject(root) ? root.aggregation : undefined
  const priority =
    Predicate.isObject(aggregation) && Array.isArray(aggregation.priority) ? aggregation.priority : []
  for (const [i, name] of priority.entries())
    if (Predicate.isString(name) && !seen.has(name))
      issues.push({
        path: `aggregation.priority[${i}]`,
        expected: `the name of a configured backend (${[...seen].join(", ") || "none configured"})`,
        found: JSON.stringify(name)
      })
  return issues
}

/**
 * Decodes an already-parsed document into a `VmcpConfig`, with every default filled in;
 * fails with a `ConfigError` listing every problem (path, expected, found): the schema's and
 * the cross-field rules' together. With `options.env`, an unset `${VAR}` is a problem too.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import { decodeConfig } from "@vmcp-status/vmcp"
 *
 * const config = Effect.runSync(decodeConfig({ backends: [] }, "inline"))
 * config.listen.port // 4483
 * ```
 */
export const decodeConfig = (
  input: unknown,
  file: string,
  options: ConfigOptions = {}
): Effect.Effect<VmcpConfig, ConfigError> =>
  Effect.suspend(() => {
    const root = input ?? {}
    const exit = Schema.decodeUnknownExit(VmcpConfig)(root, { errors: "all", onExcessProperty: "error" })
    const issues: Array<ConfigIssue> = []
    if (Exit.isFailure(exit))
      for (const reason of exit.cause.reasons) {
        if (reason._tag !== "Fail") continue
        for (const issue of formatter(reason.error.issue).issues) {
          const path = (issue.path ?? []).map((p) => (typeof p === "object" ? p.key : p))
          issues.push({
            path: formatPath(path),
            expected: expectedText(issue.message),
            found: describeFound(path, root, issue.message === EXCESS_KEY)
          })
        }
      }
    issues.push(...crossFieldIssues(root, options.env))
    if (issues.length > 0 || Exit.isFailure(exit)) return Effect.fail(new ConfigError({ file, issues }))
    return Effect.succeed(exit.value)
  })

/** YAML aliases a config may expand (yaml's default, pinned): a larger count is an alias bomb. */
export const MAX_YAML_ALIASES = 100

/**
 * Reads and validates a YAML config file. With `options.env`, every `${VAR}` must be set there.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import { loadVmcpConfig } from "@vmcp-status/vmcp"
 *
 * const config = await Effect.runPromise(loadVmcpConfig("vmcp.yaml", { env: process.env }))
 * ```
 */
export const loadVmcpConfig = (
  file: string,
  options: ConfigOptions = {}
): Effect.Effect<VmcpConfig, ConfigError> =>
  Effect.suspend(() => {
    const fail = (issue: ConfigIssue) => Effect.fail(new ConfigError({ file, issues: [issue] }))
    let text: string
    try {
      text = readFileSync(file, "utf8")
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      return fail({
        path: "(file)",
        expected: "a readable YAML file (pass it with --config <file>)",
        found: code === "ENOENT" ? "no such file" : `an error reading it (${code ?? String(error)})`
      })
    }
    const lineCounter = new YAML.LineCounter()
    const document = YAML.parseDocument(text, { lineCounter })
    if (document.errors.length > 0) {
      return Effect.fail(
        new ConfigError({
          file,
          issues: document.errors.map((e) => ({
            path: `(line ${e.linePos?.[0]?.line ?? "?"}, column ${e.linePos?.[0]?.col ?? "?"})`,
            expected: "valid YAML",
            found: e.message.split("\n")[0] ?? e.message
          }))
        })
      )
    }
    let input: unknown
    try {
      input = document.toJS({ maxAliasCount: MAX_YAML_ALIASES })
    } catch (error) {
      // yaml throws (a ReferenceError) when aliases expand past maxAliasCount.
      const message = error instanceof Error ? error.message : String(error)
      if (!/alias/i.test(message))
        return fail({
          path: "(file)",
          expected: "a YAML document vmcp can read",
          found: message.split("\n")[0]!
        })
      let offset: number | undefined
      YAML.visit(document, {
        Alias: (_, node) => {
          offset = node.range?.[0]
          return YAML.visit.BREAK
        }
      })
      const at = offset === undefined ? undefined : lineCounter.linePos(offset)
      return fail({
        path: at === undefined ? "(file)" : `(line ${at.line}, column ${at.col})`,
        problem: `YAML aliases (*name) expand to more than ${MAX_YAML_ALIASES} copies (an alias bomb)`,
        expected: "write the values out, or use far fewer aliases",
        found: "too many alias expansions"
      })
    }
    return decodeConfig(input, file, options)
  })

/** The admin listener's address: `listen.admin`, its port `listen.port + 1` unless set (0 stays 0). */
export const adminListen = (listen: VmcpConfig["listen"]): { host: string; port: number } => ({
  host: listen.admin.host,
  port: listen.admin.port ?? (listen.port === 0 ? 0 : listen.port + 1)
})

/**
 * Replaces `${VAR}` in a value with the environment's `VAR`; a missing variable becomes an
 * empty string and is named in `missing`. Load the config with `env` to refuse unset ones first.
 */
export const expandEnv = (value: string, env: ConfigEnv, missing: Array<string> = []): string =>
  value.replace(ENV_REFERENCE, (_, name: string) => {
    const found = env[name]
    if (found === undefined) missing.push(name)
    return found ?? ""
  })
