import { X509Certificate } from "node:crypto"
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http"
import { Agent, createServer, request as httpsRequest, type Server } from "node:https"
import type { AddressInfo, Socket } from "node:net"
import type { TLSSocket } from "node:tls"
import { Effect, type Scope } from "effect"
import { type KeyPair, makeCertificates } from "./Certificates.ts"
import { FaultProxyError } from "./Errors.ts"

/**
 * A path to match: a string is exact unless it holds `*` (any characters but `/`) or `**`
 * (anything, `/` included); a RegExp is tested against the path without the query string.
 */
export type PathPattern = string | RegExp

/** What a matching request gets instead of a plain forward. */
export type Fault =
  /** Waits `ms`, then forwards. */
  | { readonly kind: "latency"; readonly ms: number }
  /** Never answers while the rule is active; forwarded once the rule is removed or expires. */
  | { readonly kind: "hang" }
  /** Closes the TCP connection with a reset, no HTTP answer. */
  | { readonly kind: "reset" }
  /**
   * Forwards, and adds `headers` to the upstream's answer (after its own values of the same
   * name), e.g. a newer API server's `Warning: 299 - "unknown field \"status.x\""`.
   */
  | {
      readonly kind: "addResponseHeaders"
      readonly headers: Readonly<Record<string, string | ReadonlyArray<string>>>
    }
  /**
   * Answers `status` with a Kubernetes `Status` body instead of forwarding; `Retry-After` is
   * sent when `retryAfterSeconds` is set (default 1 for 429).
   */
  | {
      readonly kind: "status"
      readonly status: number
      readonly retryAfterSeconds?: number
      readonly message?: string
      readonly reason?: string
    }

/** A fault for requests matching `method` and `path`, for `times` requests and/or `forMs`. */
export interface FaultRule {
  /** One method or several (case-insensitive); any method when absent. */
  readonly method?: string | ReadonlyArray<string>
  /** Any path when absent. */
  readonly path?: PathPattern
  readonly fault: Fault
  /** Apply to this many requests, then retire. */
  readonly times?: number
  /** Apply for this long after `addRule`, then retire. */
  readonly forMs?: number
}

/** A rule in force; `remove` retires it early (releasing requests it holds). */
export interface ActiveRule {
  readonly rule: FaultRule
  /** Requests the rule has applied to. */
  readonly hits: () => number
  readonly remove: () => void
}

/** A request counter key and its count. */
export interface RequestCount {
  readonly method: string
  readonly path: string
  readonly count: number
  /** Request body bytes received (from `content-length`), e.g. bytes written to the API server. */
  readonly bytes: number
}

export interface FaultProxyOptions {
  /** The upstream HTTPS base URL, e.g. the API server's `https://127.0.0.1:6443`. */
  readonly upstream: string
  /** PEM CA bundle the proxy trusts for the upstream. */
  readonly upstreamCa: string
  /**
   * The certificate the proxy presents to clients (SANs must cover `127.0.0.1`). When absent a
   * fresh CA and certificate are generated; `ca` on the handle is the PEM to trust.
   */
  readonly tls?: KeyPair & { readonly ca: string }
}

/** A running fault proxy. */
export interface FaultProxyHandle {
  /** `https://127.0.0.1:<port>`: point a kubeconfig here instead of at the upstream. */
  readonly url: string
  readonly port: number
  /** The PEM CA clients should trust for `url`. */
  readonly ca: string
  readonly addRule: (rule: FaultRule) => ActiveRule
  /** Retires every rule; hung requests are forwarded. */
  readonly clearRules: () => void
  /**
   * `trusted` (default) presents the normal certificate; `untrusted` presents one signed by an
   * unknown CA to new connections, so clients fail TLS; connections made before are closed (idle
   * ones at once, busy ones when their next request arrives, unanswered).
   */
  readonly setTls: (mode: "trusted" | "untrusted") => Promise<void>
  /** Every request received, by method and path, faulted or not. */
  readonly counts: () => ReadonlyArray<RequestCount>
  /** The number of requests received matching `method` (any when absent) and `path`. */
  readonly count: (filter?: { readonly method?: string; readonly path?: PathPattern }) => number
  /**
   * Connections that failed or ended before the TLS handshake completed: a client refusing the
   * `untrusted` certificate (such a client never reaches `counts`), or one that connects and leaves.
   */
  readonly tlsFailures: () => number
  /** Zeroes `counts` and `tlsFailures`. */
  readonly resetCounts: () => void
  /** Closes the port, every connection and held request. Idempotent. */
  readonly close: () => Promise<void>
}

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade"
])

