/**
 * @vmcp-status/mcp: the MCP plumbing the gateway (apps/vmcp), the health checks
 * (@vmcp-status/health) and the testkit share, so that each protocol detail lives in one place.
 */
export const PACKAGE = "@vmcp-status/mcp"
