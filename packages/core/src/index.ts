export * from "./Backend.ts"
export * from "./Backoff.ts"
export * from "./Canonical.ts"
export * from "./Condition.ts"
export * from "./Errors.ts"
export * from "./History.ts"
export * from "./Phase.ts"
export * from "./PromiseApi.ts"
export type { PublisherOptions, ReporterHealth } from "./Publisher.ts"
export * as Publisher from "./Publisher.ts"
export * from "./Redact.ts"
export type {
  PromiseReporter,
  ReportContext,
  ReporterSource,
  ReportOutcome,
  ReportTrigger,
  ScopedReporter
} from "./Reporter.ts"
export * as Reporter from "./Reporter.ts"
export * from "./RuntimeStatus.ts"
export * from "./StableJson.ts"
export * from "./Timestamp.ts"
export * from "./Transition.ts"
