/**
 * `/status/stream` and the history in `/status`: the real HTTP server on loopback, statuses
 * published into a real feed, and plain `fetch` reading the event stream as a script would.
 */
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { backendReport, deriveStatus, type RuntimeStatus } from "@vmcp-status/core"
import { eventually } from "@vmcp-status/testkit"
import { afterEach, describe, expect, it } from "vitest"
import { makeStatusFeed, type StatusFeed } from "../src/status/StatusFeed.ts"
import { makeStatusStreams, type StatusStreams } from "../src/status/StatusStream.ts"
import { openSse, type SseReader } from "./sse.ts"
import { serveFeed } from "./wiring.ts"

const cleanups: Array<() => Promise<unknown> | unknown> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

const statusAt = (time: string, health: "healthy" | "unhealthy", message = ""): RuntimeStatus =>
  deriveStatus({
    backends: [
      backendReport({
        name: "alpha",
        health,
        lastTransitionTime: time,
        ...(message === "" ? {} : { message })
      })
    ],
    initialRoundComplete: true,
    now: time
  })

const startApp = async (feed: StatusFeed) => {
  const { http, close } = await serveFeed(feed)
  cleanups.push(close)
  return http
}

const open = async (url: string) => {
  const reader = await openSse(url)
  cleanups.push(() => reader.close())
  return reader
}

const statusEvent = async (reader: SseReader) =>
  JSON.parse((await reader.next((m) => m.type === "status")).data) as RuntimeStatus & {
    history: ReadonlyArray<{ name: string; healthySince?: string; lastFailureReason?: string }>
  }

describe("/status/stream", () => {
  it("sends the current status with its history at once, then every change", async () => {
    const feed = makeStatusFeed()
    feed.publish(statusAt("2026-12-02T12:00:00Z", "healthy"))
    const http = await startApp(feed)

    const reader = await open(`${http.url}/status/stream`)
    expect(reader.status).toBe(200)
    expect(reader.headers.get("content-type")).toMatch(/^text\/event-stream/)
    const first = await statusEvent(reader)
    expect(first.phase).toBe("Ready")
    expect(first.backends.map((b) => [b.name, b.health])).toEqual([["alpha", "healthy"]])
    expect(first.history).toMatchObject([{ name: "alpha", healthySince: "2026-12-02T12:00:00Z" }])

    feed.publish(statusAt("2026-12-02T12:05:00Z", "unhealthy", "connection refused"))
    const second = await statusEvent(reader)
    expect(second.phase).toBe("Failed")
    expect(second.history).toMatchObject([{ name: "alpha", lastFailureReason: "connection refused" }])
    expect(second.history[0]?.healthySince).toBeUndefined()
  })

  it("waits for the first status when there is none yet", async () => {
    const feed = makeStatusFeed()
    const http = await startApp(feed)
    const reader = await open(`${http.url}/status/stream`)
    expect(reader.status).toBe(200)
    feed.publish(statusAt("2026-12-02T12:00:00Z", "healthy"))
    expect((await statusEvent(reader)).phase).toBe("Ready")
  })

  it("/status carries the same history", async () => {
    const feed = makeStatusFeed()
    feed.publish(statusAt("2026-12-02T12:00:00Z", "healthy"))
    feed.publish(statusAt("2026-12-02T12:30:00Z", "unhealthy", "boom"))
    const http = await startApp(feed)
    const body = (await (await fetch(`${http.url}/status`)).json()) as {
      history: ReadonlyArray<{ transitions: ReadonlyArray<{ to: string }>; lastFailureReason: string }>
    }
    expect(body.history).toHaveLength(1)
    expect(body.history[0]?.transitions.map((t) => t.to)).toEqual(["healthy", "unhealthy"])
    expect(body.history[0]?.lastFailureReason).toBe("boom")
  })
})

describe("StatusStreams", () => {
  const serve = async (streams: StatusStreams) => {
    const server: Server = createServer((req, res) => streams.handle(req, res))
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          streams.close()
          server.close(() => resolve())
          server.closeAllConnections()
        })
    )
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  }

  it("sends a heartbeat comment so proxies keep the stream open", async () => {
    const feed = makeStatusFeed()
    const url = await serve(
      makeStatusStreams({
        document: () => feed.current(),
        subscribe: (l) => feed.subscribe(l),
        heartbeatMs: 50
      })
    )
    const reader = await open(url)
    expect(await reader.next((m) => m.type === "comment")).toEqual({ type: "comment", data: "heartbeat" })
  })

  it("refuses streams beyond the bound with 503 and frees a slot when a client goes away", async () => {
    const feed = makeStatusFeed()
    feed.publish(statusAt("2026-12-02T12:00:00Z", "healthy"))
    const streams = makeStatusStreams({
      document: () => feed.current(),
      subscribe: (l) => feed.subscribe(l),
      maxStreams: 2
    })
    const url = await serve(streams)
    const a = await open(url)
    await open(url)
    await a.next((m) => m.type === "status")
    const refused = await fetch(url)
    expect(refused.status).toBe(503)
    expect(refused.headers.get("retry-after")).toBe("5")
    expect(await refused.text()).toContain("at most 2")
    expect(streams.count()).toBe(2)

    a.close()
    await eventually("the closed stream to be forgotten", () => (streams.count() === 1 ? true : undefined))
    const again = await open(url)
    expect(again.status).toBe(200)
    expect((await statusEvent(again)).phase).toBe("Ready")
  })

  it("sends a change still pending when it closes, then ends the stream", async () => {
    const feed = makeStatusFeed()
    feed.publish(statusAt("2026-12-02T12:00:00Z", "healthy"))
    const streams = makeStatusStreams({
      document: () => feed.current(),
      subscribe: (l) => feed.subscribe(l),
      coalesceMs: 60_000
    })
    const url = await serve(streams)
    const reader = await open(url)
    expect((await statusEvent(reader)).phase).toBe("Ready")
    feed.publish(statusAt("2026-12-02T12:01:00Z", "unhealthy", "gone"))
    streams.close()
    expect((await statusEvent(reader)).phase).toBe("Failed")
    await expect(reader.next()).rejects.toThrow(/ended/)
  })

  it("stops listening to the feed once the last client is gone", async () => {
    let listeners = 0
    const feed = makeStatusFeed()
    const streams = makeStatusStreams({
      document: () => feed.current(),
      subscribe: (l) => {
        listeners++
        const stop = feed.subscribe(l)
        return () => {
          listeners--
          stop()
        }
      }
    })
    const url = await serve(streams)
    const reader = await open(url)
    expect(listeners).toBe(1)
    reader.close()
    await eventually("the feed to lose its listener", () => (listeners === 0 ? true : undefined))
  })
})
