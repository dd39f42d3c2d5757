import { existsSync, readFileSync } from "node:fs"
import http from "node:http"
import https from "node:https"
import type { KubeConfig } from "@kubernetes/client-node"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { KubeApiError, KubeConfigError, type KubeRequestError, KubeTransportError } from "../Errors.ts"

/** Where a pod's service-account token, CA and namespace are mounted. */
export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"

/** How often the in-cluster token file is re-read (kubelet rotates it; client-go re-reads each minute). */
export const TOKEN_REREAD_MS = 60_000

/** Where the configuration comes from. */
export interface KubeConfigOptions {
  /** A kubeconfig file; wins over everything else. */
  readonly kubeconfig?: string
  /** A context of that kubeconfig (default: its current context). */
  readonly context?: string
  /** Environment (default `process.env`): `KUBERNETES_SERVICE_HOST`/`_PORT`, `KUBECONFIG`, `HOME`. */
  readonly env?: Readonly<Record<string, string | undefined>>
  /** The service-account folder (default `/var/run/secrets/kubernetes.io/serviceaccount`). */
  readonly serviceAccountDir?: string
}

/**
 * A loaded configuration: the server, how to trust it and how to authenticate. In a cluster the
 * token is a file, re-read every minute so a rotated token is picked up.
 */
export type LoadedConfig =
  | {
      readonly source: "kubeconfig"
      readonly server: string
      readonly config: KubeConfig
      readonly podNamespace: undefined
    }
  | {
      readonly source: "in-cluster"
      readonly server: string
      readonly ca: string
      readonly tokenFile: string
      readonly podNamespace: string | undefined
    }

const readText = (path: string) => readFileSync(path, "utf8")

/**
 * Loads the configuration: `kubeconfig` if given; in a cluster (`KUBERNETES_SERVICE_HOST` set
 * and a service-account token mounted) the service account; otherwise `KUBECONFIG` or
 * `~/.kube/config`. Every failure says what is missing and how to fix it.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import { loadKubeConfig } from "./KubeClient.ts"
 *
 * const loaded = await Effect.runPromise(loadKubeConfig({ kubeconfig: "/tmp/admin.kubeconfig" }))
 * loaded.server // "https://127.0.0.1:6443"
 * ```
 */
export const loadKubeConfig = (
  options: KubeConfigOptions = {}
): Effect.Effect<LoadedConfig, KubeConfigError> =>
  Effect.gen(function* () {
    const source = yield* locate(options)
    if (source._tag === "in-cluster") return source.loaded
    // @kubernetes/client-node is loaded only for a kubeconfig: its KubeConfig pulls in the
    // whole generated API (~90 MB of RSS) that the in-cluster path, how it runs in a pod, never needs.
    const { KubeConfig } = yield* Effect.tryPromise({
      try: () => import("@kubernetes/client-node"),
      catch: (error) =>
        new KubeConfigError({
          message: `reading ${source.description} ${source.file} needs @kubernetes/client-node, an optional peer dependency of @vmcp-status/k8s: install @kubernetes/client-node (the in-cluster config of a pod needs nothing). ${String(error)}`
        })
    })
    return yield* Effect.try({
      try: (): LoadedConfig => {
        const config = new KubeConfig()
        config.loadFromFile(source.file)
        if (options.context !== undefined) {
          if (config.getContextObject(options.context) === null)
            throw new Error(`${source.description} ${source.file} has no context "${options.context}"`)
          config.setCurrentContext(options.context)
        }
        const cluster = config.getCurrentCluster()
        if (cluster === null)
          throw new Error(
            `${source.description} ${source.file} has no current cluster: set current-context (or the context option)`
          )
        return {
          source: "kubeconfig",
          server: cluster.server.replace(/\/+$/, ""),
          config,
          podNamespace: undefined
        }
      },
      catch: (error) =>
        new KubeConfigError({ message: error instanceof Error ? error.message : String(error) })
    })
  })

