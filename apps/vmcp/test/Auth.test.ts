/**
 * Who may use `/mcp`: `vmcp serve` (in this process) on loopback with `auth.mode` bearer or oidc,
 * a real MCP backend, the real MCP SDK client (its `AuthProvider`, its WWW-Authenticate parser and
 * its RFC 9728 discovery), plain `fetch` for the refusals, and for oidc a real issuer: a small
 * node:http server on 127.0.0.1 serving OpenID discovery and a JWKS, with JWTs signed by `jose`.
 */

import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Writable } from "node:stream"
import {
  Client,
  discoverOAuthProtectedResourceMetadata,
  extractWWWAuthenticateParams,
  StreamableHTTPClientTransport
} from "@modelcontextprotocol/client"
import { eventually, startMcpBackend } from "@vmcp-status/testkit"
import { Effect, Exit } from "effect"
import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose"
import { afterEach, describe, expect, it } from "vitest"
import { decodeConfig } from "../src/Config.ts"
import { serve } from "../src/cli/ServeCommand.ts"
import { makeAuthFailureLog, makeTokenStore } from "../src/server/Auth.ts"
import { runServer } from "../src/server/Serve.ts"
import { selectReporters } from "../src/status/Reporters.ts"
import { serveInProcess } from "./inProcess.ts"

const cleanups: Array<() => Promise<unknown> | unknown> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "vmcp-auth-"))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** A stream that keeps what is written, as lines. */
const capture = () => {
  const lines: Array<string> = []
  let buffer = ""
  const stream = new Writable({
    write: (chunk: Buffer, _encoding, done) => {
      buffer += chunk.toString("utf8")
      const parts = buffer.split("\n")
      buffer = parts.pop() ?? ""
      lines.push(...parts)
      done()
    }
  })
  return { stream, lines, text: () => [...lines, buffer].join("\n") }
}

interface App {
  readonly url: string
  readonly admin: string
  readonly log: () => string
}

/** `vmcp serve` in this process (JSON log, port 0, admin port 0), one tool backend; resolves once it serves. */
const startApp = async (config: Record<string, unknown>): Promise<App> => {
  const web = await startMcpBackend({ name: "web", tools: [{ name: "search", text: "found it" }] })
  cleanups.push(() => web.close())
  const { found, log } = await serveInProcess({
    config: { backends: [{ name: "web", transport: "streamable-http", url: web.url }], ...config },
    until: (text) => {
      const match = /serving MCP at (\S+)\/mcp .*admin at (http:\/\/[^\s/]+)/.exec(text)
      return match === null ? undefined : ([match[1]!, match[2]!] as const)
    },
    cleanups
  })
  const [url, admin] = found
  // The backend's tools are routed after the first health round.
  await eventually("the tools to be routable", async () => {
    const res = await fetch(`${admin}/readyz`)
    return res.status === 200 ? true : undefined
  })
  return { url, admin, log }
}

