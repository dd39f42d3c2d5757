export {
  BackendRestarting,
  describeSessionEvent,
  type ProcessEnd,
  refreshDueAt,
  restartDelayMs,
  SessionDefaults,
  type SessionEvent,
  type SessionPhase
} from "@vmcp-status/mcp"
export * from "./Config.ts"
export * from "./cli/CommandLine.ts"
export * from "./cli/Commands.ts"
export * from "./cli/RecheckCommand.ts"
export * from "./cli/ServeCommand.ts"
export * from "./cli/StatusCommand.ts"
export * from "./cli/StatusSource.ts"
export * from "./cli/StatusView.ts"
export * from "./cli/Terminal.ts"
export * from "./gateway/Aggregation.ts"
export * from "./gateway/BackendConnection.ts"
export * from "./gateway/BoundedFetch.ts"
export * from "./gateway/CallLimiter.ts"
export * from "./gateway/Gateway.ts"
export * from "./gateway/McpEndpoint.ts"
export * from "./gateway/ToolErrors.ts"
export * from "./manifests/Manifests.ts"
export * from "./server/Auth.ts"
export * from "./server/EarlyListen.ts"
export * from "./server/Events.ts"
export * from "./server/HttpServer.ts"
export * from "./server/RequestPolicy.ts"
export * from "./server/Serve.ts"
export * from "./status/Readiness.ts"
export * from "./status/Recheck.ts"
export * from "./status/Reporters.ts"
export * from "./status/Status.ts"
export * from "./status/StatusFeed.ts"
export * from "./status/StatusPage.ts"
export * from "./status/StatusStream.ts"
export * from "./Version.ts"
