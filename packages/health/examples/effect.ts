import { type InvalidOptionError, Publisher, Reporter, type ReporterStartError } from "@vmcp-status/core"
import {
  type BackendConfig,
  type HealthChecker,
  type HealthOptions,
  type InvalidHealthConfig,
  publishHealth
} from "@vmcp-status/health"
import { Effect, type Scope } from "effect"

export interface Running {
  readonly publisher: Publisher.Publisher
  readonly checker: HealthChecker.HealthChecker
}

/** Health checks (every 15 s unless `options` say otherwise) feeding a publisher with a log reporter, until the scope closes. */
export const checkAndLog = (
  backends: ReadonlyArray<BackendConfig>,
  options: Omit<HealthOptions, "backends"> = {}
): Effect.Effect<Running, InvalidHealthConfig | InvalidOptionError | ReporterStartError, Scope.Scope> =>
  Effect.gen(function* () {
    const publisher = yield* Publisher.make({
      reporters: [Reporter.make("log", (status) => Effect.log(`${status.phase}: ${status.message}`))]
    })
    const checker = yield* publishHealth(publisher, { interval: "15 seconds", ...options, backends })
    return { publisher, checker }
  })
