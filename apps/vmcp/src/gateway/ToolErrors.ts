import type { CallToolResult } from "@modelcontextprotocol/server"
import type { Redactor } from "@vmcp-status/core"

/**
 * A backend's tool result as it may reach a client: an error result (`isError: true`) is backend
 * text about a failure, which may echo what the gateway sent (headers, URLs, tokens), so its text
 * passes the backend's redactor (bounded, as every backend message) and its `structuredContent`
 * is dropped. Successful results pass unchanged: they are the tool's output.
 *
 * @example
 * ```ts
 * import { makeRedactor } from "@vmcp-status/core"
 * import { redactErrorResult } from "@vmcp-status/vmcp"
 *
 * redactErrorResult({ isError: true, content: [{ type: "text", text: "bad token s3cret" }] }, makeRedactor({ secrets: ["s3cret"] }))
 * // { isError: true, content: [{ type: "text", text: "bad token REDACTED" }] }
 * ```
 */
export const redactErrorResult = (result: CallToolResult, redact: Redactor): CallToolResult => {
  if (result.isError !== true) return result
  const { structuredContent: _dropped, ...rest } = result
  return {
    ...rest,
    content: result.content.map((item) => {
      if (item.type === "text") return { ...item, text: redact(item.text) }
      if (item.type === "resource" && "text" in item.resource)
        return { ...item, resource: { ...item.resource, text: redact(item.resource.text) } }
      return item
    })
  }
}
