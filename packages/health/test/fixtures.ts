import { execFileSync } from "node:child_process"
import { Reporter, type RuntimeStatus, toTimestamp } from "@vmcp-status/core"
import { Clock, type Duration, Effect, Option, Stream, SubscriptionRef } from "effect"
import { TestClock } from "effect/testing"
import type { HealthChecker, HealthSnapshot } from "../src/index.ts"
import { toStatus } from "../src/index.ts"

type Checker = HealthChecker.HealthChecker

/** Waits (on events, not time) for the first snapshot that satisfies `predicate`. */
export const untilSnapshot = (checker: Checker, predicate: (snapshot: HealthSnapshot) => boolean) =>
  checker.changes.pipe(Stream.filter(predicate), Stream.runHead, Effect.map(Option.getOrThrow))

export const backendOf = (snapshot: HealthSnapshot, name: string) =>
  snapshot.backends.find((b) => b.name === name)

/** True when every named backend's last check happened at `at` (epoch ms of the test clock). */
export const checkedAt = (snapshot: HealthSnapshot, names: ReadonlyArray<string>, at: number) =>
  names.every((name) => backendOf(snapshot, name)?.lastCheckTime === toTimestamp(at))

/** Moves the test clock and waits until the named backends have finished their probe of that moment. */
export const round = (checker: Checker, by: Duration.Input, names: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    yield* TestClock.adjust(by)
    const now = yield* Clock.currentTimeMillis
    return yield* untilSnapshot(checker, (s) => checkedAt(s, names, now))
  })

/** Phase and, per backend, `name=health/consecutiveFailures/circuit`: what a transition is made of. */
export const projection = (status: RuntimeStatus): string =>
  [
    status.phase,
    ...status.backends.map((b) => `${b.name}=${b.health}/${b.consecutiveFailures}/${b.circuit}`)
  ].join(" ")

/** A reporter that records every status the publisher hands it because it changed. */
export const makeRecorder = Effect.gen(function* () {
  const ref = yield* SubscriptionRef.make<ReadonlyArray<RuntimeStatus>>([])
  const reporter: Reporter.Reporter<never> = Reporter.make("recorder", (status, context) =>
    context.trigger === "change" ? SubscriptionRef.update(ref, (all) => [...all, status]) : Effect.void
  )
  const statuses = SubscriptionRef.get(ref)
  /** Waits until the last recorded status is the one the checker's current snapshot derives. */
  const settled = (checker: Checker) =>
    Effect.gen(function* () {
      const expected = projection(toStatus(yield* checker.current, 0))
      yield* SubscriptionRef.changes(ref).pipe(
        Stream.filter((all) => all.length > 0 && projection(all[all.length - 1]!) === expected),
        Stream.runHead
      )
      return expected
    })
  return { reporter, statuses, settled }
})

/** The pids of this process's children running the testkit's stdio fixture (whose command line contains `match`). */
export const stdioChildren = (match = ""): ReadonlyArray<number> => {
  let out = ""
  try {
    out = execFileSync("ps", ["-o", "pid=,args=", "--ppid", String(process.pid)], { encoding: "utf8" })
  } catch {
    return []
  }
  return out
    .split("\n")
    .filter((line) => line.includes("stdio-backend") && line.includes(match))
    .map((line) => Number(line.trim().split(/\s+/)[0]))
}

export const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}