const connect = async (url: string, token: () => string | undefined) => {
  const client = new Client({ name: "auth-test", version: "0.0.0" })
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${url}/mcp`), { authProvider: { token: async () => token() } })
  )
  cleanups.push(() => client.close())
  return client
}

const toolNames = async (client: Client) =>
  (await client.listTools(undefined, { cacheMode: "bypass" })).tools.map((t) => t.name)

/** A plain `initialize`, with the given `Authorization`, as any HTTP client would send it. */
const initialize = (url: string, authorization?: string) =>
  fetch(`${url}/mcp`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      ...(authorization === undefined ? {} : { authorization })
    },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "curl", version: "0" } }
    })
  })

/**
 * A token directory laid out as kubelet mounts a Secret: `token` → `..data/token`, `..data` a
 * symlink to a timestamped folder; an update writes a new folder and swaps the link atomically.
 */
const secretVolume = (token: string) => {
  const dir = tempDir()
  let generation = 0
  const write = (value: string) => {
    generation += 1
    const folder = `..${generation}`
    mkdirSync(join(dir, folder))
    writeFileSync(join(dir, folder, "token"), `${value}\n`)
    symlinkSync(folder, join(dir, "..data_tmp"))
    renameSync(join(dir, "..data_tmp"), join(dir, "..data"))
  }
  write(token)
  symlinkSync("..data/token", join(dir, "token"))
  return { file: join(dir, "token"), write }
}

describe("auth.mode bearer: tokens from files, compared in constant time, re-read on change", () => {
  it("no token gets 401 with WWW-Authenticate Bearer; a wrong one 401 invalid_token; the SDK client with the token lists the tools", async () => {
    const secret = secretVolume("tok-alpha-0123456789")
    const app = await startApp({ auth: { mode: "bearer", bearer: { tokenFiles: [secret.file] } } })

    const none = await initialize(app.url)
    expect(none.status).toBe(401)
    expect(none.headers.get("www-authenticate")).toBe('Bearer realm="vmcp"')
    expect(extractWWWAuthenticateParams(none).error).toBeUndefined()
    const wrong = await initialize(app.url, "Bearer not-the-token")
    expect(wrong.status).toBe(401)
    expect(extractWWWAuthenticateParams(wrong).error).toBe("invalid_token")
    expect(await wrong.json()).toMatchObject({ jsonrpc: "2.0", error: { code: -32000 } })
    // A token of another length: the comparison is over hashes, so it is simply refused.
    expect((await initialize(app.url, `Bearer ${"x".repeat(500)}`)).status).toBe(401)

    await expect(connect(app.url, () => undefined)).rejects.toThrow(/401|Unauthorized/i)
    const client = await connect(app.url, () => "tok-alpha-0123456789")
    expect(await toolNames(client)).toEqual(["web_search"])
    expect((await client.callTool({ name: "web_search" })).content).toEqual([
      { type: "text", text: "found it" }
    ])

    // Refusals are logged, counted by reason; the tokens are not.
    await eventually("the refusal log line", () =>
      /auth: refused \d+ request/.test(app.log()) ? true : undefined
    )
    expect(app.log()).not.toContain("not-the-token")
    expect(app.log()).not.toContain("tok-alpha")
  })

  it("a rotated Secret (symlink swap): the old token is refused and the new one accepted, without a restart", async () => {
    const secret = secretVolume("old-token-aaaaaaaa")
    const app = await startApp({ auth: { mode: "bearer", bearer: { tokenFiles: [secret.file] } } })
    let token = "old-token-aaaaaaaa"
    const client = await connect(app.url, () => token)
    expect(await toolNames(client)).toEqual(["web_search"])

    secret.write("new-token-bbbbbbbb")
    await eventually("the old token to be refused", async () =>
      (await initialize(app.url, "Bearer old-token-aaaaaaaa")).status === 401 ? true : undefined
    )
    const fresh = await initialize(app.url, "Bearer new-token-bbbbbbbb")
    expect(fresh.status).toBe(200)
    await fresh.body?.cancel()
    token = "new-token-bbbbbbbb"
    const rotated = await connect(app.url, () => token)
    expect(await toolNames(rotated)).toEqual(["web_search"])
  })

  it("several tokens, one per line (blank lines and # comments skipped), in several files", () => {
    const dir = tempDir()
    writeFileSync(join(dir, "a"), "# clients\nfirst-token\n\n  second-token  \n")
    writeFileSync(join(dir, "b"), "third-token")
    const store = makeTokenStore([join(dir, "a"), join(dir, "b")])
    expect(store.count()).toBe(3)
    for (const token of ["first-token", "second-token", "third-token"])
      expect(store.matches(token)).toBe(true)
    for (const token of ["# clients", "", "first", "first-token2"]) expect(store.matches(token)).toBe(false)
  })

  it("a missing token file or one with no token: exit 2 naming auth.bearer.tokenFiles", async () => {
    const dir = tempDir()
    writeFileSync(join(dir, "empty"), "\n# nothing yet\n")
    for (const [file, want] of [
      [join(dir, "missing"), /auth\.bearer\.tokenFiles\[0\]: cannot read .*missing \(ENOENT\)/],
      [join(dir, "empty"), /auth\.bearer\.tokenFiles: .*hold no token/]
    ] as const) {
      const out = capture()
      const config = Effect.runSync(
        decodeConfig({ listen: { port: 0 }, auth: { mode: "bearer", bearer: { tokenFiles: [file] } } }, "t")
      )
      const selection = selectReporters({ env: {}, reporters: "log" })
      if (typeof selection === "string") throw new Error(selection)
      const code = await runServer({
        config,
        selection,
        io: { stdout: out.stream, stderr: out.stream, env: {} },
        stopSignal: new Promise(() => undefined),
        hardExit: false
      })
      expect(code).toBe(2)
      expect(out.text()).toMatch(want)
    }
  })

  it("the failure log: the first refusal at once, the rest counted by reason once per window", () => {
    const logged: Array<string> = []
    let now = 0
    const log = makeAuthFailureLog((m) => logged.push(m), { windowMs: 60_000, now: () => now })
    log.record("missing token")
    expect(logged).toEqual(["auth: refused 1 request(s) to /mcp (missing token 1)"])
    log.record("unknown token")
    log.record("unknown token")
    now = 60_000
    log.record("missing token")
    expect(logged[1]).toBe("auth: refused 3 request(s) to /mcp (unknown token 2, missing token 1)")
    log.close()
  })
})

/** An OpenID issuer on 127.0.0.1: discovery document and JWKS; the keys can be swapped. */
const startIssuer = async () => {
  let keys: Array<JWK> = []
  let jwksFetches = 0
  const server = createServer((req, res) => {
    const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    if (req.url === "/.well-known/openid-configuration") {
      res.writeHead(200, { "content-type": "application/json" })
      res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks` }))
    } else if (req.url === "/jwks") {
      jwksFetches += 1
      res.writeHead(200, { "content-type": "application/json" })
      res.end(JSON.stringify({ keys }))
    } else {
      res.writeHead(404).end()
    }
  })
  server.keepAliveTimeout = 60_000
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  )
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const newKey = async (kid: string) => {
    const { publicKey, privateKey } = await generateKeyPair("ES256")
    const jwk = { ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" }
    return { kid, jwk, privateKey }
  }
  type Key = Awaited<ReturnType<typeof newKey>>
  const sign = (
    key: Key,
    claims: { iss?: string; aud?: string; exp?: number; scope?: string } = {}
  ): Promise<string> => {
    const now = Math.floor(Date.now() / 1000)
    return new SignJWT(claims.scope === undefined ? {} : { scope: claims.scope })
      .setProtectedHeader({ alg: "ES256", kid: key.kid })
      .setIssuer(claims.iss ?? issuer)
      .setAudience(claims.aud ?? "vmcp-test")
      .setSubject("user-1")
      .setIssuedAt(now - 60)
      .setExpirationTime(claims.exp ?? now + 600)
      .sign(key.privateKey)
  }
  return {
    issuer,
    newKey,
    sign,
    publish: (...published: Array<Key>) => {
      keys = published.map((k) => k.jwk)
    },
    jwksFetches: () => jwksFetches
  }
}