const REASONS: Record<number, string> = {
  400: "BadRequest",
  401: "Unauthorized",
  403: "Forbidden",
  404: "NotFound",
  405: "MethodNotAllowed",
  409: "Conflict",
  410: "Expired",
  422: "Invalid",
  429: "TooManyRequests",
  500: "InternalError",
  503: "ServiceUnavailable",
  504: "Timeout"
}

const escapeRegExp = (s: string) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")

const compile = (pattern: PathPattern): ((path: string) => boolean) => {
  if (pattern instanceof RegExp) return (path) => pattern.test(path)
  if (!pattern.includes("*")) return (path) => path === pattern
  const source = pattern
    .split("**")
    .map((part) => part.split("*").map(escapeRegExp).join("[^/]*"))
    .join(".*")
  const regex = new RegExp(`^${source}$`)
  return (path) => regex.test(path)
}

const methodMatcher = (method: FaultRule["method"]) => {
  if (method === undefined) return () => true
  const wanted = (typeof method === "string" ? [method] : method).map((m) => m.toUpperCase())
  return (m: string) => wanted.includes(m.toUpperCase())
}

/** The JSON body the API server sends with an error status. */
export const kubeStatus = (status: number, message: string, reason?: string, retryAfterSeconds?: number) => ({
  kind: "Status",
  apiVersion: "v1",
  metadata: {},
  status: "Failure",
  message,
  reason: reason ?? REASONS[status] ?? "Unknown",
  ...(retryAfterSeconds === undefined ? {} : { details: { retryAfterSeconds } }),
  code: status
})

const errorMessage = (error: unknown) => (error instanceof Error ? error.message : String(error))

interface Rule {
  readonly rule: FaultRule
  readonly matchesMethod: (method: string) => boolean
  readonly matchesPath: (path: string) => boolean
  readonly expiresAt: number | undefined
  hits: number
  exhausted: boolean
  retired: boolean
  readonly held: Set<() => void>
  timer: NodeJS.Timeout | undefined
}

/**
 * Starts an HTTPS proxy on `127.0.0.1` in front of an HTTPS upstream (the kube-apiserver) that
 * injects faults per method and path and counts every request. Bodies stream both ways, so
 * watches work through it.
 *
 * @example
 * ```ts
 * import { startFaultProxy } from "@vmcp-status/testkit"
 *
 * const proxy = await startFaultProxy({ upstream: server.url, upstreamCa: server.ca, tls: server.tls })
 * proxy.addRule({ method: "PATCH", path: "/apis/**", fault: { kind: "status", status: 429, retryAfterSeconds: 2 }, times: 1 })
 * // ... the reporter talks to proxy.url ...
 * proxy.count({ method: "PATCH" }) // requests seen
 * await proxy.close()
 * ```
 */
