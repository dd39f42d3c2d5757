/**
 * The bad-input catalogue: every bad input we know, through the public entry points, with the
 * error class and a fragment of the message a user reads, or the bounded and marked truncation.
 */

import { spawnSync } from "node:child_process"
import { mkdtempSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { deriveStatus, InvalidStatusError, redactText, redactUrl, start } from "@vmcp-status/core"
import { validateBackends } from "@vmcp-status/health"
import { resolveTarget, toStatusPayload } from "@vmcp-status/k8s"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"

const CLI = join(
  dirname(createRequire(import.meta.url).resolve("@vmcp-status/vmcp/package.json")),
  "dist",
  "cli.js"
)

/** `vmcp validate --config <file>` on `content`, as a user runs it. */
const validate = (content: string, env: Record<string, string> = {}) => {
  const file = join(mkdtempSync(join(tmpdir(), "vmcp-bad-")), "vmcp.yaml")
  writeFileSync(file, content)
  const run = spawnSync(process.execPath, [CLI, "validate", "--config", file], {
    encoding: "utf8",
    env: { ...env, NO_COLOR: "1" }
  })
  return { code: run.status, stderr: run.stderr, stdout: run.stdout }
}

/** Runs an Effect expected to fail; returns the error's tag and message. */
const failure = (effect: Effect.Effect<unknown, unknown>) => {
  const error = Effect.runSync(Effect.flip(effect)) as { _tag?: string; message?: string }
  return { tag: error._tag, message: String(error.message) }
}

describe("bad input catalogue", () => {
  it.each([
    ["port out of range", "listen: { port: 99999 }", "listen.port", "between 0 and 65535"],
    [
      "unknown transport",
      "backends: [{ name: a, transport: sse, url: 'http://x' }]",
      "backends[0].transport",
      "sse"
    ],
    ["missing url", "backends: [{ name: a, transport: streamable-http }]", "backends[0].url", "missing"],
    ["bad duration", "health: { interval: soon }", "health.interval", "soon"],
    [
      "backend name not DNS-1123",
      "backends: [{ name: Bad_Name, transport: stdio, command: node }]",
      "backends[0].name",
      "Bad_Name"
    ],
    ["unknown key", "listn: { port: 1 }", "listn", ""],
    ["not a mapping", "- a list", "", ""],
    ["not YAML", "listen: { port: [", "", ""]
  ])("config file, %s: `vmcp validate` exits 2 naming %s", (_name, content, path, found) => {
    const { code, stderr } = validate(content)
    expect(code).toBe(2)
    expect(stderr).toContain("vmcp.yaml")
    expect(stderr).toContain(path)
    expect(stderr).toContain(found)
  })

  // Issue 13: each used to validate (or die with exit 1, or print a secret); each now exits 2,
  // naming the field and the fix, and no planted secret reaches the output.
  it.each([
    [
      "credentials in the URL",
      "backends: [{ name: a, transport: streamable-http, url: 'https://alice:s3cret-pw@mcp.example.com/mcp' }]",
      ["backends[0].url", "move the credentials to `headers`"]
    ],
    [
      "an unset environment variable",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the config syntax under test
      "backends: [{ name: a, transport: streamable-http, url: 'https://mcp.example.com/mcp', headers: { authorization: 'Bearer ${API_TOKEN}', x-key: s3cret-header } }]",
      ["backends[0].headers.authorization: environment variable API_TOKEN is not set", "export API_TOKEN="]
    ],
    [
      "a duration past what a timer holds",
      "calls: { timeout: 600h }",
      ["calls.timeout", "at most 2147483647 ms"]
    ],
    [
      "a drain longer than the shutdown budget",
      "shutdown: { drainTimeout: 30s }",
      ["shutdown.drainTimeout", "at most 5s"]
    ],
    [
      "a YAML alias bomb",
      [
        "a: &a [s3cret-lol, s3cret-lol, s3cret-lol, s3cret-lol, s3cret-lol, s3cret-lol, s3cret-lol, s3cret-lol]",
        ...["b", "c", "d", "e", "f", "g"].map(
          (k, i) => `${k}: &${k} [${Array(8).fill(`*${"abcdef"[i]}`).join(", ")}]`
        )
      ].join("\n"),
      ["(line ", "alias"]
    ],
    [
      "args given as a string",
      "backends: [{ name: a, transport: stdio, command: node, args: '--token=s3cret-arg', env: [S3CRET=s3cret-env] }]",
      ["backends[0].args", "backends[0].env", "not shown"]
    ],
    [
      "schema and cross-field problems at once",
      "listen: { port: 99999 }\nbackends: [{ name: a, transport: stdio, command: node }, { name: a, transport: stdio, command: node, headers: { k: s3cret-h } }]",
      ["listen.port", "backends[1].name", "a name no other backend uses"]
    ]
  ])(
    "config trap, %s: `vmcp validate` exits 2, names the field and the fix, prints no secret",
    (_name, content, fragments) => {
      const { code, stderr, stdout } = validate(content, { UNRELATED: "s3cret-env-var" })
      expect(code).toBe(2)
      expect(stderr).toContain("vmcp.yaml")
      for (const fragment of fragments) expect(stderr).toContain(fragment)
      expect(stderr + stdout).not.toContain("s3cret")
      expect(stderr).not.toMatch(/^\s+at /m)
    }
  )

  it.each([
    ["VMCP_NAME with capitals", { VMCP_NAME: "My_VMCP", VMCP_NAMESPACE: "tools" }, "VMCP_NAME", "DNS-1123"],
    ["VMCP_NAME missing", { VMCP_NAMESPACE: "tools" }, "VMCP_NAME", "VMCP_NAME"],
    ["VMCP_NAMESPACE too long", { VMCP_NAME: "ok", VMCP_NAMESPACE: "n".repeat(64) }, "VMCP_NAMESPACE", "63"],
    ["VMCP_NAMESPACE empty", { VMCP_NAME: "ok", VMCP_NAMESPACE: "" }, "VMCP_NAMESPACE", "namespace"]
  ])("environment, %s: InvalidTargetError naming %s", (_name, env, field, fragment) => {
    const { tag, message } = failure(resolveTarget({}, env))
    expect(tag).toBe("InvalidTargetError")
    expect(message).toContain(field)
    expect(message).toContain(fragment)
  })

  it.each([
    ["not a URL", { name: "a", transport: "streamable-http", url: "not a url" }, "backends[0].url"],
    ["ftp scheme", { name: "a", transport: "http", url: "ftp://127.0.0.1/x" }, "backends[0].url"],
    ["no transport", { name: "a", url: "http://127.0.0.1/mcp" }, "backends[0].transport"],
    ["no name", { transport: "stdio", command: "node" }, "backends[0].name"]
  ])("backend, %s: InvalidHealthConfig naming %s", (_name, backend, field) => {
    const { tag, message } = failure(validateBackends([backend]))
    expect(tag).toBe("InvalidHealthConfig")
    expect(message).toContain(field)
  })

  it.each([
    ["userinfo", "https://alice:s3cret@mcp.example.com/mcp", "s3cret"],
    ["token query", "https://mcp.example.com/mcp?token=abc123&x=1", "abc123"],
    ["api_key query", "https://mcp.example.com/mcp?api_key=k-42", "k-42"],
    ["password query", "https://mcp.example.com/mcp?password=hunter2", "hunter2"],
    ["client_secret query", "https://mcp.example.com/mcp?client_secret=zzz", "zzz"]
  ])("credentials in a URL, %s, never survive redaction", (_name, url, secret) => {
    expect(redactUrl(url)).not.toContain(secret)
    expect(redactText(`connect ${url} failed`)).not.toContain(secret)
  })

  it("a status with a malformed field is refused by name, and the publisher keeps the last good one", async () => {
    const publisher = await start({ reporters: [] })
    expect(() => publisher.update({ phase: "Sideways" })).toThrow(InvalidStatusError)
    expect(() => publisher.update({ phase: "Sideways" })).toThrow(/phase/)
    await publisher.stop()
  })

  it("a status too large for the object is cut to the bound with a marker, counts kept exact", () => {
    const backends = Array.from({ length: 5_000 }, (_, i) => ({
      name: `backend-${String(i).padStart(5, "0")}`,
      transport: "streamable-http" as const,
      health: "unhealthy" as const,
      message: `connection refused ${"x".repeat(200)}`,
      toolCount: 3,
      consecutiveFailures: 3,
      circuit: "open" as const,
      lastTransitionTime: "2026-11-27T00:00:00Z"
    }))
    const status = deriveStatus({ backends, initialRoundComplete: true, now: "2026-11-27T00:00:00Z" })
    const maxBytes = 1024 * 1024
    const payload = toStatusPayload(status, { mode: "full", maxBytes })
    expect(Buffer.byteLength(JSON.stringify(payload))).toBeLessThanOrEqual(maxBytes)
    expect(payload.discoveredBackends.length).toBeLessThan(5_000)
    expect(payload.message).toContain(`of 5000 backends listed`)
    expect(payload.unhealthyBackends).toBe(5_000)
    expect(payload.backendCount).toBe(0) // toolhive's meaning: ready + unauthenticated
  })
})
