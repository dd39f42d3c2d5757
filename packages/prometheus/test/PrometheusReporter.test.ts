import { assert, describe, it } from "@effect/vitest"
import {
  deriveStatus,
  emptyHistory,
  InvalidOptionError,
  Publisher,
  Reporter,
  ReporterError,
  type ReporterHealth,
  type ReportOutcome,
  type RuntimeStatus,
  recordStatus,
  start,
  summarizeHistory
} from "@vmcp-status/core"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { register as globalRegistry, Registry } from "prom-client"
import { makePrometheusReporter } from "../src/index.ts"
import {
  backend,
  github,
  jira,
  jiraDown,
  probe,
  type Scrape,
  SECRETS,
  scrape,
  settle,
  slack,
  status,
  T1,
  T2,
  T3
} from "./fixtures.ts"

const OUTCOMES: ReadonlyArray<ReportOutcome> = ["written", "skipped", "conflict", "throttled", "error"]
const PHASES = ["Pending", "Ready", "Degraded", "Failed"]
const HEALTHS = ["healthy", "degraded", "unhealthy", "unauthenticated", "unknown"]

/** Always fails: every attempt is an `error` outcome. */
const flaky = Reporter.make("flaky", () =>
  Effect.fail(
    new ReporterError({ reporter: "flaky", message: "HTTP 500 from https://bot:pa55@hooks.local/x" })
  )
)

/** Like a Kubernetes writer under contention: each new status is a conflict, then throttled, then written. */
const contended = () => {
  let attempt = 0
  return Reporter.make("k8s", (_status, context) => {
    if (!context.changed && context.trigger === "tick") return Effect.succeed("skipped" as const)
    attempt++
    if (attempt % 3 === 1)
      return Effect.fail(new ReporterError({ reporter: "k8s", message: "HTTP 409", outcome: "conflict" }))
    if (attempt % 3 === 2)
      return Effect.fail(
        new ReporterError({ reporter: "k8s", message: "HTTP 429", outcome: "throttled", retryAfterMs: 500 })
      )
    return Effect.succeed("written" as const)
  })
}

/** Moves the test clock in small steps so that backoff retries run. */
const advance = (seconds: number) =>
  Effect.gen(function* () {
    for (let i = 0; i < seconds * 4; i++) {
      yield* TestClock.adjust("250 millis")
      yield* settle
    }
  })

const assertPhase = (m: Scrape, phase: string) => {
  assert.deepStrictEqual(
    m.by("vmcp_phase", "phase"),
    Object.fromEntries(PHASES.map((p) => [p, p === phase ? 1 : 0]))
  )
  assert.strictEqual(
    m.series("vmcp_phase").reduce((sum, s) => sum + s.value, 0),
    1
  )
}

const assertBackendsByHealth = (m: Scrape, counts: Partial<Record<string, number>>) =>
  assert.deepStrictEqual(
    m.by("vmcp_backends", "health"),
    Object.fromEntries(HEALTHS.map((h) => [h, counts[h] ?? 0]))
  )

const oneHot = (values: ReadonlyArray<string>, current: string) =>
  Object.fromEntries(values.map((v) => [v, v === current ? 1 : 0]))

/** The report metrics equal the publisher's health exactly. */
const assertMatchesHealth = (m: Scrape, health: ReadonlyArray<ReporterHealth>) => {
  for (const h of health) {
    assert.deepStrictEqual(
      m.by("vmcp_reports_total", "outcome", { reporter: h.name }),
      Object.fromEntries(OUTCOMES.map((o) => [o, h.outcomes[o]])),
      `vmcp_reports_total of ${h.name}`
    )
    assert.strictEqual(
      m.value("vmcp_reporter_consecutive_failures", { reporter: h.name }),
      h.consecutiveFailures
    )
    assert.strictEqual(
      m.value("vmcp_reporter_last_success_timestamp_seconds", { reporter: h.name }),
      h.lastSuccessAt === undefined ? undefined : h.lastSuccessAt / 1000
    )
  }
}

