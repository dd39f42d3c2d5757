/**
 * The supervised backend session against real MCP servers: a stdio fixture process
 * (`fixtures/stdio-server.ts`) and a Streamable HTTP server on loopback. Every wait is for an
 * event of the session (or a promise settling); the bounds are for a hung test only.
 */
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { makeRedactor } from "@vmcp-status/core"
import { afterEach, describe, expect, it } from "vitest"
import {
  BackendRestarting,
  type BackendSession,
  type BackendSessionOptions,
  makeBackendSession,
  type SessionEvent,
  StartFailed
} from "../src/index.ts"
import { startHttpFixture } from "./fixtures/httpServer.ts"

const FIXTURE = fileURLToPath(new URL("./fixtures/stdio-server.ts", import.meta.url))
const clientInfo = { name: "mcp-test", version: "0.0.0" }
const BOUND = 30_000

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

const spawnLogFile = () => join(mkdtempSync(join(tmpdir(), "mcp-spawns-")), "pids")
const spawns = (file: string): ReadonlyArray<number> => {
  try {
    return readFileSync(file, "utf8")
      .split("\n")
      .filter((l) => l !== "")
      .map(Number)
  } catch {
    return []
  }
}
const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** A session over the stdio fixture, closed after the test; `events` records everything it announced. */
const stdioSession = (env: Record<string, string> = {}, extra: Partial<BackendSessionOptions> = {}) => {
  const session = makeBackendSession({
    name: "fixture",
    transport: { type: "stdio", command: process.execPath, args: [FIXTURE], env },
    clientInfo,
    ...extra
  })
  const events: Array<SessionEvent> = []
  session.subscribe((event) => events.push(event))
  cleanups.push(() => session.close())
  return { session, events }
}

/** Resolves with the first event (from now on) that satisfies `predicate`; rejects after `BOUND`. */
const nextEvent = <E extends SessionEvent>(
  session: BackendSession,
  predicate: (event: SessionEvent) => event is E
): Promise<E> =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stop()
      reject(new Error(`no matching event within ${BOUND} ms`))
    }, BOUND)
    const stop = session.subscribe((event) => {
      if (!predicate(event)) return
      clearTimeout(timer)
      stop()
      resolve(event)
    })
  })
const tagged =
  <T extends SessionEvent["_tag"]>(tag: T) =>
  (event: SessionEvent): event is Extract<SessionEvent, { _tag: T }> =>
    event._tag === tag

