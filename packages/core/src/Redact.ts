/** What replaces a secret. */
export const REDACTED = "REDACTED"

/** The longest backend message `makeRedactor` lets through by default; longer text is cut with a marker. */
export const MAX_REDACTED_LENGTH = 500

/**
 * Known secrets shorter than this are not searched for: they would match ordinary words and
 * numbers (`DEBUG=1`) and mangle every message, and they are too short to be credentials.
 */
export const MIN_SECRET_LENGTH = 6

/** Path segments with a well-known credential prefix (JWTs, GitHub, OpenAI, Slack, GitLab, AWS keys). */
const TOKEN_PREFIX = /^(eyJ|sk-|ghp_|gho_|ghs_|ghu_|github_pat_|xox[abprs]-|glpat-|AKIA)/

/**
 * Whether a URL path segment looks like a credential rather than a route: a well-known token
 * prefix, 16+ characters mixing letters and digits, or 32+ characters of anything. Routes such
 * as `mcp`, `v1`, `api`, `github-mcp` stay.
 */
const looksLikeToken = (segment: string): boolean => {
  if (segment.length >= 8 && TOKEN_PREFIX.test(segment)) return true
  if (segment.length >= 32) return true
  return segment.length >= 16 && /[0-9]/.test(segment) && /[A-Za-z]/.test(segment)
}

/**
 * Redacts credentials from a URL: the userinfo (`user:password@`), the value of every query
 * parameter (names stay, so a reader still sees which parameters were sent), the fragment,
 * and path segments that look like tokens. A string that is not a URL is replaced whole, since
 * it cannot be safely parsed.
 *
 * @example
 * ```ts
 * import { redactUrl } from "@vmcp-status/core"
 *
 * redactUrl("https://bob:hunter2@mcp.example.com/mcp?pass=abc&region=eu")
 * // "https://REDACTED@mcp.example.com/mcp?pass=REDACTED&region=REDACTED"
 * redactUrl("https://hooks.example.com/t/a1b2c3d4e5f6a7b8c9d0/mcp")
 * // "https://hooks.example.com/t/REDACTED/mcp"
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
  if (url.search !== "") {
    const names = [...url.searchParams.keys()]
    url.search = names.map((name) => `${encodeURIComponent(name)}=${REDACTED}`).join("&")
  }
  if (url.hash !== "") url.hash = REDACTED
  url.pathname = url.pathname
    .split("/")
    .map((segment) => (looksLikeToken(safeDecode(segment)) ? REDACTED : segment))
    .join("/")
  let out = url.toString()
  if (hadUserinfo) out = out.replace("://", `://${REDACTED}@`)
  return out
}

const safeDecode = (segment: string): string => {
  try {
    return decodeURIComponent(segment)
  } catch {
    return segment
  }
}

/**
 * The secret parts of a URL, to give `makeRedactor` as known secrets: the userinfo, every query
 * value and the path segments that look like tokens (only those of `MIN_SECRET_LENGTH` or more
 * count). Not a URL: nothing.
 *
 * @example
 * ```ts
 * import { secretsOfUrl } from "@vmcp-status/core"
 *
 * secretsOfUrl("https://bob:hunter2@x.io/mcp?jwt=eyJhbGciOi") // ["hunter2", "eyJhbGciOi"] (and "bob" is too short)
 * ```
 */
export const secretsOfUrl = (input: string): ReadonlyArray<string> => {
  let url: URL
  try {
    url = new URL(input)
  } catch {
    return []
  }
  const out = [safeDecode(url.username), safeDecode(url.password), ...url.searchParams.values()]
  if (url.hash.length > 1) out.push(url.hash.slice(1))
  for (const segment of url.pathname.split("/")) {
    const decoded = safeDecode(segment)
    if (looksLikeToken(decoded)) out.push(decoded, segment)
  }
  return out.filter((s) => s.length >= MIN_SECRET_LENGTH)
}

const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>\\]+/gi
const BEARER = /\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+/gi
/** Field names whose value is a credential: `authorization`, `x-api-key`, `cookie`, `token`, `secret`, `password`, ... */
const SECRET_KEY =
  "[A-Za-z0-9_-]*(?:authorization|api[-_]?key|cookie|token|secret|passw(?:or)?d|pwd|credential|private[-_]?key)[A-Za-z0-9_-]*"
/**
 * A secret field with its value, in JSON (`"token": "v"`, also JSON inside a JSON string:
 * `\"token\":\"v\"`), header (`X-Api-Key: v`) or form (`password=v`) style. The value is a
 * quoted string, or an optional auth scheme and one word.
 */
