/** What replaces a secret. */
export const REDACTED = "REDACTED"

const SECRET_PARAM = /(token|key|secret|passw(or)?d|pwd|auth|credential|signature|^sig$|session|cookie)/i

/**
 * Redacts credentials from a URL: the userinfo (`user:password@`) and the values of query
 * parameters whose name looks secret (`token`, `api_key`, `secret`, `password`, `auth`, ...).
 * A string that is not a URL is replaced whole, since it cannot be safely parsed.
 *
 * @example
 * ```ts
 * import { redactUrl } from "@vmcp-status/core"
 *
 * redactUrl("https://bob:hunter2@mcp.example.com/mcp?token=abc&region=eu")
 * // "https://REDACTED@mcp.example.com/mcp?token=REDACTED&region=eu"
 * ```
 */
export const redactUrl = (input: string): string => {
  let url: URL
  try {
    url = new URL(input)
  } catch {
    return "[unparseable URL]"
  }
  const hadUserinfo = url.username !== "" || url.password !== ""
  url.username = ""
  url.password = ""
  for (const name of [...url.searchParams.keys()]) {
    if (SECRET_PARAM.test(name)) url.searchParams.set(name, REDACTED)
  }
  let out = url.toString()
  if (hadUserinfo) out = out.replace("://", `://${REDACTED}@`)
  return out.replaceAll(encodeURIComponent(REDACTED), REDACTED)
}

const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi
const BEARER = /\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+/gi

/**
 * Redacts every URL inside free text (error messages, log lines) with `redactUrl`, and
 * `Bearer`/`Basic` credentials.
 *
 * @example
 * ```ts
 * import { redactText } from "@vmcp-status/core"
 *
 * redactText("connect ECONNREFUSED http://u:p@10.0.0.1:8080/mcp") // "connect ECONNREFUSED http://REDACTED@10.0.0.1:8080/mcp"
 * ```
 */
export const redactText = (text: string): string =>
  text
    .replace(URL_IN_TEXT, (match) => redactUrl(match))
    .replace(BEARER, (_m, scheme: string) => `${scheme} ${REDACTED}`)
