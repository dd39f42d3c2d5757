import type { RuntimeStatus } from "@vmcp-status/core"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import type { BackendConfig, HealthOptions } from "./Config.ts"
import { type HealthSnapshot, make } from "./HealthChecker.ts"
import { publishTo } from "./Publish.ts"

/** Options of `startHealthChecks`: the checker's, plus where statuses go. */
export interface StartHealthOptions extends HealthOptions {
  /**
   * Receives every `RuntimeStatus`: the running publisher from `start()` of `@vmcp-status/core`
   * fits, or any `{ update(status) }`.
   */
  readonly publisher?: { readonly update: (status: RuntimeStatus) => void }
}

/** Running health checks, driven with Promises. */
export interface RunningHealthChecks {
  /** The latest snapshot. */
  readonly snapshot: () => HealthSnapshot
  /** Replaces the backend list (see `HealthChecker.setBackends`); rejects with `InvalidHealthConfig`. */
  readonly setBackends: (backends: ReadonlyArray<BackendConfig>) => Promise<void>
  /** Stops probing and closes every session and child process. */
  readonly stop: () => Promise<void>
}

/**
 * Starts health checks without writing Effect code, publishing each status to `publisher`.
 * Rejects with `InvalidHealthConfig` (naming the field) when the options are invalid.
 *
 * @example
 * ```ts
 * import { start } from "@vmcp-status/core"
 * import { startHealthChecks } from "@vmcp-status/health"
 *
 * const publisher = await start({ reporters: [{ name: "console", report: (s) => console.log(s.phase) }] })
 * const health = await startHealthChecks({
 *   publisher,
 *   backends: [{ name: "github", transport: "streamable-http", url: "http://127.0.0.1:8080/mcp" }]
 * })
 * await health.stop()
 * await publisher.stop()
 * ```
 */
export const startHealthChecks = async (options: StartHealthOptions): Promise<RunningHealthChecks> => {
  const { publisher, ...healthOptions } = options
  const scope = Scope.makeUnsafe()
  const program = Effect.gen(function* () {
    const checker = yield* make(healthOptions)
    if (publisher !== undefined)
      yield* publishTo(checker, { update: (status) => Effect.sync(() => publisher.update(status)) })
    return checker
  })
  const exit = await Effect.runPromiseExit(Scope.provide(program, scope))
  if (Exit.isFailure(exit)) {
    await Effect.runPromise(Scope.close(scope, exit))
    throw Cause.squash(exit.cause)
  }
  const checker = exit.value
  return {
    snapshot: () => Effect.runSync(checker.current),
    setBackends: (backends) =>
      Effect.runPromiseExit(checker.setBackends(backends)).then((result) => {
        if (Exit.isFailure(result)) throw Cause.squash(result.cause)
      }),
    stop: () => Effect.runPromise(Effect.andThen(checker.stop, Scope.close(scope, Exit.void)))
  }
}
