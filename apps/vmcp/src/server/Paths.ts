/** The well-known path of RFC 9728 metadata; the MCP spec also has clients try it suffixed with the MCP path. */
export const PROTECTED_RESOURCE_PATH = "/.well-known/oauth-protected-resource"

/**
 * The paths the server answers. A module of its own so that the CLI's help texts and `vmcp
 * status` name them without loading the server.
 */
export const Paths = {
  mcp: "/mcp",
  healthz: "/healthz",
  readyz: "/readyz",
  status: "/status",
  page: "/",
  statusStream: "/status/stream",
  metrics: "/metrics",
  protectedResource: PROTECTED_RESOURCE_PATH
} as const
