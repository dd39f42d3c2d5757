import { type BackendHealth, deriveStatus } from "@vmcp-status/core"
import { describe, expect, it } from "vitest"
import { checkRequest, makeRequestPolicy } from "../src/server/RequestPolicy.ts"
import { readiness } from "../src/status/Readiness.ts"

const loopback = makeRequestPolicy({ host: "127.0.0.1", allowedOrigins: ["https://console.example"] })
const pod = makeRequestPolicy({ host: "0.0.0.0", allowedHosts: ["vmcp.example.com", "vmcp.ns.svc:4483"] })
const open = makeRequestPolicy({ host: "0.0.0.0" })

describe("checkRequest: Origin and Host (DNS rebinding)", () => {
  it.each([
    // policy, path, host, origin, allowed
    ["loopback", loopback, "/mcp", "127.0.0.1:4483", undefined, true],
    ["loopback", loopback, "/mcp", "127.0.0.1:4483", "http://localhost:5173", true],
    ["loopback", loopback, "/mcp", "127.0.0.1:4483", "http://127.0.0.1", true],
    ["loopback", loopback, "/mcp", "127.0.0.1:4483", "http://[::1]:3000", true],
    ["loopback", loopback, "/mcp", "127.0.0.1:4483", "https://console.example", true],
    ["loopback", loopback, "/mcp", "127.0.0.1:4483", "https://console.example:8443", false],
    ["loopback", loopback, "/mcp", "127.0.0.1:4483", "http://evil.example", false],
    ["loopback", loopback, "/mcp", "127.0.0.1:4483", "http://localhost.evil.example", false],
    ["loopback", loopback, "/mcp", "127.0.0.1:4483", "null", false],
    ["loopback", loopback, "/status", "localhost:4483", undefined, true],
    ["loopback", loopback, "/status", "[::1]:4483", undefined, true],
    ["loopback", loopback, "/status", "evil.example:4483", undefined, false],
    ["loopback", loopback, "/healthz", "evil.example", undefined, false],
    ["loopback", loopback, "/metrics", undefined, undefined, false],
    ["pod", pod, "/mcp", "vmcp.example.com", undefined, true],
    ["pod", pod, "/mcp", "VMCP.example.com:8080", undefined, true],
    ["pod", pod, "/mcp", "vmcp.ns.svc:4483", undefined, true],
    ["pod", pod, "/mcp", "vmcp.ns.svc:80", undefined, false],
    ["pod", pod, "/status", "evil.example", undefined, false],
    ["pod", pod, "/readyz", "10.0.0.7:4483", undefined, true],
    ["pod", pod, "/healthz", "10.0.0.7:4483", undefined, true],
    ["pod", pod, "/healthz", "10.0.0.7:4483", "http://evil.example", false],
    ["pod", pod, "/status", "localhost:4483", undefined, true],
    ["open", open, "/status", "anything.example", undefined, true],
    ["open", open, "/mcp", "anything.example", "http://evil.example", false]
  ] as const)("%s %s Host %s Origin %s: %s", (_name, policy, path, host, origin, allowed) => {
    expect(checkRequest(policy, { path, host, origin }).ok).toBe(allowed)
  })

  it("says which rule refused and which key widens it", () => {
    expect(
      checkRequest(loopback, { path: "/mcp", host: "127.0.0.1", origin: "http://evil.example" })
    ).toEqual({
      ok: false,
      message:
        'Forbidden: Origin "http://evil.example" is not allowed (loopback origins and listen.allowedOrigins are)'
    })
    expect(checkRequest(pod, { path: "/mcp", host: "evil.example", origin: undefined })).toEqual({
      ok: false,
      message: 'Forbidden: Host "evil.example" is not in listen.allowedHosts'
    })
  })
})

describe("readiness: traffic only while something is routable", () => {
  const now = "2026-11-27T23:00:00Z"
  const backend = (name: string, health: BackendHealth) => ({
    name,
    transport: "streamable-http" as const,
    health,
    message: "",
    toolCount: 1,
    consecutiveFailures: 0,
    circuit: "closed" as const,
    lastCheckTime: now,
    lastTransitionTime: now
  })
  const status = (...backends: Array<ReturnType<typeof backend>>) =>
    deriveStatus({ backends, initialRoundComplete: true, now })

  it.each([
    ["zero backends", status(), { ready: true, phase: "Ready" }],
    ["all healthy", status(backend("a", "healthy")), { ready: true, phase: "Ready" }],
    [
      "one of two down",
      status(backend("a", "healthy"), backend("b", "unhealthy")),
      { ready: true, phase: "Degraded" }
    ],
    [
      "all degraded",
      status(backend("a", "degraded"), backend("b", "degraded")),
      { ready: true, phase: "Degraded" }
    ],
    [
      "all down",
      status(backend("a", "unhealthy"), backend("b", "unhealthy")),
      { ready: false, phase: "Failed", reason: "no backend is routable (0 of 2)" }
    ]
  ] as const)("%s", (_name, current, expected) => {
    expect(readiness({ stopping: false, initialRoundComplete: true, status: current })).toEqual(expected)
  })

  it("is not ready before the first round or while stopping", () => {
    expect(readiness({ stopping: false, initialRoundComplete: false, status: undefined })).toEqual({
      ready: false,
      reason: "waiting for the first health round"
    })
    expect(readiness({ stopping: true, initialRoundComplete: true, status: status() })).toEqual({
      ready: false,
      reason: "shutting down"
    })
  })
})