const SECRET_FIELD = new RegExp(
  String.raw`(\\?["']?)(${SECRET_KEY})\1(\s*[:=]\s*)(?:(\\?["'])(.*?)\4|((?:bearer|basic|token|digest|apikey)\s+)?[^\s,;&"'<>{}()\[\]\\]+)`,
  "gi"
)

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

/** The forms a secret takes in text: as is, URL-encoded, JSON-escaped, and its words (a header's `Bearer <token>`). */
const secretForms = (secret: string): ReadonlyArray<string> => {
  const words = secret.split(/\s+/).filter((w) => w.length >= MIN_SECRET_LENGTH)
  const forms = [secret, encodeURIComponent(secret), JSON.stringify(secret).slice(1, -1), ...words]
  return forms.filter((f) => f.length >= MIN_SECRET_LENGTH)
}

/** Turns text into text that may leave the process. Pure. */
export type Redactor = (text: string) => string

/** Options of `makeRedactor`. */
export interface RedactorOptions {
  /**
   * Known secrets: the header values the gateway sends, the env values of a stdio backend,
   * tokens, the secret parts of a URL (`secretsOfUrl`). Removed wherever they appear (also
   * URL-encoded or JSON-escaped); values shorter than `MIN_SECRET_LENGTH` are ignored.
   */
  readonly secrets?: ReadonlyArray<string | undefined>
  /** Longest output; longer text is cut and marked (default `MAX_REDACTED_LENGTH`; `Infinity` keeps all). */
  readonly maxLength?: number
}

/**
 * Makes the one redaction function for text that leaves the process (log lines, status
 * messages, Events, tool errors returned to clients, CLI output). In order it removes:
 * the known `secrets`; every URL's userinfo, query values, fragment and token-like path
 * segments (`redactUrl`); `Bearer`/`Basic` credentials; the values of secret-named fields in
 * JSON, header or form style (`"authorization": "…"`, `x-api-key: …`, `cookie`, `token`,
 * `secret`, `password`); then cuts the text to `maxLength` with a marker. Keys, parameter
 * names and the rest of the message stay, so the text still says what went wrong.
 *
 * @example
 * ```ts
 * import { makeRedactor } from "@vmcp-status/core"
 *
 * const redact = makeRedactor({ secrets: ["k3y-value-42"] })
 * redact('HTTP 500: {"authorization":"Bearer s3cret","x-api-key":"k3y-value-42"}')
 * // 'HTTP 500: {"authorization":"REDACTED","x-api-key":"REDACTED"}'
 * ```
 */
export const makeRedactor = (options: RedactorOptions = {}): Redactor => {
  const maxLength = options.maxLength ?? MAX_REDACTED_LENGTH
  const forms = [
    ...new Set((options.secrets ?? []).flatMap((s) => (s === undefined ? [] : secretForms(s))))
  ].sort((a, b) => b.length - a.length)
  const known = forms.length === 0 ? undefined : new RegExp(forms.map(escapeRegExp).join("|"), "g")
  return (text) => {
    let out = known === undefined ? text : text.replace(known, REDACTED)
    out = out
      .replace(URL_IN_TEXT, (match) => redactUrl(match))
      .replace(BEARER, (_m, scheme: string) => `${scheme} ${REDACTED}`)
      .replace(
        SECRET_FIELD,
        (
          _m,
          keyQuote: string,
          key: string,
          separator: string,
          valueQuote: string | undefined,
          _quoted: string | undefined,
          scheme: string | undefined
        ) => {
          const quote = valueQuote ?? ""
          return `${keyQuote}${key}${keyQuote}${separator}${quote}${scheme ?? ""}${REDACTED}${quote}`
        }
      )
    if (out.length <= maxLength) return out
    return `${out.slice(0, maxLength)}… [${out.length - maxLength} more characters cut]`
  }
}

/**
 * `makeRedactor` without known secrets or a length bound: for text that carries no backend's
 * credentials by construction (status messages, log lines), so the patterns still apply.
 *
 * @example
 * ```ts
 * import { redactText } from "@vmcp-status/core"
 *
 * redactText("connect ECONNREFUSED http://u:p@10.0.0.1:8080/mcp") // "connect ECONNREFUSED http://REDACTED@10.0.0.1:8080/mcp"
 * ```
 */
export const redactText: Redactor = makeRedactor({ maxLength: Number.POSITIVE_INFINITY })