describe("a stdio backend session", () => {
  it("starts on first use: ping, tools, capabilities, one Started event with the pid", async () => {
    const log = spawnLogFile()
    const { session, events } = stdioSession({ FIXTURE_TOOLS: "read,write", FIXTURE_SPAWN_LOG: log })
    expect(session.lifecycle().phase).toBe("idle")
    await session.ping({ timeoutMs: BOUND })
    expect(session.lifecycle()).toMatchObject({ phase: "ready", restarts: 0, lossesInARow: 0 })
    expect((await session.listTools({ timeoutMs: BOUND })).map((t) => t.name)).toEqual([
      "read",
      "write",
      "storm",
      "hang"
    ])
    expect(session.capabilities()?.tools).toBeDefined()
    expect(session.generation()).toBe(1)
    expect(events).toHaveLength(1)
    expect(events[0]).toMatchObject({ _tag: "Started", backend: "fixture", restarts: 0, pid: spawns(log)[0] })
    const result = await session.callTool("read", {}, { timeoutMs: BOUND })
    expect(result.content).toEqual([{ type: "text", text: "read ok" }])
    await session.close()
    expect(isAlive(spawns(log)[0]!)).toBe(false)
    expect(session.lifecycle().phase).toBe("closed")
  })

  it("a start slower than a probe's timeout is not cut short: the probe's wait ends, the one process comes up", async () => {
    const log = spawnLogFile()
    const { session } = stdioSession({ FIXTURE_START_DELAY_MS: "3000", FIXTURE_SPAWN_LOG: log })
    // A probe that gives up after 200 ms: its wait ends, the start goes on.
    await expect(session.started(AbortSignal.timeout(200))).rejects.toThrow()
    expect(session.lifecycle()).toMatchObject({ phase: "starting", startingCleanly: true })
    await session.started()
    await session.ping({ timeoutMs: BOUND })
    expect(session.lifecycle()).toMatchObject({ phase: "ready", restarts: 0 })
    expect(spawns(log)).toHaveLength(1)
  })

  it("a SIGKILL is recorded (signal, redacted stderr tail), requests fail at once, and the process restarts after 1 s", async () => {
    const log = spawnLogFile()
    const { session } = stdioSession(
      { FIXTURE_SPAWN_LOG: log, FIXTURE_STDERR: "connecting with token s3cr3t-value" },
      { redact: makeRedactor({ secrets: ["s3cr3t-value"] }) }
    )
    await session.started()
    const first = spawns(log)[0]!
    const lost = nextEvent(session, tagged("Lost"))
    const restarted = nextEvent(session, tagged("Started"))
    process.kill(first, "SIGKILL")
    const event = await lost
    expect(event).toMatchObject({ reason: "signal SIGKILL", restartInMs: 1_000, restarts: 0 })
    expect(event.exit.signal).toBe("SIGKILL")
    expect(event.exit.stderr).toContain("connecting with token")
    expect(event.exit.stderr).not.toContain("s3cr3t-value")
    expect(session.lifecycle()).toMatchObject({ phase: "restarting", lossesInARow: 1 })
    // Meanwhile: a request fails at once as a process exit and starts nothing.
    const failed = await session.ping({ timeoutMs: BOUND }).catch((e: unknown) => e)
    expect(failed).toBeInstanceOf(BackendRestarting)
    expect((failed as BackendRestarting).code).toBe("PROCESS_EXITED")
    // A waiter that asks to wait through the restart gets the new session.
    await session.started(undefined, { throughRestart: true })
    expect(await restarted).toMatchObject({ restarts: 1, pid: spawns(log)[1] })
    await session.ping({ timeoutMs: BOUND })
    expect(session.lifecycle()).toMatchObject({ phase: "ready", restarts: 1, lastExit: event.exit })
    expect(spawns(log)).toHaveLength(2)
    expect(session.generation()).toBe(2)
  })

  it("a crash loop backs off: each loss in a row doubles the wait up to the cap", async () => {
    const session = makeBackendSession({
      name: "crasher",
      transport: { type: "stdio", command: process.execPath, args: ["-e", "process.exit(3)"] },
      clientInfo,
      restart: { baseMs: 50, capMs: 200 }
    })
    cleanups.push(() => session.close())
    const losses: Array<Extract<SessionEvent, { _tag: "Lost" }>> = []
    const fifth = new Promise<void>((resolve) =>
      session.subscribe((event) => {
        if (event._tag === "Lost" && losses.push(event) === 5) resolve()
      })
    )
    const failed = await session.started().catch((e: unknown) => e)
    expect(failed).toBeInstanceOf(StartFailed)
    expect((failed as StartFailed).code).toBe("PROCESS_EXITED")
    await fifth
    expect(losses.map((l) => l.restartInMs)).toEqual([50, 100, 200, 200, 200])
    expect(losses[0]).toMatchObject({ reason: "exit code 3 while starting", exit: { exitCode: 3 } })
    expect(session.lifecycle().restarts).toBeGreaterThanOrEqual(4)
    expect(session.lifecycle().startingCleanly).toBe(false)
  })

  it("a command that cannot be spawned is a loss: could not start (ENOENT)", async () => {
    const session = makeBackendSession({
      name: "missing",
      transport: { type: "stdio", command: "/nonexistent/mcp-server" },
      clientInfo
    })
    cleanups.push(() => session.close())
    const lost = nextEvent(session, tagged("Lost"))
    const failed = await session.started().catch((e: unknown) => e)
    expect(failed).toBeInstanceOf(StartFailed)
    expect((failed as StartFailed).code).toBe("ENOENT")
    expect(await lost).toMatchObject({ reason: "could not start (ENOENT)", restartInMs: 1_000 })
  })

  it("a start that outlasts startTimeoutMs fails as START_TIMEOUT and its process is stopped", async () => {
    const log = spawnLogFile()
    const { session } = stdioSession(
      { FIXTURE_START_DELAY_MS: "600000", FIXTURE_SPAWN_LOG: log },
      {
        startTimeoutMs: 500,
        restart: { baseMs: 60_000 }
      }
    )
    const lost = nextEvent(session, tagged("Lost"))
    const failed = await session.started().catch((e: unknown) => e)
    expect(failed).toBeInstanceOf(StartFailed)
    expect((failed as StartFailed).code).toBe("START_TIMEOUT")
    expect(await lost).toMatchObject({ reason: "start timed out after 500 ms", restartInMs: 60_000 })
    expect(isAlive(spawns(log)[0]!)).toBe(false)
  })

  it("a list_changed storm is coalesced into few discoveries, and the newest list arrives", async () => {
    const { session } = stdioSession()
    await session.started()
    const changes: Array<ReadonlyArray<string>> = []
    const newest = new Promise<void>((resolve) =>
      session.subscribe((event) => {
        if (event._tag !== "ListsChanged") return
        const names = session.tools().map((t) => t.name)
        changes.push(names)
        if (names.includes("gen-100")) resolve()
      })
    )
    await session.callTool("storm", { count: 100 }, { timeoutMs: BOUND })
    await newest
    // 100 notifications within moments: refreshed after 100 ms of quiet (or 1 s into a storm).
    expect(changes.length).toBeLessThan(10)
    expect(session.tools().map((t) => t.name)).toEqual(["echo", "gen-100", "storm", "hang"])
  })

  it("every listener gets every event, and one that unsubscribed gets no more", async () => {
    const log = spawnLogFile()
    const { session } = stdioSession({ FIXTURE_SPAWN_LOG: log })
    const a: Array<string> = []
    const b: Array<string> = []
    const stopA = session.subscribe((e) => a.push(e._tag))
    session.subscribe((e) => b.push(e._tag))
    await session.started()
    stopA()
    const lost = nextEvent(session, tagged("Lost"))
    process.kill(spawns(log)[0]!, "SIGKILL")
    await lost
    expect(a).toEqual(["Started"])
    expect(b).toEqual(["Started", "Lost"])
  })
})

