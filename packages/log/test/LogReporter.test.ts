import { assert, describe, it } from "@effect/vitest"
import { Publisher } from "@vmcp-status/core"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import winston from "winston"
import Transport from "winston-transport"
import { makeLogReporter, resolveColor, resolveFormat } from "../src/index.ts"
import { capture, drain, github, jira, jiraDown, SECRETS, slack, status } from "./fixtures.ts"

const settle = Effect.gen(function* () {
  for (let i = 0; i < 20; i++) yield* Effect.yieldNow
  yield* drain
})

const sequence = [
  status([github("unknown"), jira("unknown"), slack("unknown")], false),
  status([github("healthy"), jira("healthy"), slack("healthy")]),
  // a volatile-only change: nothing to log
  status([github("healthy", { latencyMs: 40 }), jira("healthy"), slack("healthy")]),
  status([github("healthy"), jiraDown, slack("healthy")]),
  // a message-only change: not a transition
  status([github("healthy"), { ...jiraDown, consecutiveFailures: 4 }, slack("healthy")]),
  status([github("healthy"), jira("healthy"), slack("healthy")])
]

const publishAll = (reporter: ReturnType<typeof makeLogReporter>) =>
  Effect.gen(function* () {
    const publisher = yield* Publisher.make({ reporters: [reporter] })
    for (const s of sequence) {
      yield* publisher.update(s)
      yield* settle
    }
    return publisher
  })

