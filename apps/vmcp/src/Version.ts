// The bundler inlines the version at build time: `vmcp --version` reads no file.
import { version } from "../package.json"

/**
 * The app's version, from its package.json: what `vmcp --version` prints and MCP clients see in
 * `serverInfo`.
 *
 * @example
 * ```ts
 * import { VERSION } from "@vmcp-status/vmcp"
 *
 * console.log(`vmcp ${VERSION}`)
 * ```
 */
export const VERSION: string = version