describe("makePrometheusReporter", () => {
  it.effect("starts in Pending with every phase and backend-health series present", () =>
    Effect.gen(function* () {
      const metrics = makePrometheusReporter()
      const m = yield* scrape(metrics.registry)
      assertPhase(m, "Pending")
      assertBackendsByHealth(m, {})
      assert.strictEqual(m.value("vmcp_tools"), 0)
      assert.deepStrictEqual(m.series("vmcp_backend_health"), [])
      assert.deepStrictEqual(m.series("vmcp_reports_total"), [])
    })
  )

  it.effect(
    "follows Pending → Ready → Degraded → backend removed → Ready, with report outcomes equal to publisher health",
    () =>
      Effect.gen(function* () {
        yield* TestClock.setTime(Date.parse("2026-11-25T18:00:00Z"))
        const metrics = makePrometheusReporter()
        const publisher = yield* Publisher.make({
          reporters: [metrics, flaky, contended()],
          interval: "1 minute",
          jitter: 0
        })
        yield* metrics.observePublisher(publisher)

        const previousTotals = new Map<string, number>()
        /** Publishes a status, lets retries run, and checks what every step must hold. */
        const step = (s: RuntimeStatus) =>
          Effect.gen(function* () {
            yield* publisher.update(s)
            yield* settle
            yield* advance(5)
            const m = yield* scrape(metrics.registry)
            assertPhase(m, s.phase)
            assertMatchesHealth(m, yield* publisher.health)
            for (const sample of m.series("vmcp_reports_total")) {
              const key = `${sample.labels.reporter}/${sample.labels.outcome}`
              assert.isAtLeast(sample.value, previousTotals.get(key) ?? 0, `${key} decreased`)
              previousTotals.set(key, sample.value)
            }
            for (const secret of SECRETS) assert.notInclude(m.text, secret)
            return m
          })

        // Pending: the first round has not finished.
        let m = yield* step(status([github("unknown"), jira("unknown"), slack("unknown")], false))
        assertBackendsByHealth(m, { unknown: 3 })
        assert.strictEqual(m.value("vmcp_tools"), 0)
        assert.deepStrictEqual(m.by("vmcp_backend_tools", "backend"), { github: 9, jira: 5, slack: 5 })
        assert.deepStrictEqual(
          m.by("vmcp_backend_health", "health", { backend: "jira" }),
          oneHot(HEALTHS, "unknown")
        )

        // Ready: every backend probed once.
        m = yield* step(
          status([
            github("healthy", probe(T1, 40)),
            jira("healthy", probe(T1, 120)),
            slack("healthy", probe(T1, 900))
          ])
        )
        assertBackendsByHealth(m, { healthy: 3 })
        assert.strictEqual(m.value("vmcp_tools"), 19)
        assert.deepStrictEqual(m.by("vmcp_backend_probe_duration_seconds_count", "backend"), {
          github: 1,
          jira: 1,
          slack: 1
        })
        assert.strictEqual(m.value("vmcp_backend_probe_duration_seconds_sum", { backend: "slack" }), 0.9)

        // Degraded: jira down with its circuit open; github's probe is the same one as before.
        const degraded = status([
          github("healthy", probe(T1, 40)),
          jiraDown(probe(T2, 10_000)),
          slack("healthy", probe(T2, 300))
        ])
        m = yield* step(degraded)
        assertBackendsByHealth(m, { healthy: 2, unhealthy: 1 })
        assert.strictEqual(m.value("vmcp_tools"), 14)
        assert.deepStrictEqual(
          m.by("vmcp_backend_health", "health", { backend: "jira" }),
          oneHot(HEALTHS, "unhealthy")
        )
        assert.deepStrictEqual(
          m.by("vmcp_backend_circuit_state", "state", { backend: "jira" }),
          oneHot(["closed", "open", "half-open"], "open")
        )
        assert.deepStrictEqual(
          m.by("vmcp_backend_circuit_state", "state", { backend: "github" }),
          oneHot(["closed", "open", "half-open"], "closed")
        )
        assert.strictEqual(m.value("vmcp_backend_consecutive_failures", { backend: "jira" }), 5)
        assert.deepStrictEqual(m.by("vmcp_backend_probe_duration_seconds_count", "backend"), {
          github: 1,
          jira: 2,
          slack: 2
        })
        assert.strictEqual(
          m.value("vmcp_backend_probe_duration_seconds_bucket", { backend: "jira", le: "5" }),
          1
        )
        assert.strictEqual(
          m.value("vmcp_backend_probe_duration_seconds_bucket", { backend: "jira", le: "+Inf" }),
          2
        )

        // A tick re-reports the same probes: nothing is counted twice.
        yield* advance(60)
        m = yield* scrape(metrics.registry)
        assertPhase(m, "Degraded")
        assertMatchesHealth(m, yield* publisher.health)
        assert.deepStrictEqual(m.by("vmcp_backend_probe_duration_seconds_count", "backend"), {
          github: 1,
          jira: 2,
          slack: 2
        })

        // jira removed from the configuration: all of its series go.
        m = yield* step(status([github("healthy", probe(T3, 50)), slack("healthy")]))
        assertBackendsByHealth(m, { healthy: 2 })
        assert.notInclude(m.text, 'backend="jira"')
        assert.deepStrictEqual(m.by("vmcp_backend_tools", "backend"), { github: 9, slack: 5 })
        assert.deepStrictEqual(m.by("vmcp_backend_probe_duration_seconds_count", "backend"), {
          github: 2,
          slack: 2
        })

        // jira back: its series start afresh.
        m = yield* step(status([github("healthy"), jira("healthy", probe(T3, 80)), slack("healthy")]))
        assertBackendsByHealth(m, { healthy: 3 })
        assert.deepStrictEqual(m.by("vmcp_backend_probe_duration_seconds_count", "backend"), {
          github: 2,
          jira: 1,
          slack: 2
        })

        const health = yield* publisher.health
        const byName = Object.fromEntries(health.map((h) => [h.name, h]))
        assert.isAbove(byName.flaky!.outcomes.error, 0)
        assert.isAbove(byName.k8s!.outcomes.conflict, 0)
        assert.isAbove(byName.k8s!.outcomes.throttled, 0)
        // Five meaningful changes, each written by this reporter itself (the tick was skipped).
        assert.strictEqual(byName.prometheus!.outcomes.written, 5)
        assert.strictEqual(byName.prometheus!.outcomes.skipped, 1)
        assert.strictEqual(
          m.value("vmcp_reporter_last_success_timestamp_seconds", { reporter: "prometheus" }),
          byName.prometheus!.lastSuccessAt! / 1000
        )
        assert.isUndefined(m.value("vmcp_reporter_last_success_timestamp_seconds", { reporter: "flaky" }))

        // Stop: the final reports are counted too.
        const stopping = yield* Effect.forkChild(publisher.stop)
        yield* advance(5)
        yield* Fiber.join(stopping)
        yield* settle
        m = yield* scrape(metrics.registry)
        assertMatchesHealth(m, yield* publisher.health)
        assert.strictEqual(m.value("vmcp_reports_total", { reporter: "prometheus", outcome: "written" }), 6)
      })
  )

  it.effect("observes each probe once, by its check time, and only probes that have one", () =>
    Effect.gen(function* () {
      const metrics = makePrometheusReporter()
      for (const s of [
        status([github("healthy", probe(T1, 30))]),
        status([github("healthy", probe(T1, 30))]),
        status([github("healthy", { latencyMs: 70 })]),
        status([github("healthy", probe(T2, 2_000))]),
        status([github("healthy", probe(T2, 2_000))])
      ])
        metrics.recordStatus(s)
      const m = yield* scrape(metrics.registry)
      const b = { backend: "github" }
      assert.strictEqual(m.value("vmcp_backend_probe_duration_seconds_count", b), 2)
      assert.strictEqual(m.value("vmcp_backend_probe_duration_seconds_sum", b), 2.03)
      assert.strictEqual(m.value("vmcp_backend_probe_duration_seconds_bucket", { ...b, le: "0.05" }), 1)
      assert.strictEqual(m.value("vmcp_backend_probe_duration_seconds_bucket", { ...b, le: "2.5" }), 2)
    })
  )

  it.effect("counts restarts from the reports' restart counters: by their growth, not per status", () =>
    Effect.gen(function* () {
      const metrics = makePrometheusReporter()
      const exit = { time: T1, signal: "SIGKILL" }
      for (const s of [
        status([github("healthy"), slack("healthy")]),
        status([github("healthy", { restarts: 1, lastExit: exit }), slack("healthy")]),
        status([github("healthy", { restarts: 1, lastExit: exit }), slack("healthy")]),
        status([github("healthy", { restarts: 3, lastExit: exit }), slack("healthy")])
      ])
        metrics.recordStatus(s)
      const m = yield* scrape(metrics.registry)
      assert.strictEqual(m.value("vmcp_backend_restarts_total", { backend: "github" }), 3)
      // Every backend has the series from its first report, at 0 until it restarts.
      assert.strictEqual(m.value("vmcp_backend_restarts_total", { backend: "slack" }), 0)
      metrics.recordStatus(status([slack("healthy")]))
      const gone = yield* scrape(metrics.registry)
      assert.strictEqual(gone.value("vmcp_backend_restarts_total", { backend: "github" }), undefined)
    })
  )

  it.effect("counts every backend health value, unauthenticated apart from unhealthy", () =>
    Effect.gen(function* () {
      const metrics = makePrometheusReporter()
      metrics.recordStatus(
        status([
          backend("a", "healthy"),
          backend("b", "degraded", { toolCount: 2 }),
          backend("c", "unhealthy"),
          backend("d", "unauthenticated"),
          backend("e", "unknown"),
          backend("f", "unauthenticated", { circuit: "half-open" })
        ])
      )
      const m = yield* scrape(metrics.registry)
      assertPhase(m, "Degraded")
      assertBackendsByHealth(m, { healthy: 1, degraded: 1, unhealthy: 1, unauthenticated: 2, unknown: 1 })
      assert.strictEqual(m.value("vmcp_tools"), 2)
      assert.deepStrictEqual(
        m.by("vmcp_backend_health", "health", { backend: "d" }),
        oneHot(HEALTHS, "unauthenticated")
      )
      assert.strictEqual(m.value("vmcp_backend_circuit_state", { backend: "f", state: "half-open" }), 1)
      for (const name of "abcdef")
        assert.strictEqual(
          m
            .series("vmcp_backend_health")
            .filter((s) => s.labels.backend === name)
            .reduce((a, s) => a + s.value, 0),
          1
        )
    })
  )

  it.effect("only ever increases report counters, also when a new publisher counts from zero", () =>
    Effect.gen(function* () {
      const metrics = makePrometheusReporter()
      const health = (written: number, error: number): ReporterHealth => ({
        name: "k8s",
        state: "healthy",
        lastSuccessAt: 1_764_093_600_000,
        lastAttemptAt: 1_764_093_600_000,
        consecutiveFailures: 0,
        lastError: undefined,
        outcomes: { written, skipped: 0, conflict: 0, throttled: 0, error }
      })
      const totals = function* () {
        const m = yield* scrape(metrics.registry)
        return m.by("vmcp_reports_total", "outcome", { reporter: "k8s" })
      }
      metrics.recordReporterHealth([health(5, 1)])
      assert.deepStrictEqual(yield* totals(), { written: 5, skipped: 0, conflict: 0, throttled: 0, error: 1 })
      metrics.recordReporterHealth([health(5, 1)])
      metrics.recordReporterHealth([health(7, 1)])
      assert.deepStrictEqual(yield* totals(), { written: 7, skipped: 0, conflict: 0, throttled: 0, error: 1 })
      // A restarted publisher starts again at 0: its 2 writes are new ones.
      metrics.recordReporterHealth([health(2, 0)])
      assert.deepStrictEqual(yield* totals(), { written: 9, skipped: 0, conflict: 0, throttled: 0, error: 1 })
      const m = yield* scrape(metrics.registry)
      assert.strictEqual(
        m.value("vmcp_reporter_last_success_timestamp_seconds", { reporter: "k8s" }),
        1_764_093_600
      )
    })
  )

  it("reads the health of a Promise publisher at scrape time", async () => {
    const metrics = makePrometheusReporter()
    const running = await start({
      reporters: [
        metrics,
        {
          name: "webhook",
          report: async () => {
            throw new Error("connect ECONNREFUSED")
          }
        }
      ],
      initial: status([github("healthy")])
    })
    const stopObserving = metrics.observeHealth(running.health)
    await running.stop()
    const samples = async () => {
      const text = await metrics.registry.metrics()
      return text
    }
    const health = running.health()
    const webhook = health.find((h) => h.name === "webhook")!
    assert.isAtLeast(webhook.outcomes.error, 1)
    const text = await samples()
    assert.include(text, `vmcp_reports_total{reporter="webhook",outcome="error"} ${webhook.outcomes.error}`)
    assert.include(
      text,
      `vmcp_reports_total{reporter="prometheus",outcome="written"} ${health[0]!.outcomes.written}`
    )
    // stop hands every reporter the final status the publisher derived: ShuttingDown, phase Pending.
    assert.include(text, `vmcp_phase{phase="Pending"} 1`)
    stopObserving()
    metrics.recordReporterHealth(
      health.map((h) => ({ ...h, outcomes: { ...h.outcomes, error: h.outcomes.error + 1 } }))
    )
    assert.include(
      await samples(),
      `vmcp_reports_total{reporter="webhook",outcome="error"} ${webhook.outcomes.error + 1}`
    )
  })

  it.effect("exposes the history: healthy since, and availability per window, read on every scrape", () =>
    Effect.gen(function* () {
      const metrics = makePrometheusReporter()
      // github healthy from 18:00, down 18:45 to 18:51, healthy again; jira healthy then down at 18:30.
      const at = (
        now: string,
        github: "healthy" | "unhealthy",
        githubSince: string,
        jira: "healthy" | "unhealthy",
        jiraSince: string
      ) =>
        deriveStatus({
          backends: [
            backend("github", github, { lastTransitionTime: githubSince }),
            backend("jira", jira, { lastTransitionTime: jiraSince })
          ],
          initialRoundComplete: true,
          now
        })
      let history = emptyHistory()
      history = recordStatus(
        history,
        at("2026-11-25T18:00:00Z", "healthy", "2026-11-25T18:00:00Z", "healthy", "2026-11-25T18:00:00Z")
      )
      history = recordStatus(
        history,
        at("2026-11-25T18:30:00Z", "healthy", "2026-11-25T18:00:00Z", "unhealthy", "2026-11-25T18:30:00Z")
      )
      history = recordStatus(
        history,
        at("2026-11-25T18:45:00Z", "unhealthy", "2026-11-25T18:45:00Z", "unhealthy", "2026-11-25T18:30:00Z")
      )
      history = recordStatus(
        history,
        at("2026-11-25T18:51:00Z", "healthy", "2026-11-25T18:51:00Z", "unhealthy", "2026-11-25T18:30:00Z")
      )
      let nowMs = Date.parse("2026-11-25T19:00:00Z")
      const stop = metrics.observeHistory(() => summarizeHistory(history, nowMs))

      const first = yield* scrape(metrics.registry)
      assert.deepStrictEqual(first.by("vmcp_backend_healthy_since_seconds", "backend"), {
        github: Date.parse("2026-11-25T18:51:00Z") / 1000
      })
      assert.deepStrictEqual(first.by("vmcp_backend_availability_ratio", "backend", { window: "1h" }), {
        github: 0.9,
        jira: 0.5
      })
      assert.deepStrictEqual(first.by("vmcp_backend_availability_ratio", "backend", { window: "24h" }), {
        github: 0.9,
        jira: 0.5
      })

      // Availability moves with time, read at the scrape: an hour later jira has been down all of the last hour.
      nowMs = Date.parse("2026-11-25T20:00:00Z")
      const later = yield* scrape(metrics.registry)
      assert.strictEqual(later.value("vmcp_backend_availability_ratio", { backend: "jira", window: "1h" }), 0)
      assert.strictEqual(
        later.value("vmcp_backend_availability_ratio", { backend: "github", window: "1h" }),
        1
      )

      stop()
      const stopped = yield* scrape(metrics.registry)
      assert.deepStrictEqual(stopped.series("vmcp_backend_availability_ratio"), [])
      assert.deepStrictEqual(stopped.series("vmcp_backend_healthy_since_seconds"), [])
    })
  )

  describe("options", () => {
    it.effect("puts constant labels and the prefix on every series, in the registry given", () =>
      Effect.gen(function* () {
        const registry = new Registry()
        const metrics = makePrometheusReporter({ registry, prefix: "gw_", labels: { vmcp: "my-vmcp" } })
        assert.strictEqual(metrics.registry, registry)
        metrics.recordStatus(status([github("healthy", probe(T1, 40))]))
        metrics.recordReporterHealth([
          {
            name: "log",
            state: "idle",
            lastSuccessAt: undefined,
            lastAttemptAt: undefined,
            consecutiveFailures: 0,
            lastError: undefined,
            outcomes: { written: 0, skipped: 0, conflict: 0, throttled: 0, error: 0 }
          }
        ])
        const m = yield* scrape(registry)
        assert.isAbove(m.samples.length, 30)
        for (const s of m.samples) {
          assert.isTrue(s.name.startsWith("gw_"), s.name)
          assert.strictEqual(s.labels.vmcp, "my-vmcp", s.name)
        }
        assert.strictEqual(m.value("gw_phase", { vmcp: "my-vmcp", phase: "Ready" }), 1)
      })
    )

    it("owns a new registry by default, never prom-client's global one", () => {
      const a = makePrometheusReporter()
      const b = makePrometheusReporter()
      assert.notStrictEqual(a.registry, b.registry)
      assert.notStrictEqual(a.registry, globalRegistry)
      assert.isUndefined(globalRegistry.getSingleMetric("vmcp_phase"))
    })

    it.effect("refuses a registry that already has its metrics, leaving that registry as it was", () =>
      Effect.gen(function* () {
        const registry = new Registry()
        makePrometheusReporter({ registry })
        const before = yield* scrape(registry)
        const error = yield* Effect.flip(
          Effect.try({ try: () => makePrometheusReporter({ registry }), catch: (e) => e })
        )
        assert.instanceOf(error, InvalidOptionError)
        assert.strictEqual((error as InvalidOptionError).option, "registry")
        assert.include((error as InvalidOptionError).message, "vmcp_phase")
        assert.strictEqual((yield* scrape(registry)).text, before.text)
        // Another prefix on the same registry works.
        makePrometheusReporter({ registry, prefix: "vmcp_canary_" })
        assert.strictEqual((yield* scrape(registry)).value("vmcp_canary_phase", { phase: "Pending" }), 1)
      })
    )

    it.effect("rejects names Prometheus cannot take, and constant labels that clash", () =>
      Effect.gen(function* () {
        const fails = (options: Parameters<typeof makePrometheusReporter>[0]) =>
          Effect.flip(
            Effect.try({ try: () => makePrometheusReporter(options), catch: (e) => e as InvalidOptionError })
          )
        assert.strictEqual((yield* fails({ prefix: "vmcp-" })).option, "prefix")
        assert.strictEqual((yield* fails({ labels: { "bad-name": "x" } })).option, "labels")
        assert.strictEqual((yield* fails({ labels: { __reserved: "x" } })).option, "labels")
        assert.strictEqual((yield* fails({ labels: { backend: "x" } })).option, "labels")
        assert.strictEqual((yield* fails({ buckets: [1, 0.5] })).option, "buckets")
      })
    )
  })
})
