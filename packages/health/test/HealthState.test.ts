import { describe, expect, it } from "@effect/vitest"
import type { BackendHealth } from "@vmcp-status/core"
import type { ErrorCategory } from "../src/ErrorCategory.ts"
import {
  type HealthState,
  initialHealthState,
  nextHealthState,
  type ProbeOutcome
} from "../src/HealthState.ts"

const thresholds = { unhealthyAfter: 3, slowMs: 5_000 }
const T0 = 1_000
const NOW = 31_000

const state = (health: BackendHealth, consecutiveFailures = 0, recovering = false): HealthState => ({
  health,
  message: "before",
  consecutiveFailures,
  recovering,
  lastTransitionAt: T0
})
const fast: ProbeOutcome = { _tag: "Success", latencyMs: 20 }
const slow: ProbeOutcome = { _tag: "Success", latencyMs: 5_001 }
const atThreshold: ProbeOutcome = { _tag: "Success", latencyMs: 5_000 }
const fail = (category: ErrorCategory, detail = "x"): ProbeOutcome => ({
  _tag: "Failure",
  failure: { category, detail }
})

type Row = readonly [
  from: HealthState,
  outcome: ProbeOutcome,
  to: BackendHealth,
  failures: number,
  recovering: boolean,
  message: string | RegExp
]

const rows: ReadonlyArray<Row> = [
  // successes
  [state("unknown"), fast, "healthy", 0, false, ""],
  [state("healthy"), fast, "healthy", 0, false, ""],
  [state("healthy", 2), fast, "healthy", 0, false, ""],
  [state("degraded"), fast, "healthy", 0, false, ""],
  [state("degraded", 0, true), fast, "healthy", 0, false, ""],
  [state("unhealthy", 7), fast, "degraded", 0, true, "recovering: answered again after failing"],
  [state("unauthenticated", 1), fast, "degraded", 0, true, "recovering: answered again after failing"],
  [state("healthy"), atThreshold, "healthy", 0, false, ""],
  // slow successes
  [state("unknown"), slow, "degraded", 0, false, "slow: answered in more than 5 s"],
  [state("healthy"), slow, "degraded", 0, false, "slow: answered in more than 5 s"],
  [state("degraded"), slow, "degraded", 0, false, "slow: answered in more than 5 s"],
  [state("unhealthy", 4), slow, "degraded", 0, false, "slow: answered in more than 5 s"],
  [state("degraded", 0, true), slow, "degraded", 0, false, "slow: answered in more than 5 s"],
  // failures below the threshold: the previous health holds
  [
    state("unknown"),
    fail("connection_refused", "ECONNREFUSED"),
    "unknown",
    1,
    false,
    /^probe failed 1 of 3 times before unhealthy: connection_refused \(ECONNREFUSED\)/
  ],
  [state("unknown", 1), fail("timeout"), "unknown", 2, false, /^probe failed 2 of 3 times/],
  [state("healthy"), fail("timeout"), "healthy", 1, false, /^probe failed 1 of 3 times/],
  [state("healthy", 1), fail("protocol_error"), "healthy", 2, false, /^probe failed 2 of 3 times/],
  [state("degraded"), fail("connection_reset"), "degraded", 1, false, /^probe failed 1 of 3/],
  [state("degraded", 0, true), fail("timeout"), "degraded", 1, true, /^probe failed 1 of 3/],
  [state("unauthenticated", 1), fail("timeout"), "unauthenticated", 2, false, /^probe failed 2 of 3/],
  // the threshold
  [
    state("unknown", 2),
    fail("connection_refused", "ECONNREFUSED"),
    "unhealthy",
    3,
    false,
    /^connection_refused \(ECONNREFUSED\): nothing listens/
  ],
  [
    state("healthy", 2),
    fail("timeout", "no answer within 10000 ms"),
    "unhealthy",
    3,
    false,
    "timeout (no answer within 10000 ms)"
  ],
  [state("degraded", 2), fail("http_error", "HTTP 502"), "unhealthy", 3, false, "http_error (HTTP 502)"],
  [state("unhealthy", 3), fail("timeout", "t"), "unhealthy", 4, false, "timeout (t)"],
  [
    state("unauthenticated", 2),
    fail("process_exited", "process exited"),
    "unhealthy",
    3,
    false,
    /^process_exited/
  ],
  // 401/403: unauthenticated at once
  [
    state("unknown"),
    fail("auth_failed", "HTTP 401"),
    "unauthenticated",
    1,
    false,
    /^auth_failed \(HTTP 401\): check the credentials/
  ],
  [
    state("healthy"),
    fail("auth_failed", "HTTP 403"),
    "unauthenticated",
    1,
    false,
    /^auth_failed \(HTTP 403\)/
  ],
  [state("unhealthy", 5), fail("auth_failed", "HTTP 401"), "unauthenticated", 6, false, /^auth_failed/],
  [state("unauthenticated", 1), fail("auth_failed", "HTTP 401"), "unauthenticated", 2, false, /^auth_failed/],
  // 429: up, but degraded; the failure count resets
  [
    state("healthy"),
    fail("rate_limited", "HTTP 429"),
    "degraded",
    0,
    false,
    /^rate_limited \(HTTP 429\): the backend is up/
  ],
  [state("unknown"), fail("rate_limited", "HTTP 429"), "degraded", 0, false, /^rate_limited/],
  [state("healthy", 2), fail("rate_limited", "HTTP 429"), "degraded", 0, false, /^rate_limited/],
  [state("unhealthy", 4), fail("rate_limited", "HTTP 429"), "degraded", 0, false, /^rate_limited/],
  // Pending (e.g. a process starting): unknown with its message, the failure count holds.
  [state("unknown"), { _tag: "Pending", message: "starting" }, "unknown", 0, false, "starting"],
  [state("healthy"), { _tag: "Pending", message: "starting" }, "unknown", 0, false, "starting"],
  [state("unhealthy", 4), { _tag: "Pending", message: "starting" }, "unknown", 4, false, "starting"]
]