describe("auth.mode oidc: JWTs of the issuer, checked against its JWKS (MCP authorization spec)", () => {
  const oidcApp = async (extra: Record<string, unknown> = {}) => {
    const idp = await startIssuer()
    const key = await idp.newKey("key-1")
    idp.publish(key)
    const app = await startApp({
      auth: {
        mode: "oidc",
        oidc: { issuer: idp.issuer, audience: "vmcp-test", jwksCooldown: "1ms", ...extra }
      }
    })
    return { idp, key, app }
  }

  it("no token: 401 whose resource_metadata leads the SDK to RFC 9728 metadata naming the issuer", async () => {
    const { idp, app } = await oidcApp({ requiredScopes: ["mcp:tools"] })
    const none = await initialize(app.url)
    expect(none.status).toBe(401)
    const params = extractWWWAuthenticateParams(none)
    expect(params.error).toBeUndefined()
    expect(params.resourceMetadataUrl?.href).toBe(`${app.url}/.well-known/oauth-protected-resource/mcp`)

    const expected = {
      resource: `${app.url}/mcp`,
      authorization_servers: [idp.issuer],
      scopes_supported: ["mcp:tools"],
      bearer_methods_supported: ["header"]
    }
    const viaHeader = await discoverOAuthProtectedResourceMetadata(`${app.url}/mcp`, {
      resourceMetadataUrl: params.resourceMetadataUrl!
    })
    expect(viaHeader).toMatchObject(expected)
    // The well-known locations a client tries without the header: path-suffixed, then the root.
    expect(await discoverOAuthProtectedResourceMetadata(`${app.url}/mcp`)).toMatchObject(expected)
    const root = await fetch(`${app.url}/.well-known/oauth-protected-resource`)
    expect(root.status).toBe(200)
    expect(await root.json()).toMatchObject(expected)
  })

  it("a valid token lists the tools; expired, wrong audience, wrong issuer and foreign keys get 401 invalid_token", async () => {
    const { idp, key, app } = await oidcApp()
    const good = await idp.sign(key)
    const client = await connect(app.url, () => good)
    expect(await toolNames(client)).toEqual(["web_search"])

    const stranger = await idp.newKey("key-1") // same kid, another key: not the issuer's signature
    const now = Math.floor(Date.now() / 1000)
    const cases = [
      ["expired", await idp.sign(key, { exp: now - 3600 }), /expired/],
      ["wrong audience", await idp.sign(key, { aud: "another-server" }), /audience/],
      ["wrong issuer", await idp.sign(key, { iss: "http://127.0.0.1:1/evil" }), /issuer/],
      ["foreign key", await idp.sign(stranger), /signature/],
      ["not a JWT", "abc.def.ghi", /not a valid JWT/]
    ] as const
    for (const [name, token, description] of cases) {
      const res = await initialize(app.url, `Bearer ${token}`)
      expect(res.status, name).toBe(401)
      const params = extractWWWAuthenticateParams(res)
      expect(params.error, name).toBe("invalid_token")
      expect(params.errorDescription, name).toMatch(description)
      expect(params.resourceMetadataUrl?.href, name).toBe(
        `${app.url}/.well-known/oauth-protected-resource/mcp`
      )
    }
    expect(app.log()).toMatch(/auth: refused/)
    for (const [, token] of cases) expect(app.log()).not.toContain(token)
  })

  it("within the clock skew an expired token still passes (30 s by default)", async () => {
    const { idp, key, app } = await oidcApp()
    const now = Math.floor(Date.now() / 1000)
    const res = await initialize(app.url, `Bearer ${await idp.sign(key, { exp: now - 5 })}`)
    expect(res.status).toBe(200)
    await res.body?.cancel()
  })

  it("key rotation: a token with a new kid makes vmcp refetch the JWKS; the retired key is refused after it", async () => {
    const { idp, key, app } = await oidcApp()
    const old = await idp.sign(key)
    const first = await initialize(app.url, `Bearer ${old}`)
    expect(first.status).toBe(200)
    await first.body?.cancel()
    const fetchesBefore = idp.jwksFetches()

    const next = await idp.newKey("key-2")
    idp.publish(next)
    const rotated = await idp.sign(next)
    const client = await connect(app.url, () => rotated)
    expect(await toolNames(client)).toEqual(["web_search"])
    expect(idp.jwksFetches()).toBeGreaterThan(fetchesBefore)

    const retired = await initialize(app.url, `Bearer ${old}`)
    expect(retired.status).toBe(401)
    expect(extractWWWAuthenticateParams(retired).errorDescription).toMatch(/signing key/)
  })

  it("requiredScopes: a token without them gets 403 insufficient_scope naming the scope", async () => {
    const { idp, key, app } = await oidcApp({ requiredScopes: ["mcp:tools"] })
    const res = await initialize(app.url, `Bearer ${await idp.sign(key, { scope: "openid profile" })}`)
    expect(res.status).toBe(403)
    const params = extractWWWAuthenticateParams(res)
    expect(params).toMatchObject({ error: "insufficient_scope", scope: "mcp:tools" })
    const scoped = await idp.sign(key, { scope: "openid mcp:tools" })
    const client = await connect(app.url, () => scoped)
    expect(await toolNames(client)).toEqual(["web_search"])
  })

  it("an explicit auth.oidc.resource and jwksUri: the metadata names that resource", async () => {
    const idp = await startIssuer()
    const key = await idp.newKey("k")
    idp.publish(key)
    const app = await startApp({
      auth: {
        mode: "oidc",
        oidc: {
          issuer: idp.issuer,
          audience: "vmcp-test",
          jwksUri: `${idp.issuer}/jwks`,
          resource: "https://vmcp.example.com/mcp"
        }
      }
    })
    const none = await initialize(app.url)
    expect(extractWWWAuthenticateParams(none).resourceMetadataUrl?.href).toBe(
      "https://vmcp.example.com/.well-known/oauth-protected-resource/mcp"
    )
    const metadata = await (await fetch(`${app.url}/.well-known/oauth-protected-resource/mcp`)).json()
    expect(metadata).toMatchObject({ resource: "https://vmcp.example.com/mcp" })
    const ok = await initialize(app.url, `Bearer ${await idp.sign(key)}`)
    expect(ok.status).toBe(200)
    await ok.body?.cancel()
  })
})

