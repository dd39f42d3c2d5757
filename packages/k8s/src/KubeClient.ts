import { existsSync } from "node:fs"
import http from "node:http"
import https from "node:https"
import { KubeConfig } from "@kubernetes/client-node"
import { Effect, type Scope } from "effect"
import { KubeApiError, KubeConfigError, type KubeRequestError, KubeTransportError } from "./Errors.ts"

const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"

/** Where the configuration comes from. */
export interface KubeConfigOptions {
  /** A kubeconfig file; wins over everything else. */
  readonly kubeconfig?: string
  /** A context of that kubeconfig (default: its current context). */
  readonly context?: string
  /** Environment (default `process.env`): `KUBERNETES_SERVICE_HOST`, `KUBECONFIG`. */
  readonly env?: Readonly<Record<string, string | undefined>>
  /** The service-account folder (default `/var/run/secrets/kubernetes.io/serviceaccount`). */
  readonly serviceAccountDir?: string
}

/** A loaded configuration and, in a cluster, the pod's namespace. */
export interface LoadedConfig {
  readonly config: KubeConfig
  readonly source: "kubeconfig" | "in-cluster"
  readonly podNamespace: string | undefined
}

/**
 * Loads the configuration: `kubeconfig` if given; in a cluster (`KUBERNETES_SERVICE_HOST` and a
 * service-account token), the in-cluster config (its token file is re-read as it rotates);
 * otherwise `KUBECONFIG` or `~/.kube/config`.
 */