export const startFaultProxy = async (options: FaultProxyOptions): Promise<FaultProxyHandle> => {
  const upstream = new URL(options.upstream)
  const trusted: KeyPair & { readonly ca: string } =
    options.tls ?? (await makeCertificates().then(({ ca, serving }) => ({ ...serving, ca: ca.cert })))
  const trustedRaw = new X509Certificate(trusted.cert).raw
  const presentedTrusted = (socket: TLSSocket) => {
    const cert = socket.getCertificate()
    return cert !== null && "raw" in cert && cert.raw.equals(trustedRaw)
  }
  // Made on first use: most proxies never fail TLS.
  let untrusted: Promise<KeyPair> | undefined
  const agent = new Agent({ keepAlive: true, ca: options.upstreamCa })
  const rules: Array<Rule> = []
  const counters = new Map<string, RequestCount>()
  // Raw TCP sockets by client port (unique per live loopback connection).
  const rawSockets = new Map<number, Socket>()
  let tlsFailures = 0
  let tlsMode: "trusted" | "untrusted" = "trusted"
  let closed = false

  const retire = (r: Rule) => {
    if (r.retired) return
    r.retired = true
    r.exhausted = true
    if (r.timer !== undefined) clearTimeout(r.timer)
    const index = rules.indexOf(r)
    if (index >= 0) rules.splice(index, 1)
    const held = [...r.held]
    r.held.clear()
    for (const release of held) release()
  }

  const forward = (
    req: IncomingMessage,
    res: ServerResponse,
    addHeaders: Readonly<Record<string, string | ReadonlyArray<string>>> = {}
  ) => {
    const headers: OutgoingHttpHeaders = {}
    for (const [name, value] of Object.entries(req.headers)) {
      if (!HOP_BY_HOP.has(name) && value !== undefined) headers[name] = value
    }
    headers.host = upstream.host
    const upstreamReq = httpsRequest(
      {
        protocol: "https:",
        hostname: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers,
        agent
      },
      (upstreamRes) => {
        const responseHeaders: OutgoingHttpHeaders = {}
        for (const [name, value] of Object.entries(upstreamRes.headers)) {
          if (!HOP_BY_HOP.has(name) && value !== undefined) responseHeaders[name] = value
        }
        for (const [rawName, value] of Object.entries(addHeaders)) {
          const name = rawName.toLowerCase()
          const existing = responseHeaders[name]
          responseHeaders[name] = [
            ...(existing === undefined ? [] : Array.isArray(existing) ? existing : [String(existing)]),
            ...(typeof value === "string" ? [value] : value)
          ]
        }
        res.writeHead(upstreamRes.statusCode ?? 502, responseHeaders)
        res.flushHeaders()
        upstreamRes.pipe(res)
      }
    )
    upstreamReq.on("error", (error) => {
      if (!res.headersSent) {
        sendStatus(res, 502, `fault proxy: upstream ${upstream.host} failed: ${errorMessage(error)}`)
      } else {
        res.destroy()
      }
    })
    // A client that gives up (a watch closed, a timeout) ends the upstream request too.
    res.on("close", () => {
      if (!res.writableFinished) upstreamReq.destroy()
    })
    req.pipe(upstreamReq)
  }

  const sendStatus = (
    res: ServerResponse,
    status: number,
    message: string,
    reason?: string,
    retryAfterSeconds?: number
  ) => {
    const body = JSON.stringify(kubeStatus(status, message, reason, retryAfterSeconds))
    res.writeHead(status, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(body),
      ...(retryAfterSeconds === undefined ? {} : { "retry-after": String(retryAfterSeconds) })
    })
    res.end(body)
  }

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    // A connection that got the trusted certificate (busy when TLS turned untrusted, or mid-
    // handshake) must not carry the client past the fault: closed unanswered, so the client
    // reconnects and meets the untrusted certificate.
    if (tlsMode === "untrusted" && presentedTrusted(req.socket as TLSSocket)) {
      req.socket.destroy()
      return
    }
    const method = (req.method ?? "GET").toUpperCase()
    const path = new URL(req.url ?? "/", "https://127.0.0.1").pathname
    const key = `${method} ${path}`
    const counter = counters.get(key)
    const bytes = Number(req.headers["content-length"] ?? 0) || 0
    counters.set(key, {
      method,
      path,
      count: (counter?.count ?? 0) + 1,
      bytes: (counter?.bytes ?? 0) + bytes
    })

    const now = Date.now()
    const rule = rules.find(
      (r) =>
        !r.exhausted &&
        (r.expiresAt === undefined || now < r.expiresAt) &&
        r.matchesMethod(method) &&
        r.matchesPath(path)
    )
    if (rule === undefined) return forward(req, res)
    rule.hits += 1
    if (rule.rule.times !== undefined && rule.hits >= rule.rule.times) {
      // Used up: it matches nothing more. A hang rule keeps holding its requests until removed.
      rule.exhausted = true
      if (rule.rule.fault.kind !== "hang") retire(rule)
    }
    const fault = rule.rule.fault
    switch (fault.kind) {
      case "latency": {
        const timer = setTimeout(() => forward(req, res), fault.ms)
        res.on("close", () => clearTimeout(timer))
        return
      }
      case "hang": {
        const release = () => {
          if (!res.destroyed) forward(req, res)
        }
        rule.held.add(release)
        res.on("close", () => rule.held.delete(release))
        return
      }
      case "addResponseHeaders":
        return forward(req, res, fault.headers)
      case "reset": {
        // A TLS socket cannot send a TCP reset; the raw socket under it can.
        const raw = rawSockets.get(req.socket.remotePort ?? -1)
        if (raw !== undefined) raw.resetAndDestroy()
        req.socket.destroy()
        return
      }
      case "status": {
        const retryAfter = fault.retryAfterSeconds ?? (fault.status === 429 ? 1 : undefined)
        sendStatus(
          res,
          fault.status,
          fault.message ?? `fault proxy: injected ${fault.status} for ${method} ${path}`,
          fault.reason,
          retryAfter
        )
        // Drain the request body so the connection can be reused.
        req.resume()
        return
      }
    }
  }

  const server: Server = createServer({ cert: trusted.cert, key: trusted.key }, handle)
  server.on("connection", (socket: Socket) => {
    const clientPort = socket.remotePort ?? -1
    rawSockets.set(clientPort, socket)
    socket.once("close", () => {
      if (rawSockets.get(clientPort) === socket) rawSockets.delete(clientPort)
    })
  })
  // Failed handshakes (the `untrusted` mode) are expected: counted, kept off stderr.
  server.on("tlsClientError", () => {
    tlsFailures += 1
  })

  const port = await new Promise<number>((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject)
      resolve((server.address() as AddressInfo).port)
    })
  }).catch((error: unknown) => {
    throw new FaultProxyError({
      operation: "start",
      message: `could not listen on 127.0.0.1: ${errorMessage(error)}`
    })
  })

  const matchCount = (filter: { readonly method?: string; readonly path?: PathPattern } = {}) => {
    const matchesPath = filter.path === undefined ? () => true : compile(filter.path)
    const method = filter.method?.toUpperCase()
    let total = 0
    for (const c of counters.values()) {
      if ((method === undefined || c.method === method) && matchesPath(c.path)) total += c.count
    }
    return total
  }

  return {
    url: `https://127.0.0.1:${port}`,
    port,
    ca: trusted.ca,
    addRule: (rule) => {
      const r: Rule = {
        rule,
        matchesMethod: methodMatcher(rule.method),
        matchesPath: rule.path === undefined ? () => true : compile(rule.path),
        expiresAt: rule.forMs === undefined ? undefined : Date.now() + rule.forMs,
        hits: 0,
        exhausted: false,
        retired: false,
        held: new Set(),
        timer: undefined
      }
      if (rule.forMs !== undefined) {
        r.timer = setTimeout(() => retire(r), rule.forMs)
        r.timer.unref()
      }
      rules.push(r)
      return { rule, hits: () => r.hits, remove: () => retire(r) }
    },
    clearRules: () => {
      for (const r of [...rules]) retire(r)
    },
    setTls: async (mode) => {
      untrusted ??= makeCertificates({ caName: "untrusted testkit CA" }).then((c) => c.serving)
      const pair = mode === "trusted" ? trusted : await untrusted
      tlsMode = mode
      server.setSecureContext({ cert: pair.cert, key: pair.key })
      server.closeIdleConnections()
    },
    counts: () => [...counters.values()],
    count: matchCount,
    tlsFailures: () => tlsFailures,
    resetCounts: () => {
      counters.clear()
      tlsFailures = 0
    },
    close: async () => {
      if (closed) return
      closed = true
      for (const r of [...rules]) {
        r.held.clear()
        retire(r)
      }
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        for (const socket of rawSockets.values()) socket.destroy()
      })
      agent.destroy()
    }
  }
}