describe("auth.mode none beyond loopback is refused unless said explicitly", () => {
  it("listen.host 0.0.0.0 in the config: exit 2 naming auth.mode, listen.host and the fix", async () => {
    const dir = tempDir()
    const file = join(dir, "vmcp.yaml")
    writeFileSync(file, "listen: { host: 0.0.0.0, port: 0 }\n")
    const out = capture()
    const code = await serve.run({ config: file }, { stdout: out.stream, stderr: out.stream, env: {} })
    expect(code).toBe(2)
    expect(out.text()).toMatch(/auth\.mode.*none.*listen\.host.*"0\.0\.0\.0"/)
    expect(out.text()).toMatch(/auth\.allowUnauthenticated: true/)
  })

  it("--host 0.0.0.0 over a loopback config: exit 2 as well, before listening", async () => {
    const dir = tempDir()
    const file = join(dir, "vmcp.yaml")
    writeFileSync(file, "listen: { port: 0 }\n")
    const out = capture()
    const code = await serve.run(
      { config: file, host: "0.0.0.0", reporters: "log" },
      { stdout: out.stream, stderr: out.stream, env: {} }
    )
    expect(code).toBe(2)
    expect(out.text()).toMatch(/auth\.mode is none while listen\.host is "0\.0\.0\.0"/)
  })

  it("allowUnauthenticated: true, or any auth mode, passes validation on 0.0.0.0; loopback needs neither", () => {
    const ok = (input: unknown) => Exit.isSuccess(Effect.runSyncExit(decodeConfig(input, "t")))
    expect(ok({ listen: { host: "0.0.0.0" }, auth: { mode: "none", allowUnauthenticated: true } })).toBe(true)
    expect(
      ok({ listen: { host: "0.0.0.0" }, auth: { mode: "bearer", bearer: { tokenFiles: ["/t"] } } })
    ).toBe(true)
    expect(
      ok({
        listen: { host: "0.0.0.0" },
        auth: { mode: "oidc", oidc: { issuer: "https://i", audience: "a" } }
      })
    ).toBe(true)
    expect(ok({ listen: { host: "::1" } })).toBe(true)
    expect(ok({ listen: { host: "0.0.0.0" } })).toBe(false)
    expect(ok({ auth: { mode: "bearer" } })).toBe(false)
    expect(ok({ auth: { mode: "oidc" } })).toBe(false)
  })
})

