import { createHash, timingSafeEqual } from "node:crypto"
import { readFileSync, statSync } from "node:fs"
import type { IncomingHttpHeaders } from "node:http"
import { resolve } from "node:path"
import { createRemoteJWKSet, errors, type JWTPayload, jwtVerify } from "jose"
import type { VmcpConfig } from "../Config.ts"
import { PROTECTED_RESOURCE_PATH } from "./Paths.ts"

/** `auth` of the config, decoded. */
export type AuthConfig = VmcpConfig["auth"]

/** Why a request to `/mcp` was refused: for the log (counted), never with the token. */
export type AuthFailureReason =
  | "missing token"
  | "malformed header"
  | "unknown token"
  | "expired"
  | "wrong issuer"
  | "wrong audience"
  | "unknown signing key"
  | "bad signature"
  | "invalid token"
  | "insufficient scope"
  | "issuer unreachable"

/** Let in, or the answer to give: status, `WWW-Authenticate`, and a message for the JSON-RPC body. */
export type AuthOutcome =
  | { readonly ok: true }
  | {
      readonly ok: false
      readonly status: 401 | 403 | 503
      readonly reason: AuthFailureReason
      readonly message: string
      readonly wwwAuthenticate?: string
    }

/** RFC 9728 protected-resource metadata, as `/.well-known/oauth-protected-resource` serves it. */
export interface ProtectedResourceMetadata {
  readonly resource: string
  readonly authorization_servers: ReadonlyArray<string>
  readonly scopes_supported: ReadonlyArray<string>
  readonly bearer_methods_supported: ReadonlyArray<string>
  readonly resource_name: string
}

/** Checks the credentials of requests to `/mcp`. */
export interface Authenticator {
  readonly mode: "bearer" | "oidc"
  /** Checks one request; `resource` is the URL of `/mcp` as the client reached it. */
  readonly authenticate: (headers: IncomingHttpHeaders, resource: string) => Promise<AuthOutcome>
  /** The protected-resource metadata for `resource` (oidc only). */
  readonly metadata?: (resource: string) => ProtectedResourceMetadata
}

export { PROTECTED_RESOURCE_PATH }

/** `https://host/mcp` → `https://host/.well-known/oauth-protected-resource/mcp` (RFC 9728 §3.1). */
export const resourceMetadataUrl = (resource: string): string => {
  const url = new URL(resource)
  const path = url.pathname === "/" ? "" : url.pathname
  return `${url.origin}${PROTECTED_RESOURCE_PATH}${path}`
}

/** A quoted auth-param value (RFC 9110 §11.2): quotes and backslashes escaped. */
const quoted = (value: string) => `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"`

const challenge = (params: ReadonlyArray<readonly [string, string | undefined]>): string =>
  `Bearer ${params.flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${quoted(v)}`])).join(", ")}`

/** The token of `Authorization: Bearer <token>`; `undefined` when absent, `null` when malformed. */
export const bearerToken = (authorization: string | undefined): string | undefined | null => {
  if (authorization === undefined || authorization === "") return undefined
  const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(authorization)
  return match === null ? null : (match[1] as string)
}

const sha256 = (text: string): Buffer => createHash("sha256").update(text, "utf8").digest()

/** How long a token file's `stat` is trusted before it is looked at again. */
export const TOKEN_FILE_RECHECK_MS = 1_000

/** A token file could not be read; `message` names the field and the fix. */
export class TokenFileError extends Error {
  readonly _tag = "TokenFileError"
}

interface TokenFile {
  readonly path: string
  signature: string
  hashes: ReadonlyArray<Buffer>
}

const tokensOf = (text: string): Array<string> =>
  text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"))

/** `ino:size:mtime` of the file the path leads to: a Secret's symlink swap changes the inode. */
const signatureOf = (path: string): string => {
  const s = statSync(path)
  return `${s.ino}:${s.size}:${s.mtimeMs}`
}

/**
 * The tokens of `auth.bearer.tokenFiles`, one per line (blank lines and `#` comments skipped),
 * kept as SHA-256 hashes. A file is looked at again (`stat`, then read if it changed) at most
 * every `TOKEN_FILE_RECHECK_MS`, so a rotated Secret takes effect within about a second; a file
 * that vanishes holds no token until it is back (fail closed).
 *
 * @example
 * ```ts
 * import { makeTokenStore } from "@vmcp-status/vmcp"
 *
 * const store = makeTokenStore(["/etc/vmcp/tokens/token"])
 * store.matches("s3cret") // true when a line of the file is s3cret
 * ```
 */