/**
 * A fault proxy whose lifetime is the enclosing `Scope`. The handle's methods are synchronous
 * (rules and counters are plain in-memory state).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { FaultProxy } from "@vmcp-status/testkit"
 *
 * const program = Effect.scoped(
 *   Effect.gen(function* () {
 *     const proxy = yield* FaultProxy.make({ upstream: "https://127.0.0.1:6443", upstreamCa: caPem })
 *     proxy.addRule({ path: "/readyz", fault: { kind: "status", status: 503 } })
 *   })
 * )
 * ```
 */
export const make = (
  options: FaultProxyOptions
): Effect.Effect<FaultProxyHandle, FaultProxyError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: () => startFaultProxy(options),
      catch: (error) =>
        error instanceof FaultProxyError
          ? error
          : new FaultProxyError({ operation: "start", message: errorMessage(error) })
    }),
    (proxy) => Effect.promise(() => proxy.close())
  )

/** The options that put a proxy in front of a testkit API server (its URL, CA and serving pair). */
export const frontOf = (server: {
  readonly url: string
  readonly ca: string
  readonly tls: KeyPair & { readonly ca: string }
}): FaultProxyOptions => ({ upstream: server.url, upstreamCa: server.ca, tls: server.tls })

/**
 * A proxy in front of a testkit API server for the enclosing `Scope`: clients trust the same CA.
 *
 * @example
 * ```ts
 * const proxy = yield* FaultProxy.inFrontOf(kube.connection)
 * ```
 */
export const inFrontOf = (server: Parameters<typeof frontOf>[0]) => make(frontOf(server))