describe("the admin listener: /status and /metrics apart from /mcp", () => {
  it("with auth on, the main listener serves /mcp and the probes only; the admin listener /status, /metrics and the probes, not /mcp", async () => {
    const secret = secretVolume("admin-test-token")
    const app = await startApp({ auth: { mode: "bearer", bearer: { tokenFiles: [secret.file] } } })
    expect(app.admin).not.toBe(app.url)
    for (const path of ["/status", "/metrics"]) {
      const main = await fetch(`${app.url}${path}`)
      expect(main.status, path).toBe(404)
      expect(await main.text(), path).toMatch(/admin listener \(listen\.admin\)/)
      expect((await fetch(`${app.admin}${path}`)).status, path).toBe(200)
    }
    expect(await (await fetch(`${app.admin}/metrics`)).text()).toMatch(/^# HELP /m)
    expect(await (await fetch(`${app.admin}/status`)).json()).toMatchObject({ phase: "Ready" })
    for (const path of ["/healthz", "/readyz"]) {
      expect((await fetch(`${app.url}${path}`)).status, path).toBe(200)
      expect((await fetch(`${app.admin}${path}`)).status, path).toBe(200)
    }
    const mcp = await initialize(app.admin, "Bearer admin-test-token")
    expect(mcp.status).toBe(404)
    // The Origin check holds on the admin listener too.
    expect((await fetch(`${app.admin}/status`, { headers: { origin: "http://evil.example" } })).status).toBe(
      403
    )
  })

  it("with auth.mode none on loopback, the main listener keeps /status and /metrics (one port for local use)", async () => {
    const app = await startApp({})
    expect((await fetch(`${app.url}/status`)).status).toBe(200)
    expect((await fetch(`${app.url}/metrics`)).status).toBe(200)
    expect((await fetch(`${app.admin}/status`)).status).toBe(200)
    expect(await (await initialize(app.url)).text()).toContain("serverInfo")
  })

  it("listen.admin.port defaults to listen.port + 1", () => {
    const config = Effect.runSync(decodeConfig({ listen: { port: 5000 } }, "t"))
    expect(config.listen.admin).toEqual({ host: "127.0.0.1" })
    return import("../src/Config.ts").then(({ adminListen }) => {
      expect(adminListen(config.listen)).toEqual({ host: "127.0.0.1", port: 5001 })
      expect(adminListen({ ...config.listen, port: 0 })).toEqual({ host: "127.0.0.1", port: 0 })
    })
  })
})
