/**
 * @vmcp-status/mcp: the MCP plumbing the gateway (apps/vmcp), the health checks
 * (@vmcp-status/health) and the testkit share, so that each protocol detail lives in one place:
 * backend sessions (one supervised session per backend: start timeout, restarts, coalescing)
 * and Streamable HTTP serving for both protocol eras (2025 sessions and 2026-07-28).
 */
export const PACKAGE = "@vmcp-status/mcp"

export * from "./BackendSession.ts"
export * from "./ClientIdentity.ts"
export * from "./Errors.ts"
export * from "./HttpServing.ts"
export type { ProcessEnd } from "./internal/ProcessTransport.ts"
export * from "./ResponseBound.ts"
export * from "./SessionDefaults.ts"
export * from "./SessionEvent.ts"