export const makeTokenStore = (
  paths: ReadonlyArray<string>,
  options: { readonly now?: () => number; readonly recheckMs?: number } = {}
) => {
  const now = options.now ?? Date.now
  const recheckMs = options.recheckMs ?? TOKEN_FILE_RECHECK_MS
  const load = (path: string, index: number): TokenFile => {
    try {
      const signature = signatureOf(path)
      const hashes = tokensOf(readFileSync(path, "utf8")).map(sha256)
      return { path, signature, hashes }
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? String(error)
      throw new TokenFileError(
        `auth.bearer.tokenFiles[${index}]: cannot read ${path} (${code}); mount the Secret there or fix the path`
      )
    }
  }
  const files = paths.map(load)
  if (files.every((f) => f.hashes.length === 0))
    throw new TokenFileError(
      `auth.bearer.tokenFiles: ${paths.join(", ")} hold no token; write one token per line (e.g. openssl rand -hex 32)`
    )
  let checkedAt = now()
  const refresh = () => {
    if (now() - checkedAt < recheckMs) return
    checkedAt = now()
    for (const file of files) {
      try {
        const signature = signatureOf(file.path)
        if (signature === file.signature) continue
        file.hashes = tokensOf(readFileSync(file.path, "utf8")).map(sha256)
        file.signature = signature
      } catch {
        file.hashes = []
        file.signature = ""
      }
    }
  }
  return {
    /** Whether `token` is one of the files' tokens; compares hashes in constant time, every one. */
    matches: (token: string): boolean => {
      refresh()
      const presented = sha256(token)
      let found = false
      for (const file of files)
        for (const hash of file.hashes) found = timingSafeEqual(hash, presented) || found
      return found
    },
    /** How many tokens the files hold now. */
    count: (): number => {
      refresh()
      return files.reduce((n, f) => n + f.hashes.length, 0)
    }
  }
}

const refuse = (
  status: 401 | 403 | 503,
  reason: AuthFailureReason,
  message: string,
  wwwAuthenticate?: string
): AuthOutcome => ({
  ok: false,
  status,
  reason,
  message,
  ...(wwwAuthenticate === undefined ? {} : { wwwAuthenticate })
})

const makeBearer = (paths: ReadonlyArray<string>, baseDir: string | undefined): Authenticator => {
  // Relative paths are the config file's, as for stdio backends.
  const resolved = paths.map((p) => (baseDir === undefined ? p : resolve(baseDir, p)))
  const store = makeTokenStore(resolved)
  const realm = ["realm", "vmcp"] as const
  return {
    mode: "bearer",
    authenticate: async (headers) => {
      const token = bearerToken(headers.authorization)
      if (token === undefined)
        return refuse(
          401,
          "missing token",
          "Unauthorized: send Authorization: Bearer <token>",
          challenge([realm])
        )
      if (token === null || !store.matches(token))
        return refuse(
          401,
          token === null ? "malformed header" : "unknown token",
          "Unauthorized: the bearer token is not valid",
          challenge([realm, ["error", "invalid_token"]])
        )
      return { ok: true }
    }
  }
}

/** Algorithms a JWKS key may sign with: asymmetric only (an issuer's public keys). */
const JWT_ALGORITHMS = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
  "Ed25519"
]

type Oidc = NonNullable<AuthConfig["oidc"]>

/** The issuer's `jwks_uri`, from OpenID Connect discovery (`<issuer>/.well-known/openid-configuration`). */
const discoverJwksUri = async (issuer: string): Promise<URL> => {
  const url = `${issuer.replace(/\/+$/, "")}/.well-known/openid-configuration`
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000), redirect: "error" })
  if (!response.ok) throw new Error(`${url} answered ${response.status}`)
  const document = (await response.json()) as { issuer?: unknown; jwks_uri?: unknown }
  if (document.issuer !== issuer)
    throw new Error(`${url} names issuer ${JSON.stringify(document.issuer)}, not auth.oidc.issuer`)
  if (typeof document.jwks_uri !== "string" || !URL.canParse(document.jwks_uri))
    throw new Error(`${url} has no jwks_uri; set auth.oidc.jwksUri`)
  return new URL(document.jwks_uri)
}

const scopesOf = (payload: JWTPayload): Set<string> => {
  const scopes = new Set<string>()
  for (const claim of [payload.scope, payload.scp])
    if (typeof claim === "string") for (const s of claim.split(" ")) scopes.add(s)
    else if (Array.isArray(claim)) for (const s of claim) if (typeof s === "string") scopes.add(s)
  return scopes
}

const failureOf = (error: unknown): { reason: AuthFailureReason; description: string } => {
  if (error instanceof errors.JWTExpired) return { reason: "expired", description: "the token has expired" }
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === "iss")
      return { reason: "wrong issuer", description: "the token's issuer is not accepted" }
    if (error.claim === "aud")
      return { reason: "wrong audience", description: "the token was not issued for this server (audience)" }
    return { reason: "invalid token", description: `the token's ${error.claim} claim is not valid` }
  }
  if (error instanceof errors.JWKSNoMatchingKey)
    return { reason: "unknown signing key", description: "the token's signing key is not the issuer's" }
  if (error instanceof errors.JWSSignatureVerificationFailed)
    return { reason: "bad signature", description: "the token's signature is not valid" }
  return { reason: "invalid token", description: "the token is not a valid JWT" }
}

