import { IncomingMessage } from "node:http"
import { Socket } from "node:net"
import type { AuthInfo } from "@modelcontextprotocol/server"
import { describe, expect, it } from "vitest"
import { clientIdentity } from "../src/ClientIdentity.ts"

describe("the client identity", () => {
  const req = (remoteAddress: string, auth?: AuthInfo) =>
    Object.assign(new IncomingMessage(new Socket()), auth === undefined ? {} : { auth }, {
      socket: { remoteAddress }
    }) as IncomingMessage & { auth?: AuthInfo }

  it.each([
    ["an IPv4 peer", req("10.0.0.7"), "addr:10.0.0.7"],
    ["an IPv4-mapped IPv6 peer", req("::ffff:10.0.0.7"), "addr:10.0.0.7"],
    ["an IPv6 peer", req("::1"), "addr:::1"],
    [
      "an authenticated subject, never the token",
      req("10.0.0.7", { token: "s3cret", clientId: "ci", scopes: [], extra: { sub: "alice" } }),
      "auth:alice"
    ],
    [
      "an authenticated client without subject",
      req("10.0.0.7", { token: "s3cret", clientId: "ci", scopes: [] }),
      "auth:ci"
    ]
  ])("of %s", (_name, request, identity) => {
    expect(clientIdentity(request)).toBe(identity)
  })
})
