import { resolve } from "node:path"
import {
  type Transport as CoreTransport,
  makeRedactor,
  type Redactor,
  redactUrl,
  secretsOfUrl
} from "@vmcp-status/core"
import { type BackendSession, makeBackendSession, SessionDefaults } from "@vmcp-status/mcp"
import { expandEnv, LimitDefaults, type VmcpBackendConfig } from "../Config.ts"
import { VERSION } from "../Version.ts"
import { boundedFetch } from "./BoundedFetch.ts"

export type { Catalog, RequestOptions, SessionLifecycle } from "@vmcp-status/mcp"

/** The client identity the gateway presents to its backends. */
const CLIENT_INFO = { name: "vmcp", version: VERSION }

/**
 * One configured backend: the supervised session of `@vmcp-status/mcp` (`makeBackendSession`,
 * docs/behaviours.md#backend-lifecycle) shared by health probes and call routing, plus what the
 * gateway knows from its config: the transport, the redacted URL, and the backend's secrets.
 */
export interface BackendConnection extends BackendSession {
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
  const stdio = config.transport === "stdio"
  const secrets = backendSecrets(config, env)
  const redact = makeRedactor({ secrets })
  const expanded = (values: Readonly<Record<string, string>>) =>
    Object.fromEntries(Object.entries(values).map(([key, value]) => [key, expandEnv(value, env)]))
  const maxResponseBytes = options.maxResponseBytes ?? LimitDefaults.maxResponseBytes
  const cwd = config.cwd === undefined ? options.baseDir : resolve(options.baseDir ?? ".", config.cwd)
  const session = makeBackendSession({
    name: config.name,
    transport: stdio
      ? {
          type: "stdio",
          // `node` means the Node binary running vmcp, so examples run on the same version.
          command: config.command === "node" ? process.execPath : config.command!,
          args: config.args,
          env: expanded(config.env),
          stderr: options.stderr ?? "ignore",
          ...(cwd === undefined ? {} : { cwd })
        }
      : {
          type: "streamable-http",
          url: config.url!,
          headers: expanded(config.headers),
          // The SDK's requests are bounded by `boundedFetch`, direct tool calls by `maxResponseBytes`.
          fetch: boundedFetch(maxResponseBytes),
          maxResponseBytes
        },
    clientInfo: CLIENT_INFO,
    startTimeoutMs: options.startTimeoutMs ?? config.startTimeout ?? SessionDefaults.startTimeoutMs,
    redact,
    ...(options.restart === undefined ? {} : { restart: options.restart }),
    ...(options.refreshTimeoutMs === undefined ? {} : { refresh: { timeoutMs: options.refreshTimeoutMs } })
  })
  return {
    ...session,
    transport: config.transport,
    displayUrl: stdio ? `stdio:${config.command ?? ""}` : redactUrl(config.url ?? ""),
    redact,
    secrets
  }
}