const makeOidc = (oidc: Oidc, serverName: string): Authenticator => {
  let jwks: Promise<ReturnType<typeof createRemoteJWKSet>> | undefined
  const keys = () => {
    jwks ??= (
      oidc.jwksUri === undefined ? discoverJwksUri(oidc.issuer) : Promise.resolve(new URL(oidc.jwksUri))
    )
      .then((url) =>
        createRemoteJWKSet(url, { cooldownDuration: oidc.jwksCooldown, timeoutDuration: 10_000 })
      )
      .catch((error: unknown) => {
        // Not cached: the next request tries the discovery again.
        jwks = undefined
        throw error
      })
    return jwks
  }
  const resourceOf = (resource: string) => oidc.resource ?? resource
  return {
    mode: "oidc",
    authenticate: async (headers, requested) => {
      const resource = resourceOf(requested)
      const metadata = ["resource_metadata", resourceMetadataUrl(resource)] as const
      const token = bearerToken(headers.authorization)
      if (token === undefined)
        return refuse(
          401,
          "missing token",
          "Unauthorized: send Authorization: Bearer <token>",
          challenge([metadata])
        )
      const invalid = (reason: AuthFailureReason, description: string) =>
        refuse(
          401,
          reason,
          `Unauthorized: ${description}`,
          challenge([["error", "invalid_token"], ["error_description", description], metadata])
        )
      if (token === null) return invalid("malformed header", "the Authorization header is not Bearer <token>")
      let payload: JWTPayload
      try {
        const set = await keys()
        payload = (
          await jwtVerify(token, set, {
            issuer: oidc.issuer,
            audience: oidc.audience,
            clockTolerance: oidc.clockSkew / 1000,
            algorithms: JWT_ALGORITHMS
          })
        ).payload
      } catch (error) {
        if (
          error instanceof errors.JWKSTimeout ||
          error instanceof errors.JWKSInvalid ||
          !(error instanceof errors.JOSEError)
        )
          return refuse(
            503,
            "issuer unreachable",
            "Service Unavailable: the token issuer's keys cannot be fetched now"
          )
        const { reason, description } = failureOf(error)
        return invalid(reason, description)
      }
      const scopes = scopesOf(payload)
      const missing = oidc.requiredScopes.filter((s) => !scopes.has(s))
      if (missing.length > 0)
        return refuse(
          403,
          "insufficient scope",
          `Forbidden: the token lacks scope ${missing.join(" ")}`,
          challenge([
            ["error", "insufficient_scope"],
            ["scope", oidc.requiredScopes.join(" ")],
            ["error_description", `the token lacks scope ${missing.join(" ")}`],
            metadata
          ])
        )
      return { ok: true }
    },
    metadata: (requested) => ({
      resource: resourceOf(requested),
      authorization_servers: [oidc.issuer],
      scopes_supported: oidc.requiredScopes,
      bearer_methods_supported: ["header"],
      resource_name: serverName
    })
  }
}

/**
 * The authenticator `auth` asks for, or `undefined` for `mode: none`. Bearer token files are read
 * now: an unreadable one throws a `TokenFileError` naming the field (the CLI exits 2).
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import { decodeConfig, makeAuthenticator } from "@vmcp-status/vmcp"
 *
 * const config = Effect.runSync(
 *   decodeConfig({ auth: { mode: "oidc", oidc: { issuer: "https://idp.example", audience: "vmcp" } } }, "inline")
 * )
 * const auth = makeAuthenticator(config)
 * ```
 */
export const makeAuthenticator = (config: VmcpConfig, baseDir?: string): Authenticator | undefined => {
  const { auth } = config
  if (auth.mode === "bearer") return makeBearer(auth.bearer?.tokenFiles ?? [], baseDir)
  if (auth.mode === "oidc" && auth.oidc !== undefined) return makeOidc(auth.oidc, config.name)
  return undefined
}

/**
 * Counts refused requests and logs them at most once per `windowMs`: the first at once, the rest
 * as counts by reason. A flood of bad tokens cannot flood the log; no token ever reaches it.
 */
export const makeAuthFailureLog = (
  log: (message: string) => void,
  options: { readonly windowMs?: number; readonly now?: () => number } = {}
) => {
  const windowMs = options.windowMs ?? 60_000
  const now = options.now ?? Date.now
  let counts = new Map<AuthFailureReason, number>()
  let loggedAt: number | undefined
  let timer: NodeJS.Timeout | undefined
  const flush = () => {
    timer = undefined
    if (counts.size === 0) return
    const total = [...counts.values()].reduce((a, b) => a + b, 0)
    const reasons = [...counts].map(([r, n]) => `${r} ${n}`).join(", ")
    log(`auth: refused ${total} request(s) to /mcp (${reasons})`)
    counts = new Map()
    loggedAt = now()
  }
  return {
    record: (reason: AuthFailureReason) => {
      counts.set(reason, (counts.get(reason) ?? 0) + 1)
      if (loggedAt === undefined || now() - loggedAt >= windowMs) flush()
      else if (timer === undefined) {
        timer = setTimeout(flush, loggedAt + windowMs - now())
        timer.unref()
      }
    },
    close: () => {
      if (timer !== undefined) clearTimeout(timer)
      flush()
    }
  }
}
