export * from "./Aggregation.ts"
export * from "./Auth.ts"
export * from "./BackendConnection.ts"
export {
  BackendRestarting,
  describeSessionEvent,
  type LineRing,
  makeLineRing,
  type ProcessEnd,
  refreshDueAt,
  restartDelayMs,
  SessionDefaults,
  type SessionEvent,
  type SessionPhase
} from "./BackendSession.ts"
export * from "./BoundedFetch.ts"
export * from "./CallLimiter.ts"
export * from "./ClientIdentity.ts"
export * from "./CommandLine.ts"
export * from "./Commands.ts"
export * from "./Config.ts"
export * from "./Gateway.ts"
export * from "./HttpServer.ts"
export * from "./Manifests.ts"
export * from "./McpEndpoint.ts"
export * from "./Readiness.ts"
export * from "./Recheck.ts"
export * from "./RecheckCommand.ts"
export * from "./Reporters.ts"
export * from "./RequestPolicy.ts"
export * from "./Serve.ts"
export * from "./SessionTable.ts"
export * from "./Status.ts"
export * from "./StatusCommand.ts"
export * from "./StatusFeed.ts"
export * from "./StatusPage.ts"
export * from "./StatusSource.ts"
export * from "./StatusStream.ts"
export * from "./StatusView.ts"
export * from "./Terminal.ts"
export * from "./ToolErrors.ts"
export * from "./Version.ts"