export const loadConfig = (options: KubeConfigOptions = {}) =>
  Effect.try({
    try: (): LoadedConfig => {
      const env = options.env ?? process.env
      const dir = options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR
      const config = new KubeConfig()
      if (options.kubeconfig !== undefined) {
        if (!existsSync(options.kubeconfig))
          throw new Error(`kubeconfig ${options.kubeconfig} does not exist`)
        config.loadFromFile(options.kubeconfig)
        if (options.context !== undefined) config.setCurrentContext(options.context)
        return { config, source: "kubeconfig", podNamespace: undefined }
      }
      if (env.KUBERNETES_SERVICE_HOST !== undefined && existsSync(`${dir}/token`)) {
        config.loadFromCluster(dir === SERVICE_ACCOUNT_DIR ? "" : dir.slice(0, -SERVICE_ACCOUNT_DIR.length))
        const nsFile = `${dir}/namespace`
        const podNamespace = existsSync(nsFile)
          ? config.getContextObject(config.getCurrentContext())?.namespace
          : undefined
        return { config, source: "in-cluster", podNamespace: podNamespace?.trim() }
      }
      const file = env.KUBECONFIG ?? `${env.HOME ?? ""}/.kube/config`
      if (env.KUBECONFIG === undefined && !existsSync(file))
        throw new Error(
          env.KUBERNETES_SERVICE_HOST !== undefined
            ? `KUBERNETES_SERVICE_HOST is set but there is no service-account token at ${dir}/token: mount one (automountServiceAccountToken) or set KUBECONFIG`
            : "no Kubernetes configuration found: run in a cluster, or set KUBECONFIG (or --kubeconfig) to a kubeconfig file"
        )
      for (const path of file.split(":"))
        if (path !== "" && !existsSync(path))
          throw new Error(`KUBECONFIG names ${path}, which does not exist`)
      config.loadFromDefault({}, false)
      if (options.context !== undefined) config.setCurrentContext(options.context)
      return { config, source: "kubeconfig", podNamespace: undefined }
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
    code.includes("CERT") ||
    code === "DEPTH_ZERO_SELF_SIGNED_CERT" ||
    code === "EPROTO"
  )
    return "tls"
  return "other"
}

/**
 * Makes a client from a loaded configuration. Requests share one keep-alive agent, destroyed
 * when the scope closes; every request has a timeout (default 10 s) and is aborted when the
 * calling fiber is interrupted (e.g. on shutdown).
 */
export const makeClient = (config: KubeConfig, options: { readonly timeoutMs?: number } = {}) =>
  Effect.gen(function* () {
    const cluster = config.getCurrentCluster()
    if (cluster === null)
      return yield* new KubeConfigError({
        message: "the kubeconfig has no current cluster: set its current-context"
      })
    const server = cluster.server.replace(/\/+$/, "")
    const secure = server.startsWith("https:")
    const tls: https.RequestOptions = {}
    yield* Effect.tryPromise({
      try: () => config.applyToHTTPSOptions(tls),
      catch: (error) =>
        new KubeConfigError({ message: `cannot use the configured credentials: ${String(error)}` })
    })
    const agent = yield* Effect.acquireRelease(
      Effect.sync(() =>
        secure
          ? new https.Agent({
              keepAlive: true,
              maxSockets: 4,
              ...(tls.ca === undefined ? {} : { ca: tls.ca }),
              ...(tls.cert === undefined ? {} : { cert: tls.cert }),
              ...(tls.key === undefined ? {} : { key: tls.key }),
              ...(tls.rejectUnauthorized === undefined ? {} : { rejectUnauthorized: tls.rejectUnauthorized }),
              ...(tls.servername === undefined ? {} : { servername: tls.servername })
            })
          : new http.Agent({ keepAlive: true, maxSockets: 4 })
      ),
      (a) => Effect.sync(() => a.destroy())
    )
    const defaultTimeout = options.timeoutMs ?? 10_000

    const request = (req: KubeRequest): Effect.Effect<KubeResponse, KubeRequestError> =>
      Effect.gen(function* () {
        const auth: https.RequestOptions = { headers: {} }
        yield* Effect.promise(() => config.applyToHTTPSOptions(auth).catch(() => undefined))
        const timeoutMs = req.timeoutMs ?? defaultTimeout
        const payload = req.body === undefined ? undefined : JSON.stringify(req.body)
        const headers: Record<string, string> = { accept: "application/json" }
        const authorization = (auth.headers as Record<string, string> | undefined)?.Authorization
        if (authorization !== undefined) headers.authorization = authorization
        if (payload !== undefined) {
          headers["content-type"] = req.contentType ?? "application/json"
          headers["content-length"] = String(Buffer.byteLength(payload))
        }
        return yield* Effect.callback<KubeResponse, KubeRequestError>((resume, signal) => {
          const url = new URL(server + req.path)
          const transport = secure ? https : http
          let settled = false
          const fail = (error: KubeRequestError) => {
            if (!settled) {
              settled = true
              resume(Effect.fail(error))
            }
          }
          const outgoing = transport.request(
            url,
            {
              method: req.method,
              headers,
              agent,
              signal,
              ...(auth.auth === undefined ? {} : { auth: auth.auth })
            },
            (res) => {
              const chunks: Array<Buffer> = []
              res.on("data", (c: Buffer) => chunks.push(c))
              res.on("error", (error) =>
                fail(
                  new KubeTransportError({
                    method: req.method,
                    path: url.pathname,
                    kind: "reset",
                    message: error.message
                  })
                )
              )
              res.on("end", () => {
                if (settled) return
                settled = true
                const text = Buffer.concat(chunks).toString("utf8")
                let body: unknown = text
                try {
                  body = text === "" ? undefined : JSON.parse(text)
                } catch {
                  // not JSON: keep the text
                }
                const status = res.statusCode ?? 0
                if (status >= 200 && status < 300) return resume(Effect.succeed({ status, body }))
                const object = (typeof body === "object" && body !== null ? body : {}) as {
                  reason?: string
                  message?: string
                }
                const retryAfterMs = parseRetryAfter(
                  res.headers["retry-after"] as string | undefined,
                  Date.now()
                )
                resume(
                  Effect.fail(
                    new KubeApiError({
                      method: req.method,
                      path: url.pathname,
                      status,
                      reason: object.reason ?? res.statusMessage ?? "Unknown",
                      message:
                        object.message ?? (typeof body === "string" ? body.slice(0, 500) : `HTTP ${status}`),
                      ...(retryAfterMs === undefined ? {} : { retryAfterMs })
                    })
                  )
                )
              })
            }
          )
          outgoing.setTimeout(timeoutMs, () => {
            fail(
              new KubeTransportError({
                method: req.method,
                path: url.pathname,
                kind: "timeout",
                message: `no answer from ${server} within ${timeoutMs} ms`
              })
            )
            outgoing.destroy()
          })
          outgoing.on("error", (error: NodeJS.ErrnoException) => {
            if (signal.aborted) return
            fail(
              new KubeTransportError({
                method: req.method,
                path: url.pathname,
                kind: transportKind(error),
                message: error.message
              })
            )
          })
          outgoing.end(payload)
        })
      })

    return { server, request } satisfies KubeClient
  })

/** A scoped client from configuration options. */
export const clientFromOptions = (
  options: KubeConfigOptions & { readonly timeoutMs?: number } = {}
): Effect.Effect<{ client: KubeClient; loaded: LoadedConfig }, KubeConfigError, Scope.Scope> =>
  Effect.gen(function* () {
    const loaded = yield* loadConfig(options)
    const client = yield* makeClient(
      loaded.config,
      options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }
    )
    return { client, loaded }
  })
