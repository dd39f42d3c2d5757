import { describe, expect, it } from "vitest"
import { redactText, redactUrl } from "../src/index.ts"

describe("redactUrl", () => {
  it.each([
    ["userinfo", "https://bob:hunter2@mcp.example.com/mcp", "https://REDACTED@mcp.example.com/mcp"],
    ["user only", "https://ghp_abc@mcp.example.com/", "https://REDACTED@mcp.example.com/"],
    ["token", "http://127.0.0.1:8080/mcp?token=abc123", "http://127.0.0.1:8080/mcp?token=REDACTED"],
    [
      "api_key beside a harmless parameter",
      "https://x.io/?api_key=k&region=eu",
      "https://x.io/?api_key=REDACTED&region=eu"
    ],
    [
      "secret, password, auth",
      "https://x.io/?client_secret=s&password=p&auth=a",
      "https://x.io/?client_secret=REDACTED&password=REDACTED&auth=REDACTED"
    ],
    [
      "signature",
      "https://x.io/f?X-Amz-Signature=abc&sig=def",
      "https://x.io/f?X-Amz-Signature=REDACTED&sig=REDACTED"
    ],
    ["nothing secret", "https://x.io/mcp?page=2", "https://x.io/mcp?page=2"],
    ["not a URL", "not a url with token=abc", "[unparseable URL]"]
  ])("redacts %s", (_name, input, expected) => {
    const out = redactUrl(input)
    expect(out).toBe(expected)
    for (const secret of ["hunter2", "abc123", "ghp_abc", "=k&", "=s&", "=p&", "=a"])
      expect(out).not.toContain(secret)
  })
})

describe("redactText", () => {
  it("redacts URLs and bearer tokens inside free text", () => {
    const out = redactText(
      "connect ECONNREFUSED http://u:pw@10.0.0.1:8080/mcp?token=t0k (Authorization: Bearer eyJhbGciOi.x.y)"
    )
    expect(out).toBe(
      "connect ECONNREFUSED http://REDACTED@10.0.0.1:8080/mcp?token=REDACTED (Authorization: Bearer REDACTED)"
    )
  })
})