describe("a stdio process that hangs", () => {
  it("is stopped (SIGTERM) after 3 pings in a row time out, and restarted: reason hung", async () => {
    const log = spawnLogFile()
    const { session } = stdioSession({ FIXTURE_SPAWN_LOG: log })
    await session.started()
    const lost = nextEvent(session, tagged("Lost"))
    const restarted = nextEvent(session, tagged("Started"))
    // The fixture answers this call, then nothing more, though its process stays alive.
    await session.callTool("hang", {}, { timeoutMs: BOUND })
    for (let i = 0; i < 2; i++) await expect(session.ping({ timeoutMs: 300 })).rejects.toThrow()
    expect(session.lifecycle().phase).toBe("ready")
    await expect(session.ping({ timeoutMs: 300 })).rejects.toThrow()
    const event = await lost
    expect(event).toMatchObject({ reason: "hung: no answer to 3 pings in a row", restartInMs: 1_000 })
    expect(event.exit.signal).toBe("SIGTERM")
    expect(isAlive(spawns(log)[0]!)).toBe(false)
    await restarted
    await session.ping({ timeoutMs: BOUND })
    expect(session.lifecycle()).toMatchObject({ phase: "ready", restarts: 1, lastExit: event.exit })
  })

  it("a probe that gives up at its own deadline (at least half the request timeout) counts as no answer too", async () => {
    const { session } = stdioSession({}, { hang: { afterTimeouts: 2 } })
    await session.started()
    const lost = nextEvent(session, tagged("Lost"))
    await session.callTool("hang", {}, { timeoutMs: BOUND })
    // The request timeout is 30 s, but the probe's own deadline aborts it after 0.3 s... twice.
    for (let i = 0; i < 2; i++)
      await expect(session.ping({ timeoutMs: 400, signal: AbortSignal.timeout(300) })).rejects.toThrow()
    expect(await lost).toMatchObject({ reason: "hung: no answer to 2 pings in a row" })
  })

  it("one that ignores SIGTERM gets SIGKILL after the grace", async () => {
    const { session } = stdioSession(
      { FIXTURE_IGNORE_SIGTERM: "1" },
      { hang: { afterTimeouts: 1, killGraceMs: 200 } }
    )
    await session.started()
    const lost = nextEvent(session, tagged("Lost"))
    await session.callTool("hang", {}, { timeoutMs: BOUND })
    await expect(session.ping({ timeoutMs: 300 })).rejects.toThrow()
    const event = await lost
    expect(event.reason).toBe("hung: no answer to 1 pings in a row")
    expect(event.exit.signal).toBe("SIGKILL")
  })
})

describe("a Streamable HTTP backend session", () => {
  it("opens on first use through the given fetch, and close ends the session on the server", async () => {
    const server = await startHttpFixture(["a", "b"])
    cleanups.push(() => server.close())
    let fetched = 0
    const session = makeBackendSession({
      name: "remote",
      transport: {
        type: "streamable-http",
        url: server.url,
        headers: { authorization: "Bearer t0ken" },
        fetch: (url, init) => {
          fetched++
          return fetch(url, init)
        }
      },
      clientInfo
    })
    cleanups.push(() => session.close())
    await session.ping({ timeoutMs: BOUND })
    expect((await session.listTools({ timeoutMs: BOUND })).map((t) => t.name)).toEqual(["a", "b"])
    expect(fetched).toBeGreaterThan(0)
    expect(server.sessionCount()).toBe(1)
    expect(session.lifecycle()).toMatchObject({ phase: "ready", restarts: 0 })
    await session.close()
    expect(server.requests).toContain("DELETE -")
    expect(server.sessionCount()).toBe(0)
  })

  it("a session the server forgot (404) is dropped by the failing request and reopened by the next", async () => {
    const server = await startHttpFixture()
    cleanups.push(() => server.close())
    const session = makeBackendSession({
      name: "remote",
      transport: { type: "streamable-http", url: server.url },
      clientInfo
    })
    cleanups.push(() => session.close())
    await session.ping({ timeoutMs: BOUND })
    await server.forgetSessions()
    await expect(session.ping({ timeoutMs: BOUND })).rejects.toThrow()
    expect(session.lifecycle().phase).toBe("idle")
    await session.ping({ timeoutMs: BOUND })
    expect(session.generation()).toBe(2)
    expect(server.requests.filter((r) => r === "POST initialize")).toHaveLength(2)
  })
})