describe("nextHealthState: every transition", () => {
  it.each(
    rows.map(
      (row) =>
        [
          `${row[0].health}(${row[0].consecutiveFailures}${row[0].recovering ? ", recovering" : ""}) + ${row[1]._tag === "Success" ? `success ${row[1].latencyMs} ms` : row[1]._tag === "Pending" ? `pending ${row[1].message}` : row[1].failure.category} → ${row[2]}`,
          row
        ] as const
    )
  )("%s", (_name, [from, outcome, health, failures, recovering, message]) => {
    const next = nextHealthState(from, outcome, thresholds, NOW)
    expect(next.health).toBe(health)
    expect(next.consecutiveFailures).toBe(failures)
    expect(next.recovering).toBe(recovering)
    if (typeof message === "string") expect(next.message).toBe(message)
    else expect(next.message).toMatch(message)
    // lastTransitionTime moves only when the health changes
    expect(next.lastTransitionAt).toBe(health === from.health ? T0 : NOW)
  })

  it("starts unknown, not probed yet", () => {
    expect(initialHealthState(5)).toEqual({
      health: "unknown",
      message: "not probed yet",
      consecutiveFailures: 0,
      recovering: false,
      lastTransitionAt: 5
    })
  })

  it("degrades for exactly one interval after recovering, then is healthy", () => {
    const down = { ...state("unhealthy", 3) }
    const recovered = nextHealthState(down, fast, thresholds, 2_000)
    const after = nextHealthState(recovered, fast, thresholds, 3_000)
    expect([recovered.health, after.health]).toEqual(["degraded", "healthy"])
    expect(after.lastTransitionAt).toBe(3_000)
  })

  it("keeps the same message while a failing situation does not change, so nothing is rewritten", () => {
    const a = nextHealthState(state("unhealthy", 3), fail("timeout", "t"), thresholds, 2_000)
    const b = nextHealthState(a, fail("timeout", "t"), thresholds, 3_000)
    expect(b.message).toBe(a.message)
    const s1 = nextHealthState(state("healthy"), { _tag: "Success", latencyMs: 6_000 }, thresholds, 2_000)
    const s2 = nextHealthState(s1, { _tag: "Success", latencyMs: 9_000 }, thresholds, 3_000)
    expect(s2).toEqual(s1)
  })

  it("applies the configured thresholds", () => {
    const custom = { unhealthyAfter: 1, slowMs: 100 }
    expect(nextHealthState(state("healthy"), fail("timeout"), custom, NOW).health).toBe("unhealthy")
    expect(nextHealthState(state("healthy"), { _tag: "Success", latencyMs: 101 }, custom, NOW).health).toBe(
      "degraded"
    )
  })
})
