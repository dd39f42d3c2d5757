import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { InvalidStatusError } from "./Errors.ts"
import { make, type PublisherOptions, type ReporterHealth } from "./Publisher.ts"
import { fromPromise, type PromiseReporter, type ScopedReporter } from "./Reporter.ts"
import { makeRuntimeStatusDecoder, type RuntimeStatus } from "./RuntimeStatus.ts"

/** Options of `start`: the publisher's, with Promise-based reporters and a Promise pull source allowed. */
export interface StartOptions extends Omit<PublisherOptions, "reporters" | "pull" | "initial"> {
  /** Promise reporters, Effect reporters (`Reporter.make`) and scoped ones, mixed. */
  readonly reporters: ReadonlyArray<ScopedReporter | PromiseReporter>
  /** Called on every tick; its result is validated like `update`'s input. */
  readonly pull?: () => unknown
  readonly initial?: unknown
}

/** A running publisher, driven with Promises. */
export interface RunningPublisher {
  /** Validates and pushes a status; throws `InvalidStatusError` naming the bad field. */
  readonly update: (status: unknown) => void
  /** The health of every reporter. */
  readonly health: () => ReadonlyArray<ReporterHealth>
  /** Flushes the final status (bounded by `stopTimeout`) and releases everything. */
  readonly stop: () => Promise<void>
}

const validator =
  (decode: (input: unknown) => RuntimeStatus) =>
  (input: unknown): RuntimeStatus => {
    try {
      return decode(input)
    } catch (error) {
      throw new InvalidStatusError({
        message: `invalid RuntimeStatus: ${error instanceof Error ? error.message : String(error)}`
      })
    }
  }

/**
 * Starts a publisher without writing Effect code. Reporters may be plain Promise reporters
 * (`{ name, report: async (status) => ... }`) or Effect reporters from `Reporter.make`.
 *
 * @example
 * ```ts
 * import { start } from "@vmcp-status/core"
 *
 * const publisher = await start({
 *   reporters: [{ name: "console", report: async (status) => console.log(status.phase) }]
 * })
 * publisher.update({ phase: "Ready", message: "ok", backends: [], totalToolCount: 0, healthyBackends: 0,
 *   degradedBackends: 0, unhealthyBackends: 0, unknownBackends: 0, conditions: [], observedAt: "2026-11-25T18:00:00Z" })
 * await publisher.stop()
 * ```
 */
export const start = async (options: StartOptions): Promise<RunningPublisher> => {
  const scope = Scope.makeUnsafe()
  const { pull, initial, reporters, ...rest } = options
  // Statuses arrive one after another: backends unchanged since the last one are not decoded again.
  const validate = validator(makeRuntimeStatusDecoder())
  const publisherOptions: PublisherOptions = {
    ...rest,
    reporters: reporters.map((r) => ("_tag" in r ? r : fromPromise(r))),
    ...(pull === undefined ? {} : { pull: Effect.promise(async () => validate(await pull())) }),
    ...(initial === undefined ? {} : { initial: validate(initial) })
  }
  const exit = await Effect.runPromiseExit(Scope.provide(make(publisherOptions), scope))
  if (Exit.isFailure(exit)) {
    await Effect.runPromise(Scope.close(scope, exit))
    throw Cause.squash(exit.cause)
  }
  const publisher = exit.value
  return {
    update: (status) => {
      Effect.runSync(publisher.update(validate(status)))
    },
    health: () => Effect.runSync(publisher.health),
    stop: () => Effect.runPromise(Effect.andThen(publisher.stop, Scope.close(scope, Exit.void)))
  }
}