/** Where the configuration comes from, decided without loading a kubeconfig yet. */
const locate = (options: KubeConfigOptions) =>
  Effect.try({
    try: ():
      | { readonly _tag: "in-cluster"; readonly loaded: LoadedConfig }
      | { readonly _tag: "kubeconfig"; readonly file: string; readonly description: string } => {
      const env = options.env ?? process.env
      const dir = options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR
      const fromFile = (files: string, description: string) => {
        for (const path of files.split(":"))
          if (path !== "" && !existsSync(path))
            throw new Error(`${description} names ${path}, which does not exist`)
        const file = files.split(":").find((p) => p !== "") ?? files
        return { _tag: "kubeconfig" as const, file, description }
      }
      if (options.kubeconfig !== undefined) return fromFile(options.kubeconfig, "the kubeconfig option")
      const host = env.KUBERNETES_SERVICE_HOST
      if (host !== undefined && host !== "") {
        const tokenFile = `${dir}/token`
        const caFile = `${dir}/ca.crt`
        if (!existsSync(tokenFile))
          throw new Error(
            `KUBERNETES_SERVICE_HOST is set but there is no service-account token at ${tokenFile}: mount one (automountServiceAccountToken: true) or pass the kubeconfig option`
          )
        if (!existsSync(caFile))
          throw new Error(
            `in-cluster: the service-account CA ${caFile} is missing; the API server cannot be trusted`
          )
        const port = env.KUBERNETES_SERVICE_PORT ?? "443"
        const hostPart = host.includes(":") ? `[${host}]` : host
        const nsFile = `${dir}/namespace`
        return {
          _tag: "in-cluster" as const,
          loaded: {
            source: "in-cluster" as const,
            server: `https://${hostPart}:${port}`,
            ca: readText(caFile),
            tokenFile,
            podNamespace: existsSync(nsFile) ? readText(nsFile).trim() || undefined : undefined
          }
        }
      }
      if (env.KUBECONFIG !== undefined && env.KUBECONFIG !== "") return fromFile(env.KUBECONFIG, "KUBECONFIG")
      const home = `${env.HOME ?? ""}/.kube/config`
      if (env.HOME !== undefined && existsSync(home)) return fromFile(home, "~/.kube/config")
      throw new Error(
        "no Kubernetes configuration found: run in a cluster (KUBERNETES_SERVICE_HOST and a mounted service-account token), or set KUBECONFIG (or the kubeconfig option) to a kubeconfig file"
      )
    },
    catch: (error) => new KubeConfigError({ message: error instanceof Error ? error.message : String(error) })
  })

/** One request to the API server. */
export interface KubeRequest {
  readonly method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE"
  /** Path and query, e.g. `/apis/g/v1/namespaces/ns/things/x/status?fieldManager=me`. */
  readonly path: string
  readonly body?: unknown
  readonly contentType?: string
  /** Per-request timeout (default: the client's). */
  readonly timeoutMs?: number
}

/** The answer to a successful request (2xx). */
export interface KubeResponse {
  readonly status: number
  readonly body: unknown
  /**
   * The texts of its `Warning` headers with code 299, the code the API server uses (e.g.
   * `unknown field "status.x"` for a field it dropped); empty when there are none.
   */
  readonly warnings: ReadonlyArray<string>
}

/** One warning of a `Warning` header (RFC 7234 `warn-code SP warn-agent SP warn-text [SP warn-date]`). */
export interface Warning {
  readonly code: number
  readonly agent: string
  readonly text: string
}

/**
 * Parses `Warning` header values as the API server writes them (`299 - "text"`, `"` and `\`
 * escaped with `\`), several per value separated by commas, as client-go's
 * `ParseWarningHeaders`. A malformed rest of a value is skipped.
 *
 * @example
 * ```ts
 * import { parseWarningHeaders } from "./KubeClient.ts"
 *
 * parseWarningHeaders(['299 - "unknown field \\"status.x\\"", 299 - "second"'])
 * // [{ code: 299, agent: "-", text: 'unknown field "status.x"' }, { code: 299, agent: "-", text: "second" }]
 * ```
 */
