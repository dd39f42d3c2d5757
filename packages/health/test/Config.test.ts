import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import {
  HealthChecker,
  HealthDefaults,
  type HealthOptions,
  InvalidHealthConfig,
  resolveOptions
} from "../src/index.ts"

const failure = (options: unknown) =>
  Effect.gen(function* () {
    const exit = yield* Effect.exit(HealthChecker.make(options as HealthOptions))
    assert.isTrue(Exit.isFailure(exit))
    const error = Exit.isFailure(exit) ? exit.cause : undefined
    const found = error === undefined ? undefined : yield* Effect.flip(Effect.failCause(error))
    assert.instanceOf(found, InvalidHealthConfig)
    return found as InvalidHealthConfig
  })

const http = { name: "a", transport: "streamable-http", url: "http://127.0.0.1:1/mcp" }

describe("configuration validation", () => {
  const cases: ReadonlyArray<readonly [string, unknown, string, RegExp]> = [
    ["backends not an array", { backends: "a" }, "backends", /expected an array/],
    ["a backend that is not an object", { backends: [3] }, "backends[0]", /expected a backend object/],
    [
      "an unknown transport",
      { backends: [{ name: "a", transport: "grpc" }] },
      "backends[0].transport",
      /expected "streamable-http", "stdio" or "http"/
    ],
    [
      "sse",
      { backends: [{ name: "a", transport: "sse", url: "http://x" }] },
      "backends[0].transport",
      /SSE transport is not probed/
    ],
    [
      "a relative URL",
      { backends: [http, { ...http, name: "b", url: "/mcp" }] },
      "backends[1].url",
      /absolute http\(s\) URL/
    ],
    [
      "a non-http URL",
      { backends: [{ ...http, url: "ftp://x/mcp" }] },
      "backends[0].url",
      /absolute http\(s\) URL/
    ],
    [
      "a missing URL",
      { backends: [{ name: "a", transport: "http" }] },
      "backends[0].url",
      /^backends\[0\]\.url: required but missing$/
    ],
    ["an empty name", { backends: [{ ...http, name: " " }] }, "backends[0].name", /non-empty backend name/],
    [
      "a duplicate name",
      { backends: [http, { ...http }] },
      "backends[1].name",
      /already the name of backends\[0\]/
    ],
    [
      "a header that is not a string",
      { backends: [{ ...http, headers: { authorization: 1 } }] },
      "backends[0].headers.authorization",
      /string/
    ],
    [
      "a stdio backend without command",
      { backends: [{ name: "s", transport: "stdio", command: "" }] },
      "backends[0].command",
      /command that starts the server/
    ],
    [
      "a check that is not a function",
      { backends: [{ name: "c", transport: "http", check: "yes" }] },
      "backends[0].check",
      /expected a function/
    ],
    ["a bad interval", { backends: [], interval: "soon" }, "interval", /positive duration/],
    ["a zero timeout", { backends: [], timeout: 0 }, "timeout", /positive duration/],
    ["jitter out of range", { backends: [], jitter: 1 }, "jitter", /\[0, 1\)/],
    ["a fractional concurrency", { backends: [], concurrency: 2.5 }, "concurrency", /positive integer/],
    ["unhealthyAfter 0", { backends: [], unhealthyAfter: 0 }, "unhealthyAfter", /positive integer/],
    [
      "slow threshold above the timeout",
      { backends: [], slowThreshold: "20 seconds" },
      "slowThreshold",
      /shorter than timeout/
    ],
    [
      "a breaker threshold of 0",
      { backends: [], circuitBreaker: { failureThreshold: 0 } },
      "circuitBreaker.failureThreshold",
      /positive integer/
    ],
    [
      "a cap below the open duration",
      { backends: [], circuitBreaker: { maxOpenDuration: "1 second" } },
      "circuitBreaker.maxOpenDuration",
      /must not be shorter than openDuration/
    ]
  ]
  for (const [name, options, field, message] of cases)
    it.effect(`rejects ${name}, naming ${field}`, () =>
      Effect.gen(function* () {
        const error = yield* failure(options)
        assert.strictEqual(error.field, field)
        assert.match(error.message, message)
      })
    )

  it.effect("fills in the defaults", () =>
    Effect.gen(function* () {
      const resolved = yield* resolveOptions({})
      assert.deepStrictEqual(resolved, {
        intervalMs: 30_000,
        jitter: 0.1,
        timeoutMs: 10_000,
        slowMs: 5_000,
        unhealthyAfter: 3,
        discoveryIntervalMs: 300_000,
        concurrency: 32,
        breaker: { failureThreshold: 5, openMs: 60_000, maxOpenMs: 600_000 },
        clientInfo: HealthDefaults.clientInfo
      })
      const custom = yield* resolveOptions({ interval: "1 minute", timeout: 2000, slowThreshold: "1 second" })
      assert.deepInclude(custom, { intervalMs: 60_000, timeoutMs: 2_000, slowMs: 1_000 })
    })
  )
})
