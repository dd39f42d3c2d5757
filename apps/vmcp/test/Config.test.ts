import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Writable } from "node:stream"
import { Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import { runCli } from "../src/Commands.ts"
import { type ConfigError, decodeConfig, expandEnv, loadVmcpConfig, parseDuration } from "../src/Config.ts"

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
      listen: { host: "127.0.0.1", port: 4483, maxSessions: 1000 },
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
      shutdown: { drainTimeout: 5_000 },
      backends: []
    })
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
      { path: "backends[1].comand", expected: "no such key (check the spelling)", found: '"node"' }
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
      { path: "backends[0].headers.Authorization", expected: "string", found: "number" }
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
      `error: invalid config ${file}\n  listen.port: expected a port between 0 and 65535, found 99999\n`
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