export const parseWarningHeaders = (values: ReadonlyArray<string>): ReadonlyArray<Warning> => {
  const out: Array<Warning> = []
  for (const value of values) {
    let rest = value.trim()
    while (rest !== "") {
      const head = /^(\d{3}) ([^\s"\\]+) "/.exec(rest)
      if (head === null) break
      let text = ""
      let i = head[0].length
      let closed = false
      for (; i < rest.length; i++) {
        const c = rest[i]
        if (c === "\\" && i + 1 < rest.length) text += rest[++i]
        else if (c === '"') {
          closed = true
          break
        } else text += c
      }
      if (!closed) break
      out.push({ code: Number(head[1]), agent: head[2] ?? "-", text })
      rest = rest.slice(i + 1).trim()
      // An optional quoted warn-date, then a comma before the next warning.
      if (rest.startsWith('"')) {
        const end = rest.indexOf('"', 1)
        rest = end < 0 ? "" : rest.slice(end + 1).trim()
      }
      if (!rest.startsWith(",")) break
      rest = rest.slice(1).trim()
    }
  }
  return out
}

/**
 * What a request observer sees: each request when it starts and when it ends (with its HTTP
 * status, or the transport failure kind). For metrics and tests; it must not throw.
 */
export type RequestEvent =
  | { readonly phase: "start"; readonly method: string; readonly path: string }
  | {
      readonly phase: "end"
      readonly method: string
      readonly path: string
      /** HTTP status, or `timeout`/`reset`/`refused`/`tls`/`other`/`aborted`. */
      readonly result: number | KubeTransportError["kind"] | "aborted"
    }

/** Options of `makeClient`. */
export interface ClientOptions {
  /** Timeout of each request in ms (default 10 s). */
  readonly timeoutMs?: number
  /** Called when each request starts and ends. */
  readonly onRequest?: (event: RequestEvent) => void
}

/** A minimal API client: JSON requests with a timeout, aborted on interruption. */
export interface KubeClient {
  readonly server: string
  readonly request: (request: KubeRequest) => Effect.Effect<KubeResponse, KubeRequestError>
}

/** `Retry-After` in seconds or as an HTTP date, in ms. */
export const parseRetryAfter = (value: string | undefined, now: number): number | undefined => {
  if (value === undefined || value === "") return undefined
  const seconds = Number(value)
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000)
  const at = Date.parse(value)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}

const transportKind = (error: NodeJS.ErrnoException): KubeTransportError["kind"] => {
  const code = error.code ?? ""
  if (code === "ECONNRESET" || code === "EPIPE" || code === "UND_ERR_SOCKET") return "reset"
  if (code === "ECONNREFUSED") return "refused"
  if (
    code.startsWith("ERR_TLS") ||
    code.startsWith("ERR_SSL") ||
    code.startsWith("UNABLE_TO_") ||
    code.includes("CERT") ||
    code.includes("SELF_SIGNED") ||
    code === "DEPTH_ZERO_SELF_SIGNED_CERT" ||
    code === "EPROTO"
  )
    return "tls"
  return "other"
}

interface Credentials {
  readonly tls: https.AgentOptions
  /** The `authorization` header for the next request, if any. */
  readonly authorization: Effect.Effect<string | undefined>
}

const credentialsOf = (loaded: LoadedConfig): Effect.Effect<Credentials, KubeConfigError> => {
  if (loaded.source === "in-cluster") {
    let token: { value: string; readAt: number } | undefined
    return Effect.succeed({
      tls: { ca: loaded.ca },
      // Re-read at most once a minute: kubelet rotates projected tokens well before expiry.
      authorization: Clock.currentTimeMillis.pipe(
        Effect.map((now) => {
          if (token === undefined || now - token.readAt >= TOKEN_REREAD_MS) {
            try {
              token = { value: readText(loaded.tokenFile).trim(), readAt: now }
            } catch {
              // Keep the last token; the request will say 401 if it is stale.
            }
          }
          return token === undefined ? undefined : `Bearer ${token.value}`
        })
      )
    })
  }
  const config = loaded.config
  return Effect.gen(function* () {
    const tls: https.RequestOptions = {}
    yield* Effect.tryPromise({
      try: () => config.applyToHTTPSOptions(tls),
      catch: (error) =>
        new KubeConfigError({ message: `cannot use the configured credentials: ${String(error)}` })
    })
    return {
      tls: {
        ...(tls.ca === undefined ? {} : { ca: tls.ca }),
        ...(tls.cert === undefined ? {} : { cert: tls.cert }),
        ...(tls.key === undefined ? {} : { key: tls.key }),
        ...(tls.rejectUnauthorized === undefined ? {} : { rejectUnauthorized: tls.rejectUnauthorized }),
        ...(tls.servername === undefined ? {} : { servername: tls.servername })
      },
      // Token, exec and auth-provider credentials may refresh: ask the config each time.
      authorization: Effect.promise(async () => {
        const auth: https.RequestOptions = { headers: {} }
        await config.applyToHTTPSOptions(auth).catch(() => undefined)
        const headers = (auth.headers ?? {}) as Record<string, string | undefined>
        if (headers.Authorization !== undefined) return headers.Authorization
        if (auth.auth !== undefined && auth.auth !== null)
          return `Basic ${Buffer.from(auth.auth).toString("base64")}`
        return undefined
      })
    }
  })
}

/**
 * Makes a client from a loaded configuration. Requests share one keep-alive agent, destroyed
 * when the scope closes. Every request has a timeout (default 10 s, on the Effect clock so tests
 * drive it with `TestClock`) and is aborted when the calling fiber is interrupted (shutdown).
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import { loadKubeConfig, makeClient } from "./KubeClient.ts"
 *
 * const program = Effect.scoped(Effect.gen(function* () {
 *   const client = yield* makeClient(yield* loadKubeConfig({ kubeconfig: "/tmp/admin.kubeconfig" }))
 *   return yield* client.request({ method: "GET", path: "/version" })
 * }))
 * ```
 */
export const makeClient = (loaded: LoadedConfig, options: ClientOptions = {}) =>
  Effect.gen(function* () {
    const server = loaded.server
    const secure = server.startsWith("https:")
    const credentials = yield* credentialsOf(loaded)
    const agent = yield* Effect.acquireRelease(
      Effect.sync(() =>
        secure
          ? new https.Agent({ keepAlive: true, maxSockets: 4, ...credentials.tls })
          : new http.Agent({ keepAlive: true, maxSockets: 4 })
      ),
      (a) => Effect.sync(() => a.destroy())
    )
    const defaultTimeout = options.timeoutMs ?? 10_000

    const send = (req: KubeRequest, authorization: string | undefined) =>
      Effect.callback<KubeResponse, KubeRequestError>((resume, signal) => {
        const url = new URL(server + req.path)
        const payload = req.body === undefined ? undefined : JSON.stringify(req.body)
        const headers: Record<string, string> = { accept: "application/json" }
        if (authorization !== undefined) headers.authorization = authorization
        if (payload !== undefined) {
          headers["content-type"] = req.contentType ?? "application/json"
          headers["content-length"] = String(Buffer.byteLength(payload))
        }
        let settled = false
        const settle = (effect: Effect.Effect<KubeResponse, KubeRequestError>) => {
          if (settled) return
          settled = true
          resume(effect)
        }
        const transportError = (kind: KubeTransportError["kind"], message: string) =>
          new KubeTransportError({ method: req.method, path: url.pathname, kind, message })
        const outgoing = (secure ? https : http).request(
          url,
          { method: req.method, headers, agent, signal },
          (res) => {
            const chunks: Array<Buffer> = []
            res.on("data", (c: Buffer) => chunks.push(c))
            res.on("error", (error) => settle(Effect.fail(transportError("reset", error.message))))
            res.on("end", () => {
              const text = Buffer.concat(chunks).toString("utf8")
              let body: unknown = text
              try {
                body = text === "" ? undefined : JSON.parse(text)
              } catch {
                // Not JSON (e.g. "404 page not found" for an unserved resource): keep the text.
              }
              const status = res.statusCode ?? 0
              if (status >= 200 && status < 300)
                return settle(
                  Effect.succeed({
                    status,
                    body,
                    warnings: parseWarningHeaders(res.headersDistinct.warning ?? [])
                      .filter((w) => w.code === 299)
                      .map((w) => w.text)
                  })
                )
              const object = (typeof body === "object" && body !== null ? body : {}) as {
                reason?: string
                message?: string
                details?: { kind?: string; name?: string; retryAfterSeconds?: number }
              }
              const retryAfterMs =
                parseRetryAfter(res.headers["retry-after"] as string | undefined, Date.now()) ??
                (object.details?.retryAfterSeconds === undefined
                  ? undefined
                  : object.details.retryAfterSeconds * 1000)
              settle(
                Effect.fail(
                  new KubeApiError({
                    method: req.method,
                    path: url.pathname,
                    status,
                    reason: object.reason ?? res.statusMessage ?? "Unknown",
                    message:
                      object.message ??
                      (typeof body === "string" ? body.slice(0, 500).trim() : `HTTP ${status}`),
                    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
                    ...(object.details?.kind === undefined ? {} : { detailsKind: object.details.kind }),
                    ...(object.details?.name === undefined ? {} : { detailsName: object.details.name })
                  })
                )
              )
            })
          }
        )
        outgoing.on("error", (error: NodeJS.ErrnoException) => {
          if (signal.aborted) return
          settle(Effect.fail(transportError(transportKind(error), error.message)))
        })
        outgoing.end(payload)
      })

    const observe = options.onRequest
    const observed = (req: KubeRequest, effect: Effect.Effect<KubeResponse, KubeRequestError>) => {
      if (observe === undefined) return effect
      const path = req.path.split("?")[0] ?? req.path
      return Effect.suspend(() => {
        observe({ phase: "start", method: req.method, path })
        return effect
      }).pipe(
        Effect.onExit((exit) =>
          Effect.sync(() => {
            let result: number | KubeTransportError["kind"] | "aborted" = "aborted"
            if (exit._tag === "Success") result = exit.value.status
            else {
              const error = exit.cause.reasons.find((r) => r._tag === "Fail")
              if (error?._tag === "Fail")
                result = error.error._tag === "KubeApiError" ? error.error.status : error.error.kind
            }
            observe({ phase: "end", method: req.method, path, result })
          })
        )
      )
    }

    const request = (req: KubeRequest): Effect.Effect<KubeResponse, KubeRequestError> => {
      const timeoutMs = req.timeoutMs ?? defaultTimeout
      return observed(
        req,
        credentials.authorization.pipe(
          Effect.flatMap((authorization) => send(req, authorization)),
          // Interrupting `send` aborts the socket through its signal.
          Effect.timeoutOrElse({
            duration: timeoutMs,
            orElse: () =>
              Effect.fail(
                new KubeTransportError({
                  method: req.method,
                  path: req.path.split("?")[0] ?? req.path,
                  kind: "timeout",
                  message: `no answer from ${server} within ${timeoutMs} ms`
                })
              )
          })
        )
      )
    }

    return { server, request } satisfies KubeClient
  })

/** A scoped client from configuration options. */
export const clientFromOptions = (
  options: KubeConfigOptions & ClientOptions = {}
): Effect.Effect<{ client: KubeClient; loaded: LoadedConfig }, KubeConfigError, Scope.Scope> =>
  Effect.gen(function* () {
    const loaded = yield* loadKubeConfig(options)
    const client = yield* makeClient(loaded, {
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
      ...(options.onRequest === undefined ? {} : { onRequest: options.onRequest })
    })
    return { client, loaded }
  })
