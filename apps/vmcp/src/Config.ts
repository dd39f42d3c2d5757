import { readFileSync } from "node:fs"
import { Effect, Exit, Schema, SchemaIssue, SchemaTransformation } from "effect"
import YAML from "yaml"

/**
 * A duration in the config: a number of milliseconds, or a string such as `500ms`, `10s`,
 * `5m`, `1h`. Decodes to milliseconds.
 */
export const DurationMs = Schema.Union([Schema.Finite, Schema.String])
  .annotate({
    expected: "a duration such as 500ms, 10s, 5m or a number of milliseconds"
  })
  .pipe(
    Schema.decodeTo(
      Schema.Finite,
      SchemaTransformation.transformEffect({
        decode: (input, options) => {
          const ms = parseDuration(input)
          return ms === undefined
            ? Effect.fail(
                new SchemaIssue.InvalidValue(
                  { message: "a duration such as 500ms, 10s, 5m or a number of milliseconds (> 0)" },
                  input,
                  options
                )
              )
            : Effect.succeed(ms)
        },
        encode: (ms) => Effect.succeed(ms)
      })
    )
  )

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
  callTimeout: Schema.optionalKey(DurationMs)
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
    /** 2025-era MCP sessions kept open at most; past it the least recently used is closed. */
    maxSessions: PositiveInt.pipe(withDefault(1000))
  }).pipe(withDefault({})),
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
  shutdown: Schema.Struct({
    /** How long in-flight calls may finish after SIGTERM before they are cut. */
    drainTimeout: DurationMs.pipe(withDefault("5s"))
  }).pipe(withDefault({})),
  backends: Schema.Array(VmcpBackendConfig).pipe(withDefault([]))
})
export type VmcpConfig = typeof VmcpConfig.Type

/** One problem in a config file: where, what was expected, what was found. */
export interface ConfigIssue {
  readonly path: string
  readonly expected: string
  readonly found: string
}

/** The config cannot be used; `issues` say where and why. The CLI exits with code 2. */
export class ConfigError extends Schema.TaggedError<ConfigError>()("ConfigError", {
  file: Schema.String,
  issues: Schema.Array(Schema.Struct({ path: Schema.String, expected: Schema.String, found: Schema.String }))
}) {
  override get message(): string {
    const lines = this.issues.map((i) => `  ${i.path}: expected ${i.expected}, found ${i.found}`)
    return `invalid config ${this.file}:\n${lines.join("\n")}`
  }
}

const formatPath = (path: ReadonlyArray<PropertyKey>): string =>
  path.length === 0
    ? "(top level)"
    : path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join("")

const valueAt = (root: unknown, path: ReadonlyArray<PropertyKey>): { present: boolean; value: unknown } => {
  let current: unknown = root
  for (const key of path) {
    if (typeof current !== "object" || current === null || !(key in current))
      return { present: false, value: undefined }
    current = (current as Record<PropertyKey, unknown>)[key]
  }
  return { present: true, value: current }
}

const describeFound = (path: ReadonlyArray<PropertyKey>, root: unknown): string => {
  const { present, value } = valueAt(root, path)
  if (!present) return "nothing (the key is missing)"
  // Values under headers/env may hold secrets: show their kind only.
  if (path.some((p) => p === "headers" || p === "env")) return typeof value
  const text = JSON.stringify(value)
  if (text === undefined) return String(value)
  return text.length > 80 ? `${text.slice(0, 77)}...` : text
}

const lowerFirst = (s: string) => (s.length > 0 ? s[0]!.toLowerCase() + s.slice(1) : s)

const expectedText = (message: string): string => {
  if (message === "Expected no excess property") return "no such key (check the spelling)"
  if (message === "Missing key") return "this key to be set"
  return lowerFirst(message.replace(/^Expected /, "")).replace(/, got .*$/, "")
}

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

/** Checks what the schema cannot: cross-field rules. */
const semanticIssues = (config: VmcpConfig): Array<ConfigIssue> => {
  const issues: Array<ConfigIssue> = []
  const seen = new Set<string>()
  for (const [i, b] of config.backends.entries()) {
    const at = `backends[${i}]`
    if (seen.has(b.name))
      issues.push({
        path: `${at}.name`,
        expected: "a name no other backend uses",
        found: JSON.stringify(b.name)
      })
    seen.add(b.name)
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
      else if (!URL.canParse(b.url) || !/^https?:$/.test(new URL(b.url).protocol))
        issues.push({
          path: `${at}.url`,
          expected: "an http:// or https:// URL",
          found: "a value that is not one"
        })
    }
  }
  for (const [i, name] of config.aggregation.priority.entries())
    if (!seen.has(name))
      issues.push({
        path: `aggregation.priority[${i}]`,
        expected: `the name of a configured backend (${[...seen].join(", ") || "none configured"})`,
        found: JSON.stringify(name)
      })
  return issues
}

/**
 * Decodes an already-parsed document into a `VmcpConfig`, with every default filled in;
 * fails with a `ConfigError` listing every problem (path, expected, found).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { decodeConfig } from "@vmcp-status/vmcp"
 *
 * const config = Effect.runSync(decodeConfig({ backends: [] }, "inline"))
 * config.listen.port // 4483
 * ```
 */
export const decodeConfig = (input: unknown, file: string): Effect.Effect<VmcpConfig, ConfigError> =>
  Effect.suspend(() => {
    const root = input ?? {}
    const exit = Schema.decodeUnknownExit(VmcpConfig)(root, { errors: "all", onExcessProperty: "error" })
    if (Exit.isFailure(exit)) {
      const issues: Array<ConfigIssue> = []
      for (const reason of exit.cause.reasons) {
        if (reason._tag !== "Fail") continue
        for (const issue of formatter(reason.error.issue).issues) {
          const path = (issue.path ?? []).map((p) => (typeof p === "object" ? p.key : p))
          issues.push({
            path: formatPath(path),
            expected: expectedText(issue.message),
            found: describeFound(path, root)
          })
        }
      }
      return Effect.fail(new ConfigError({ file, issues }))
    }
    const issues = semanticIssues(exit.value)
    return issues.length > 0 ? Effect.fail(new ConfigError({ file, issues })) : Effect.succeed(exit.value)
  })

/**
 * Reads and validates a YAML config file.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { loadVmcpConfig } from "@vmcp-status/vmcp"
 *
 * const config = await Effect.runPromise(loadVmcpConfig("vmcp.yaml"))
 * ```
 */
export const loadVmcpConfig = (file: string): Effect.Effect<VmcpConfig, ConfigError> =>
  Effect.suspend(() => {
    let text: string
    try {
      text = readFileSync(file, "utf8")
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      return Effect.fail(
        new ConfigError({
          file,
          issues: [
            {
              path: "(file)",
              expected: "a readable YAML file (pass it with --config <file>)",
              found: code === "ENOENT" ? "no such file" : `an error reading it (${code ?? String(error)})`
            }
          ]
        })
      )
    }
    const document = YAML.parseDocument(text)
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
    return decodeConfig(document.toJS(), file)
  })

/**
 * Replaces `${VAR}` in a value with the environment's `VAR`; a missing variable becomes an
 * empty string and is named in `missing`.
 */
export const expandEnv = (
  value: string,
  env: Readonly<Record<string, string | undefined>>,
  missing: Array<string> = []
): string =>
  value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
    const found = env[name]
    if (found === undefined) missing.push(name)
    return found ?? ""
  })
