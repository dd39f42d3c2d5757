import { describe, expect, it } from "vitest"
import { parseWarningHeaders } from "../src/internal/KubeClient.ts"

describe("parseWarningHeaders", () => {
  it("reads the API server's form: code, agent, quoted text with escaped quotes", () => {
    expect(parseWarningHeaders(['299 - "unknown field \\"status.extra\\""'])).toEqual([
      { code: 299, agent: "-", text: 'unknown field "status.extra"' }
    ])
  })
  it("reads several warnings in one value (comma-separated) and in several headers", () => {
    expect(
      parseWarningHeaders([
        '299 - "unknown field \\"status.a\\"", 299 - "unknown field \\"status.b\\""',
        '299 kube-apiserver "c, with a comma" "Wed, 25 Nov 2026 18:00:00 GMT", 199 - "d"'
      ])
    ).toEqual([
      { code: 299, agent: "-", text: 'unknown field "status.a"' },
      { code: 299, agent: "-", text: 'unknown field "status.b"' },
      { code: 299, agent: "kube-apiserver", text: "c, with a comma" },
      { code: 199, agent: "-", text: "d" }
    ])
  })
  it("keeps what parsed before a malformed rest, and reads nothing from garbage", () => {
    expect(parseWarningHeaders(['299 - "a", nonsense', "nonsense", '299 - "unterminated'])).toEqual([
      { code: 299, agent: "-", text: "a" }
    ])
  })
})
