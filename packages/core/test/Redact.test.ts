import { describe, expect, it } from "vitest"
import { MAX_REDACTED_LENGTH, makeRedactor, redactText, redactUrl, secretsOfUrl } from "../src/index.ts"

describe("redactUrl", () => {
  it.each([
    ["userinfo", "https://bob:hunter2@mcp.example.com/mcp", "https://REDACTED@mcp.example.com/mcp"],
    ["user only", "https://ghp_abc@mcp.example.com/", "https://REDACTED@mcp.example.com/"],
    ["token", "http://127.0.0.1:8080/mcp?token=abc123", "http://127.0.0.1:8080/mcp?token=REDACTED"],
    [
      "every query value, names kept",
      "https://x.io/mcp?pass=hunter2&jwt=eyJhbGciOi.x.y&code=4f1c&region=eu",
      "https://x.io/mcp?pass=REDACTED&jwt=REDACTED&code=REDACTED&region=REDACTED"
    ],
    [
      "signature",
      "https://x.io/f?X-Amz-Signature=abc&sig=def",
      "https://x.io/f?X-Amz-Signature=REDACTED&sig=REDACTED"
    ],
    ["a fragment", "https://x.io/cb#access_token=abc123", "https://x.io/cb#REDACTED"],
    [
      "a token in the path",
      "https://hooks.x.io/t/a1b2c3d4e5f6a7b8c9d0/mcp",
      "https://hooks.x.io/t/REDACTED/mcp"
    ],
    ["a JWT in the path", "https://x.io/eyJhbGciOiJIUzI1/mcp", "https://x.io/REDACTED/mcp"],
    ["a GitHub token in the path", "https://x.io/ghp_abcdefgh/mcp", "https://x.io/REDACTED/mcp"],
    ["a long opaque segment", "https://x.io/abcdefghijklmnopqrstuvwxyzabcdefgh", "https://x.io/REDACTED"],
    ["routes stay", "https://x.io/api/v1/github-mcp/mcp", "https://x.io/api/v1/github-mcp/mcp"],
    ["nothing secret", "http://127.0.0.1:8080/mcp", "http://127.0.0.1:8080/mcp"],
    ["not a URL", "not a url with token=abc", "[unparseable URL]"]
  ])("redacts %s", (_name, input, expected) => {
    const out = redactUrl(input)
    expect(out).toBe(expected)
    for (const secret of ["hunter2", "abc123", "ghp_abc", "eyJ", "4f1c", "a1b2c3", "=eu", "=def"])
      expect(out).not.toContain(secret)
  })

  it("is idempotent", () => {
    const once = redactUrl("https://u:p@x.io/t/a1b2c3d4e5f6a7b8c9d0?pass=p#f")
    expect(redactUrl(once)).toBe(once)
  })
})

describe("secretsOfUrl", () => {
  it("lists the userinfo, query values and path tokens long enough to search for", () => {
    expect(
      secretsOfUrl("https://alice:hunter2@x.io/t/a1b2c3d4e5f6a7b8c9d0/mcp?jwt=eyJhbGciOi&page=2")
    ).toEqual(["hunter2", "eyJhbGciOi", "a1b2c3d4e5f6a7b8c9d0", "a1b2c3d4e5f6a7b8c9d0"])
    expect(secretsOfUrl("not a url")).toEqual([])
  })
})

describe("makeRedactor", () => {
  const redact = makeRedactor({
    secrets: ["Bearer s3cret-token", "k3y-value", "p@ss word!", "short", undefined]
  })

  it.each([
    [
      "a backend echoing the gateway's headers as JSON",
      'Error POSTing to endpoint (HTTP 500): {"authorization":"Bearer s3cret-token","x-api-key":"k3y-value","accept":"application/json"}',
      'Error POSTing to endpoint (HTTP 500): {"authorization":"REDACTED","x-api-key":"REDACTED","accept":"application/json"}'
    ],
    ["a known secret anywhere", "denied for k3y-value at the door", "denied for REDACTED at the door"],
    ["a header value's token alone", "token s3cret-token was refused", "token REDACTED was refused"],
    ["URL-encoded", "GET /x?q=p%40ss%20word! failed", "GET /x?q=REDACTED failed"],
    [
      "JSON-escaped",
      String.raw`{"msg":"p@ss word!"} and {\"msg\":\"p@ss word!\"}`,
      String.raw`{"msg":"REDACTED"} and {\"msg\":\"REDACTED\"}`
    ],
    ["too short to search for", "a short note", "a short note"]
  ])("removes %s", (_name, input, expected) => {
    expect(redact(input)).toBe(expected)
  })

  it.each([
    [
      "URLs in text",
      "connect ECONNREFUSED http://u:pw@10.0.0.1:8080/mcp?token=t0k&pass=pw2 (Authorization: Bearer eyJhbGciOi.x.y)",
      "connect ECONNREFUSED http://REDACTED@10.0.0.1:8080/mcp?token=REDACTED&pass=REDACTED (Authorization: Bearer REDACTED)"
    ],
    ["Basic credentials", "sent Basic Ym9iOmh1bnRlcjI=", "sent Basic REDACTED"],
    [
      "JSON secret fields",
      '{"Authorization": "Token abc", "X-API-Key": "k", "cookie": "sid=1; x=2", "access_token": "t", "client_secret": "s", "password": "p", "user": "bob"}',
      '{"Authorization": "REDACTED", "X-API-Key": "REDACTED", "cookie": "REDACTED", "access_token": "REDACTED", "client_secret": "REDACTED", "password": "REDACTED", "user": "bob"}'
    ],
    [
      "JSON inside a JSON string",
      String.raw`"{\"x-api-key\":\"abc\",\"ok\":1}"`,
      String.raw`"{\"x-api-key\":\"REDACTED\",\"ok\":1}"`
    ],
    ["header style", "x-api-key: abc123, accept: */*", "x-api-key: REDACTED, accept: */*"],
    ["form style", "login failed: user=bob&password=hunter2", "login failed: user=bob&password=REDACTED"],
    ["single quotes", "{'secret': 'abc'}", "{'secret': 'REDACTED'}"],
    ["plain text stays", "HTTP 500 Internal Server Error", "HTTP 500 Internal Server Error"]
  ])("redacts %s without being told the secret", (_name, input, expected) => {
    expect(makeRedactor()(input)).toBe(expected)
    expect(redactText(input)).toBe(expected)
  })

  it("cuts long text to the bound, with a marker, after redacting", () => {
    const long = `HTTP 500: ${"x".repeat(2000)} k3y-value`
    const out = redact(long)
    expect(out.length).toBeLessThan(MAX_REDACTED_LENGTH + 50)
    expect(out.startsWith("HTTP 500: xxx")).toBe(true)
    expect(out).toMatch(/… \[\d+ more characters cut\]$/)
    expect(makeRedactor({ maxLength: 10 })("0123456789abc")).toBe("0123456789… [3 more characters cut]")
    expect(redactText(long).length).toBe(long.length)
  })

  it("is idempotent", () => {
    const input = '{"authorization":"Bearer s3cret-token"} http://u:p@x.io/?a=1 Basic Ym9i'
    expect(redact(redact(input))).toBe(redact(input))
  })
})
