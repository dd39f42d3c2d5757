/** Which requests the HTTP server lets in, by `Origin` and `Host` (DNS rebinding). */
export interface RequestPolicy {
  /** The listener is a loopback address: only loopback `Host` values on every route. */
  readonly loopbackListener: boolean
  /** Origins served besides loopback ones, normalized (`new URL(o).origin`). */
  readonly allowedOrigins: ReadonlySet<string>
  /** Off loopback: the `Host` values served (`name` any port, `name:port` that port); unset: any. */
  readonly allowedHosts:
    | ReadonlyArray<{ readonly hostname: string; readonly port: string | undefined }>
    | undefined
}

/** The request, as far as the policy looks at it. */
export interface RequestFacts {
  readonly path: string
  readonly host: string | undefined
  readonly origin: string | undefined
}

/** Let in, or refused with a message for the 403 body. */
export type Verdict = { readonly ok: true } | { readonly ok: false; readonly message: string }

/** The paths kubelet probes: exempt from `allowedHosts`, as probes send the pod IP as `Host`. */
export const ProbePaths: ReadonlySet<string> = new Set(["/healthz", "/readyz"])

/** `localhost`, `127.x.x.x`, `::1` (bracketed or not): names only this host reaches. */
export const isLoopbackHostname = (hostname: string): boolean =>
  hostname === "localhost" ||
  hostname === "[::1]" ||
  hostname === "::1" ||
  /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname)

/** `host[:port]` as a URL authority; undefined when it is not one. */
const parseAuthority = (value: string): { hostname: string; port: string } | undefined => {
  if (value === "" || /[/?#@\s]/.test(value) || !URL.canParse(`http://${value}`)) return undefined
  const url = new URL(`http://${value}`)
  return { hostname: url.hostname, port: url.port }
}

/**
 * Builds the policy for a listener: loopback origins always; `allowedOrigins` as exact origins;
 * `allowedHosts` only applies off loopback (on loopback, only loopback `Host` values pass).
 *
 * @example
 * ```ts
 * import { checkRequest, makeRequestPolicy } from "@vmcp-status/vmcp"
 *
 * const policy = makeRequestPolicy({ host: "127.0.0.1", allowedOrigins: ["https://console.example"] })
 * checkRequest(policy, { path: "/mcp", host: "127.0.0.1:4483", origin: "http://evil.example" }).ok // false
 * ```
 */
export const makeRequestPolicy = (listen: {
  readonly host: string
  readonly allowedOrigins?: ReadonlyArray<string> | undefined
  readonly allowedHosts?: ReadonlyArray<string> | undefined
}): RequestPolicy => ({
  loopbackListener: isLoopbackHostname(listen.host),
  allowedOrigins: new Set(
    (listen.allowedOrigins ?? []).filter((o) => URL.canParse(o)).map((o) => new URL(o).origin)
  ),
  allowedHosts: listen.allowedHosts?.flatMap((entry) => {
    const parsed = parseAuthority(entry.trim().toLowerCase())
    if (parsed === undefined) return []
    return [{ hostname: parsed.hostname, port: /:\d+$/.test(entry.trim()) ? parsed.port : undefined }]
  })
})

const originAllowed = (policy: RequestPolicy, origin: string): boolean => {
  if (!URL.canParse(origin)) return false
  const url = new URL(origin)
  if (url.origin === "null") return false
  if ((url.protocol === "http:" || url.protocol === "https:") && isLoopbackHostname(url.hostname)) return true
  return policy.allowedOrigins.has(url.origin)
}

const hostAllowed = (policy: RequestPolicy, path: string, host: string | undefined): boolean => {
  const parsed = host === undefined ? undefined : parseAuthority(host.toLowerCase())
  if (policy.loopbackListener) return parsed !== undefined && isLoopbackHostname(parsed.hostname)
  if (policy.allowedHosts === undefined || ProbePaths.has(path)) return true
  if (parsed === undefined) return false
  // A rebinding page sends its own name as Host, never a loopback one: those stay allowed (port-forward).
  if (isLoopbackHostname(parsed.hostname)) return true
  return policy.allowedHosts.some(
    (h) => h.hostname === parsed.hostname && (h.port === undefined || h.port === parsed.port)
  )
}

/**
 * The rule for one request:
 * - no `Origin` (not a browser): passes the Origin check; an `Origin` passes when its host is
 *   loopback (`http(s)://localhost|127.x.x.x|[::1]`, any port) or it is in `allowedOrigins` exactly;
 * - `Host` on a loopback listener: loopback values only, on every route;
 * - `Host` off loopback: any when `allowedHosts` is unset; else those (and loopback values), except
 *   on the probe paths `/healthz` and `/readyz`, which kubelet calls with the pod IP.
 *
 * @example
 * ```ts
 * import { checkRequest, makeRequestPolicy } from "@vmcp-status/vmcp"
 *
 * const policy = makeRequestPolicy({ host: "0.0.0.0", allowedHosts: ["vmcp.example.com"] })
 * checkRequest(policy, { path: "/readyz", host: "10.0.0.7:4483", origin: undefined }).ok // true
 * checkRequest(policy, { path: "/status", host: "10.0.0.7:4483", origin: undefined }).ok // false
 * ```
 */
export const checkRequest = (policy: RequestPolicy, request: RequestFacts): Verdict => {
  if (request.origin !== undefined && request.origin !== "" && !originAllowed(policy, request.origin))
    return {
      ok: false,
      message: `Forbidden: Origin ${JSON.stringify(request.origin)} is not allowed (loopback origins and listen.allowedOrigins are)`
    }
  if (!hostAllowed(policy, request.path, request.host))
    return {
      ok: false,
      message: policy.loopbackListener
        ? `Forbidden: Host ${JSON.stringify(request.host ?? "")} is not a loopback name, and this server listens on loopback`
        : `Forbidden: Host ${JSON.stringify(request.host ?? "")} is not in listen.allowedHosts`
    }
  return { ok: true }
}