describe("makeLogReporter", () => {
  it.effect("writes one JSON line per transition with level by phase, redacting credentials", () =>
    Effect.gen(function* () {
      const out = capture(false)
      yield* publishAll(makeLogReporter({ vmcp: "my-vmcp", stream: out.stream, env: {} }))
      const lines = out.lines()
      const entries = lines.map((l) => JSON.parse(l))
      assert.deepStrictEqual(
        entries.map((e) => [e.level, e.message]),
        [
          [
            "info",
            "[my-vmcp] Pending: Waiting for the first health round of 3 backends; github new → unknown; jira new → unknown; slack new → unknown"
          ],
          [
            "info",
            "[my-vmcp] Pending → Ready: 3/3 backends healthy, 19 tools; github unknown → healthy; jira unknown → healthy; slack unknown → healthy"
          ],
          [
            "warn",
            "[my-vmcp] Ready → Degraded: 2/3 backends healthy, 14 tools; jira healthy → unhealthy: connection refused to http://REDACTED@jira.local:8080/mcp?api_key=REDACTED (3 failures)"
          ],
          ["info", "[my-vmcp] Degraded → Ready: 3/3 backends healthy, 19 tools; jira unhealthy → healthy"]
        ]
      )
      const degraded = entries[2]
      assert.strictEqual(degraded.phase, "Degraded")
      assert.strictEqual(degraded.previousPhase, "Ready")
      assert.strictEqual(degraded.unhealthyBackends, 1)
      assert.deepStrictEqual(degraded.backends[0].name, "jira")
      assert.strictEqual(degraded.backends[0].consecutiveFailures, 3)
      assert.isString(degraded.timestamp)
      assert.strictEqual(entries[1].backends[0].url, "https://REDACTED@github.mcp.local/mcp?token=REDACTED")
      for (const secret of SECRETS) assert.notInclude(lines.join("\n"), secret)
    })
  )

  it.effect("writes readable lines on a terminal", () =>
    Effect.gen(function* () {
      const out = capture(true)
      yield* publishAll(makeLogReporter({ vmcp: "my-vmcp", stream: out.stream, env: { NO_COLOR: "1" } }))
      const lines = out.lines().map((l) => l.replace(/^\d\d:\d\d:\d\d /, ""))
      assert.deepStrictEqual(lines, [
        "info  [my-vmcp] Pending: Waiting for the first health round of 3 backends; github new → unknown; jira new → unknown; slack new → unknown",
        "info  [my-vmcp] Pending → Ready: 3/3 backends healthy, 19 tools; github unknown → healthy; jira unknown → healthy; slack unknown → healthy",
        "warn  [my-vmcp] Ready → Degraded: 2/3 backends healthy, 14 tools; jira healthy → unhealthy: connection refused to http://REDACTED@jira.local:8080/mcp?api_key=REDACTED (3 failures)",
        "info  [my-vmcp] Degraded → Ready: 3/3 backends healthy, 19 tools; jira unhealthy → healthy"
      ])
    })
  )

  it.effect("colours the level on a terminal unless NO_COLOR is set", () =>
    Effect.gen(function* () {
      const out = capture(true)
      yield* publishAll(makeLogReporter({ stream: out.stream, env: {} }))
      assert.include(out.lines()[2], "\u001b[")
    })
  )

  it.effect("colours readable lines when piped if FORCE_COLOR is set", () =>
    Effect.gen(function* () {
      const out = capture(false)
      yield* publishAll(makeLogReporter({ stream: out.stream, env: { FORCE_COLOR: "1" }, format: "pretty" }))
      assert.include(out.lines()[2], "\u001b[")
      const plain = capture(false)
      yield* publishAll(makeLogReporter({ stream: plain.stream, env: {}, format: "pretty" }))
      assert.notInclude(plain.lines()[2], "\u001b[")
    })
  )

  it.effect("logs every meaningful change in `changes` mode", () =>
    Effect.gen(function* () {
      const out = capture(false)
      yield* publishAll(makeLogReporter({ stream: out.stream, env: {}, mode: "changes" }))
      // every status but the volatile-only one
      assert.strictEqual(out.lines().length, 5)
    })
  )

  it.effect("logs a Failed status at error level", () =>
    Effect.gen(function* () {
      const out = capture(false)
      const publisher = yield* Publisher.make({
        reporters: [makeLogReporter({ stream: out.stream, env: {} })]
      })
      yield* publisher.update(status([jiraDown]))
      yield* settle
      const [entry] = out.lines().map((l) => JSON.parse(l))
      assert.strictEqual(entry.level, "error")
      assert.strictEqual(entry.phase, "Failed")
    })
  )

  it.effect("adds a periodic summary on ticks, at most once per summaryInterval", () =>
    Effect.gen(function* () {
      const out = capture(true)
      const reporter = makeLogReporter({
        vmcp: "my-vmcp",
        stream: out.stream,
        env: { NO_COLOR: "1" },
        mode: "transitions",
        summaryInterval: "1 minute"
      })
      const publisher = yield* Publisher.make({ reporters: [reporter], interval: "30 seconds", jitter: 0 })
      yield* publisher.update(status([github("healthy"), jiraDown, slack("healthy")]))
      yield* settle
      for (let i = 0; i < 4; i++) {
        yield* TestClock.adjust("30 seconds")
        yield* settle
      }
      const lines = out.lines().map((l) => l.replace(/^\d\d:\d\d:\d\d /, ""))
      const summary = [
        "warn  [my-vmcp] Degraded: 2/3 backends healthy, 14 tools",
        "  github  healthy    9 tools",
        "  jira    unhealthy  connection refused to http://REDACTED@jira.local:8080/mcp?api_key=REDACTED (3 failures)",
        "  slack   healthy    5 tools"
      ]
      // one transition line, then summaries at 30 s and 90 s (60 s and 120 s are too soon)
      assert.strictEqual(lines.length, 1 + summary.length * 2)
      assert.deepStrictEqual(lines.slice(1, 5), summary)
      assert.deepStrictEqual(lines.slice(5, 9), summary)
      const stopping = yield* Effect.forkChild(publisher.stop)
      yield* settle
      yield* Fiber.join(stopping)
    })
  )

  it.effect("writes to an injected winston logger with structured fields", () =>
    Effect.gen(function* () {
      const received: Array<Record<string, unknown>> = []
      class Memory extends Transport {
        override log(info: Record<string, unknown>, next: () => void) {
          received.push(info)
          next()
        }
      }
      const logger = winston.createLogger({ transports: [new Memory()] })
      yield* publishAll(makeLogReporter({ logger, vmcp: "injected" }))
      assert.strictEqual(received.length, 4)
      assert.strictEqual(received[2]?.level, "warn")
      assert.strictEqual(received[2]?.vmcp, "injected")
      assert.strictEqual(received[2]?.event, "StatusChanged")
    })
  )

  it("rejects a bad summaryInterval, naming it", () => {
    assert.throws(() => makeLogReporter({ summaryInterval: "soon" as never }), /summaryInterval/)
  })
})

describe("resolveFormat", () => {
  it.each([
    ["auto", true, {}, "pretty"],
    ["auto", false, {}, "json"],
    ["auto", true, { KUBERNETES_SERVICE_HOST: "10.96.0.1" }, "json"],
    ["pretty", false, { KUBERNETES_SERVICE_HOST: "10.96.0.1" }, "pretty"],
    ["json", true, {}, "json"]
  ] as const)("%s on a TTY=%s with %o is %s", (format, isTTY, env, expected) => {
    assert.strictEqual(resolveFormat(format, { isTTY, env }), expected)
  })
})

describe("resolveColor", () => {
  it.each([
    [true, {}, true],
    [false, {}, false],
    [true, { NO_COLOR: "1" }, false],
    [true, { NO_COLOR: "" }, true],
    [true, { NODE_DISABLE_COLORS: "1" }, false],
    [true, { TERM: "dumb" }, false],
    [false, { FORCE_COLOR: "1" }, true],
    [false, { FORCE_COLOR: "" }, true],
    [true, { FORCE_COLOR: "0" }, false],
    [true, { FORCE_COLOR: "false" }, false],
    [false, { FORCE_COLOR: "1", NO_COLOR: "1" }, true]
  ] as const)("on a TTY=%s with %o is %s", (isTTY, env, expected) => {
    assert.strictEqual(resolveColor({ isTTY, env }), expected)
  })
})
