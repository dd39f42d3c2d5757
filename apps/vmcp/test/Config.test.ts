import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Writable } from "node:stream"
import { Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import { type ConfigError, decodeConfig, expandEnv, loadVmcpConfig, parseDuration } from "../src/Config.ts"
import { runCli } from "../src/cli/Commands.ts"

const failure = (input: unknown): ConfigError => {
  const exit = Effect.runSync(Effect.exit(decodeConfig(input, "test.yaml")))
  if (Exit.isSuccess(exit)) throw new Error("expected the config to be rejected")
  const reason = exit.cause.reasons[0]
  if (reason?._tag !== "Fail") throw new Error("expected a ConfigError")
  return reason.error
}

const capture = () => {
  let text = ""
  const stream = new Writable({
    write: (chunk, _enc, done) => {
      text += String(chunk)
      done()
    }
  })
  return { stream, text: () => text }
}

const tempFile = (content: string) => {
  const dir = mkdtempSync(join(tmpdir(), "vmcp-config-"))
  const file = join(dir, "vmcp.yaml")
  writeFileSync(file, content)
  return file
}

describe("config", () => {
  it("fills every operational field with its default", () => {
    const config = Effect.runSync(decodeConfig({}, "empty.yaml"))
    expect(config).toEqual({
      name: "vmcp",
      listen: { host: "127.0.0.1", port: 4483, maxSessions: 1000, admin: { host: "127.0.0.1" } },
      auth: { mode: "none", allowUnauthenticated: false },
      aggregation: { conflictResolution: "prefix", separator: "_", priority: [] },
      calls: { timeout: 30_000 },
      health: {
        interval: 30_000,
        timeout: 10_000,
        unhealthyThreshold: 3,
        slowThreshold: 5_000,
        circuitBreaker: { failureThreshold: 5, openDuration: 60_000, maxOpenDuration: 600_000 }
      },
      status: {
        interval: 30_000,
        log: { mode: "transitions", format: "auto" },
        k8s: { mode: "full", leaderElection: false, slowRetry: 60_000 }
      },
      limits: {
        maxResponseBytes: 16 * 1024 * 1024,
        maxRequestBytesInFlight: 32 * 1024 * 1024,
        maxConcurrentCalls: 64,
        maxConcurrentCallsPerSession: 16,
        maxSessionsPerClient: 32,
        sessionIdleTimeout: 1_800_000
      },
      shutdown: { drainTimeout: 5_000 },
      backends: []
    })
  })

  it("reads the limits section, and names a bad bound with the fix", () => {
    const config = Effect.runSync(
      decodeConfig({ limits: { maxResponseBytes: 1048576, sessionIdleTimeout: "5m" } }, "t.yaml")
    )
    expect(config.limits.maxResponseBytes).toBe(1_048_576)
    expect(config.limits.sessionIdleTimeout).toBe(300_000)
    const error = Effect.runSync(
      Effect.flip(
        decodeConfig(
          { limits: { maxConcurrentCalls: 0, maxSessionsPerClient: "many", sessionIdle: "1m" } },
          "t.yaml"
        )
      )
    )
    expect(error.issues.map((i) => i.path).sort()).toEqual([
      "limits.maxConcurrentCalls",
      "limits.maxSessionsPerClient",
      "limits.sessionIdle"
    ])
    expect(error.message).toContain("limits.maxConcurrentCalls: expected an integer > 0, found 0")
  })

  it("decodes backends with their defaults and durations in any unit", () => {
    const config = Effect.runSync(
      decodeConfig(
        {
          backends: [
            { name: "clock", transport: "stdio", command: "node", callTimeout: "2m" },
            { name: "web", transport: "streamable-http", url: "http://127.0.0.1:9/mcp" }
          ],
          health: { interval: 1500 }
        },
        "t.yaml"
      )
    )
    expect(config.backends[0]).toEqual({
      name: "clock",
      transport: "stdio",
      command: "node",
      args: [],
      env: {},
      headers: {},
      callTimeout: 120_000
    })
    expect(config.health.interval).toBe(1500)
  })

  it("names the path, what was expected and what was found for every problem", () => {
    const error = failure({
      listen: { port: "eighty" },
      health: { interval: "soon" },
      backends: [
        { name: "Clock", transport: "sse" },
        { name: "b", transport: "stdio", comand: "node" }
      ]
    })
    expect(error.issues).toEqual([
      { path: "listen.port", expected: "number", found: '"eighty"' },
      {
        path: "health.interval",
        expected: "a duration such as 500ms, 10s, 5m or a number of milliseconds (> 0)",
        found: '"soon"'
      },
      {
        path: "backends[0].name",
        expected: "a DNS-1123 label: lowercase letters, digits and '-', at most 63, e.g. clock",
        found: '"Clock"'
      },
      { path: "backends[0].transport", expected: '"stdio" | "streamable-http"', found: '"sse"' },
      // An unknown key's value is never shown: it may be a misspelt `headers`.
      {
        path: "backends[1].comand",
        expected: "no such key (check the spelling)",
        found: "a string (not shown)"
      },
      // Cross-field rules run beside the schema's: every problem at once.
      {
        path: "backends[1].command",
        expected: "the program to run for a stdio backend, e.g. command: node",
        found: "nothing (the key is missing)"
      }
    ])
  })

  it("checks rules across fields: transport needs, unique names, known priorities", () => {
    const error = failure({
      aggregation: { priority: ["nope"] },
      backends: [
        { name: "a", transport: "stdio" },
        { name: "a", transport: "streamable-http" }
      ]
    })
    expect(error.issues.map((i) => i.path)).toEqual([
      "backends[0].command",
      "backends[1].name",
      "backends[1].url",
      "aggregation.priority[0]"
    ])
  })

  it("never shows header or env values in an error", () => {
    const error = failure({
      backends: [
        { name: "a", transport: "streamable-http", url: "http://x/mcp", headers: { Authorization: 42 } }
      ]
    })
    expect(error.issues).toEqual([
      { path: "backends[0].headers.Authorization", expected: "string", found: "a number" }
    ])
  })

  it("reports YAML syntax errors and missing files as config errors", () => {
    const bad = Effect.runSync(Effect.flip(loadVmcpConfig(tempFile("backends: [\n"))))
    expect(bad.issues[0]?.expected).toBe("valid YAML")
    const missing = Effect.runSync(Effect.flip(loadVmcpConfig("/nonexistent/vmcp.yaml")))
    expect(missing.issues[0]).toMatchObject({ path: "(file)", found: "no such file" })
  })

  it("parses durations and expands $VAR references from the environment", () => {
    expect([parseDuration("500ms"), parseDuration("1.5s"), parseDuration("2m"), parseDuration(0)]).toEqual([
      500,
      1500,
      120_000,
      undefined
    ])
    const missing: Array<string> = []
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the config syntax under test
    expect(expandEnv("Bearer ${TOKEN}${NOPE}", { TOKEN: "t0k" }, missing)).toBe("Bearer t0k")
    expect(missing).toEqual(["NOPE"])
  })
})

describe("vmcp validate", () => {
  it("exits 2 and prints each problem on stderr, plain when not a TTY", async () => {
    const out = capture()
    const err = capture()
    const file = tempFile("listen:\n  port: 99999\nbackends:\n  - name: a\n    transport: stdio\n")
    const code = await runCli(["validate", "--config", file], {
      stdout: out.stream,
      stderr: err.stream,
      env: {}
    })
    expect(code).toBe(2)
    expect(err.text()).toBe(
      `error: invalid config ${file}\n  listen.port: expected a port between 0 and 65535, found 99999\n` +
        "  backends[0].command: expected the program to run for a stdio backend, e.g. command: node, found nothing (the key is missing)\n"
    )
    expect(err.text()).not.toContain("\u001b[")
  })

  it("exits 0 with a summary for a valid file", async () => {
    const out = capture()
    const err = capture()
    const file = tempFile("backends:\n  - name: clock\n    transport: stdio\n    command: node\n")
    const code = await runCli(["validate", "-c", file], { stdout: out.stream, stderr: err.stream, env: {} })
    expect(code).toBe(0)
    expect(out.text()).toContain(`ok: ${file} is valid`)
    expect(out.text()).toContain("clock (stdio)")
  })

  it("has --help, and unknown flags are usage errors", async () => {
    const out = capture()
    const err = capture()
    const io = { stdout: out.stream, stderr: err.stream, env: {} }
    expect(await runCli(["validate", "--help"], io)).toBe(0)
    expect(out.text()).toContain("Usage: vmcp validate --config <file>")
    expect(await runCli(["validate", "--nope"], io)).toBe(2)
    expect(await runCli(["--help"], io)).toBe(0)
    expect(out.text()).toContain("Commands:")
  })
})

describe("vmcp serve with bad input", () => {
  it("exits 2 before starting anything: bad config, bad port, unknown reporter", async () => {
    const err = capture()
    const io = { stdout: capture().stream, stderr: err.stream, env: {} }
    const bad = tempFile("backends:\n  - name: a\n    transport: stdio\n")
    expect(await runCli(["serve", "--config", bad], io)).toBe(2)
    expect(err.text()).toContain("backends[0].command: expected the program to run for a stdio backend")
    const good = tempFile("listen: { port: 0 }\n")
    expect(await runCli(["serve", "--config", good, "--port", "http"], io)).toBe(2)
    expect(err.text()).toContain('--port must be a port between 0 and 65535, got "http"')
    expect(await runCli(["serve", "--config", good, "--reporters", "log,statsd"], io)).toBe(2)
    expect(err.text()).toContain('--reporters: unknown reporter "statsd"')
  })
})

const bomb = [
  'lol: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]',
  "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]",
  "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]",
  "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]",
  "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]",
  "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]",
  "g: [*f, *f, *f, *f, *f, *f, *f, *f, *f]",
  ""
].join("\n")

describe("config traps (issue 13)", () => {
  const http = (extra: Record<string, unknown>) => ({
    backends: [{ name: "a", transport: "streamable-http", url: "http://127.0.0.1:9/mcp", ...extra }]
  })

  it("refuses a URL with credentials, says to move them to headers, and never echoes them", () => {
    const error = failure(http({ url: "https://alice:s3cret@mcp.example.com/mcp" }))
    expect(error.issues).toHaveLength(1)
    expect(error.issues[0]?.path).toBe("backends[0].url")
    expect(error.issues[0]?.expected).toContain("move the credentials to `headers`")
    expect(error.issues[0]?.expected).toContain("authorization: Basic")
    expect(JSON.stringify(error.issues)).not.toContain("s3cret")
    expect(error.message).not.toContain("s3cret")
  })

  it("names an unset environment variable and the field that uses it; a set one passes", () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the config syntax under test
    const reference = "Bearer ${API_TOKEN}"
    const input = http({ headers: { authorization: reference, "x-team": "core" } })
    const exit = Effect.runSync(Effect.exit(decodeConfig(input, "t.yaml", { env: {} })))
    if (Exit.isSuccess(exit)) throw new Error("expected the unset variable to be rejected")
    const reason = exit.cause.reasons[0]
    if (reason?._tag !== "Fail") throw new Error("expected a ConfigError")
    expect(reason.error.issues).toHaveLength(1)
    expect(reason.error.issues[0]?.path).toBe("backends[0].headers.authorization")
    expect(reason.error.message).toContain(
      "backends[0].headers.authorization: environment variable API_TOKEN is not set"
    )
    expect(reason.error.message).toContain("export API_TOKEN=")
    const ok = Effect.runSync(decodeConfig(input, "t.yaml", { env: { API_TOKEN: "t0k" } }))
    expect(ok.backends[0]?.headers.authorization).toBe(reference)
  })

  it("bounds every duration to what a timer holds (2147483647 ms) and says the maximum", () => {
    const fields: ReadonlyArray<[string, Record<string, unknown>]> = [
      ["calls.timeout", { calls: { timeout: "600h" } }],
      ["health.interval", { health: { interval: 2_147_483_648 } }],
      ["health.timeout", { health: { timeout: "600h" } }],
      ["health.slowThreshold", { health: { slowThreshold: "600h" } }],
      ["health.circuitBreaker.openDuration", { health: { circuitBreaker: { openDuration: "600h" } } }],
      ["health.circuitBreaker.maxOpenDuration", { health: { circuitBreaker: { maxOpenDuration: "600h" } } }],
      ["status.interval", { status: { interval: "600h" } }],
      ["status.log.summaryInterval", { status: { log: { summaryInterval: "600h" } } }],
      ["status.k8s.slowRetry", { status: { k8s: { slowRetry: "600h" } } }],
      ["backends[0].callTimeout", http({ callTimeout: "600h" })]
    ]
    for (const [path, input] of fields) {
      const error = failure(input)
      expect(error.issues.map((i) => i.path)).toEqual([path])
      expect(error.issues[0]?.expected).toContain("at most 2147483647 ms (about 24.8 days)")
    }
    const edge = Effect.runSync(decodeConfig({ health: { interval: 2_147_483_647 } }, "t.yaml"))
    expect(edge.health.interval).toBe(2_147_483_647)
  })

  it("refuses a shutdown.drainTimeout above the 5 s the shutdown budget allows, instead of cutting it", () => {
    const error = failure({ shutdown: { drainTimeout: "30s" } })
    expect(error.issues).toEqual([
      {
        path: "shutdown.drainTimeout",
        expected: expect.stringContaining("at most 5s"),
        found: '"30s"'
      }
    ])
    expect(
      Effect.runSync(decodeConfig({ shutdown: { drainTimeout: "5s" } }, "t.yaml")).shutdown.drainTimeout
    ).toBe(5000)
  })

  it("turns a YAML alias bomb into a config error naming the file and line, not a defect", () => {
    const file = tempFile(bomb)
    const exit = Effect.runSync(Effect.exit(loadVmcpConfig(file)))
    if (Exit.isSuccess(exit)) throw new Error("expected the alias bomb to be rejected")
    const reason = exit.cause.reasons[0]
    expect(reason?._tag).toBe("Fail")
    if (reason?._tag !== "Fail") return
    expect(reason.error.file).toBe(file)
    expect(reason.error.issues[0]?.path).toMatch(/^\(line \d+, column \d+\)$/)
    expect(reason.error.issues[0]?.expected).toContain("alias")
  })

  it("reports schema and cross-field problems together", () => {
    const error = failure({
      listen: { port: "eighty" },
      backends: [
        { name: "a", transport: "stdio", command: "node" },
        { name: "a", transport: "streamable-http", url: "not a url" }
      ]
    })
    expect(error.issues.map((i) => i.path)).toEqual(["listen.port", "backends[1].name", "backends[1].url"])
  })

  it("never prints args, header, env or url values, nor values under unknown keys or in mappings", () => {
    const error = failure({
      backends: [
        { name: "a", transport: "stdio", command: "node", args: "--token=s3cret-args" },
        { name: "b", transport: "stdio", command: "node", args: ["ok", { token: "s3cret-arg-map" }] },
        { name: "c", transport: "streamable-http", url: "http://x/mcp", headers: "Bearer s3cret-headers" },
        { name: "d", transport: "stdio", command: "node", env: ["TOKEN=s3cret-env"] },
        { name: "e", transport: "streamable-http", url: 7, headrs: { authorization: "Bearer s3cret-typo" } }
      ],
      servers: { github: { headers: { authorization: "Bearer s3cret-excess" } } }
    })
    expect(error.issues.map((i) => i.path).sort()).toEqual([
      "backends[0].args",
      "backends[1].args[1]",
      "backends[2].headers",
      "backends[3].env",
      "backends[4].headrs",
      "backends[4].url",
      "servers"
    ])
    expect(JSON.stringify(error.issues)).not.toContain("s3cret")
    expect(error.message).not.toContain("s3cret")
    expect(error.issues.find((i) => i.path === "backends[0].args")?.found).toBe("a string (not shown)")
  })
})
