import { createServer } from "node:net"
import { describe, expect, it } from "@effect/vitest"
import { categorize } from "../src/index.ts"

/** A loopback port with nothing listening: bind one, close it. */
const closedPort = () =>
  new Promise<number>((resolve) => {
    const server = createServer()
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0))
    })
  })

describe("categorize", () => {
  it("reads a real refused connection from fetch's cause chain", async () => {
    const port = await closedPort()
    const error = await fetch(`http://127.0.0.1:${port}/mcp?token=abc`).catch((e: unknown) => e)
    expect(categorize(error)).toEqual({ category: "connection_refused", detail: "ECONNREFUSED" })
  })

  it.each([
    [
      "SDK HTTP 401",
      Object.assign(new Error("Error POSTing to endpoint"), { status: 401 }),
      "auth_failed",
      "HTTP 401"
    ],
    ["HTTP 403 in data", Object.assign(new Error("x"), { data: { status: 403 } }), "auth_failed", "HTTP 403"],
    ["HTTP 429", Object.assign(new Error("x"), { status: 429 }), "rate_limited", "HTTP 429"],
    ["HTTP 502", Object.assign(new Error("x"), { status: 502 }), "http_error", "HTTP 502"],
    [
      "SDK request timeout",
      Object.assign(new Error("x"), { code: "REQUEST_TIMEOUT" }),
      "timeout",
      "request timed out"
    ],
    [
      "SDK connection closed",
      Object.assign(new Error("x"), { code: "CONNECTION_CLOSED" }),
      "connection_reset",
      "connection closed"
    ],
    ["not connected", new Error("Not connected"), "connection_reset", "connection closed"],
    [
      "reset",
      new TypeError("fetch failed", { cause: Object.assign(new Error("socket"), { code: "ECONNRESET" }) }),
      "connection_reset",
      "ECONNRESET"
    ],
    [
      "dns",
      new TypeError("fetch failed", {
        cause: Object.assign(new Error("getaddrinfo"), { code: "ENOTFOUND" })
      }),
      "dns_failure",
      "ENOTFOUND"
    ],
    [
      "tls",
      Object.assign(new Error("x"), { code: "DEPTH_ZERO_SELF_SIGNED_CERT" }),
      "tls_error",
      "DEPTH_ZERO_SELF_SIGNED_CERT"
    ],
    [
      "aggregate",
      new AggregateError([Object.assign(new Error("a"), { code: "ECONNREFUSED" })]),
      "connection_refused",
      "ECONNREFUSED"
    ],
    [
      "JSON-RPC error",
      Object.assign(new Error("boom"), { name: "ProtocolError", code: -32603 }),
      "protocol_error",
      "JSON-RPC error -32603"
    ],
    [
      "response cut off at the client's bound",
      Object.assign(new Error("too large"), { code: "RESPONSE_TOO_LARGE" }),
      "response_too_large",
      "response too large"
    ],
    [
      "JSON-RPC error answering a cut-off response",
      Object.assign(new Error("too large"), {
        name: "ProtocolError",
        code: -32001,
        data: { code: "RESPONSE_TOO_LARGE" }
      }),
      "response_too_large",
      "response too large"
    ],
    [
      "spawn failure",
      Object.assign(new Error("spawn x ENOENT"), { code: "ENOENT" }),
      "process_exited",
      "ENOENT"
    ],
    [
      "a session owner's process exit",
      Object.assign(new Error("backend x: its process exited (signal SIGKILL); restarting"), {
        code: "PROCESS_EXITED"
      }),
      "process_exited",
      "process exited"
    ],
    [
      "a session start that outlasted its start timeout",
      Object.assign(new Error("start timed out after 60000 ms"), { code: "START_TIMEOUT" }),
      "timeout",
      "start timed out"
    ],
    ["anything else", new Error("http://user:secret@host/ token=abc"), "probe_error", "probe failed"],
    ["not an error", "oops", "probe_error", "probe failed"]
  ] as const)("%s → %s", (_name, error, category, detail) => {
    expect(categorize(error)).toEqual({ category, detail })
  })

  it("never copies error text (URLs, tokens) into the detail", () => {
    const error = Object.assign(new Error("GET http://u:p@10.0.0.1/?token=s3cret failed"), {
      code: "ECONNREFUSED"
    })
    expect(JSON.stringify(categorize(error))).not.toMatch(/s3cret|10\.0\.0\.1/)
  })
})
