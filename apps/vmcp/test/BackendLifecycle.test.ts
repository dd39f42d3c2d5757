/**
 * The lifecycle of a backend session (docs/behaviours.md#backend-lifecycle): the pure rules
 * (restart backoff, stderr ring, refresh bound, log lines), then real stdio processes from the
 * testkit's fixture behind a real session and behind the whole app (`runServer`): a SIGKILL is
 * recorded and restarted (log, `/status`, `/metrics`), a slow starter comes up on its one
 * process, a crash loop backs off.
 */
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Writable } from "node:stream"
import { describeSessionEvent, refreshDueAt, restartDelayMs, type SessionEvent } from "@vmcp-status/mcp"
import { eventually, parseYamlDocuments, startMcpBackend, stdioBackendCommand } from "@vmcp-status/testkit"
import { describeWithKube } from "@vmcp-status/testkit/vitest"
import { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { decodeConfig, type VmcpBackendConfig } from "../src/Config.ts"
import { runCli } from "../src/cli/Commands.ts"
import { makeBackendConnection } from "../src/gateway/BackendConnection.ts"
import { runServer } from "../src/server/Serve.ts"
import { selectReporters } from "../src/status/Reporters.ts"
import { apply, collectionPath, kubeconfigFile } from "./kube.ts"

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

/** A fresh file the fixture appends its pid to at every start. */
const spawnLogFile = () => join(mkdtempSync(join(tmpdir(), "vmcp-spawns-")), "pids")
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

const stdioBackend = (
  name: string,
  fixture: Parameters<typeof stdioBackendCommand>[0],
  extra: Partial<VmcpBackendConfig> = {}
): VmcpBackendConfig => {
  const { command, args } = stdioBackendCommand(fixture)
  return { name, transport: "stdio", command, args, env: {}, headers: {}, ...extra }
}

describe("restartDelayMs", () => {
  it.each([
    [1, 1_000],
    [2, 2_000],
    [3, 4_000],
    [4, 8_000],
    [6, 32_000],
    [7, 60_000],
    [8, 60_000],
    [60, 60_000]
  ])("restart after %i losses in a row waits %i ms (1 s doubling, capped at 60 s)", (attempt, ms) => {
    expect(restartDelayMs(attempt)).toBe(ms)
  })
})

describe("refreshDueAt", () => {
  it.each([
    ["a lone notification: after the quiet", 0, 0, 100],
    ["a short burst: after its last one and the quiet", 0, 300, 400],
    ["a storm: no later than 1 s after its first one", 0, 950, 1_000],
    ["a storm that never stops: still 1 s", 0, 10_000, 1_000]
  ])("%s", (_name, firstAt, lastAt, due) => {
    expect(refreshDueAt(firstAt, lastAt, 100, 1_000)).toBe(due)
  })
})

describe("describeSessionEvent", () => {
  it("names the backend, how it ended, its last stderr line and what happens next", () => {
    expect(
      describeSessionEvent({
        _tag: "Lost",
        backend: "files",
        reason: "exit code 1",
        restartInMs: 2_000,
        restarts: 1,
        exit: { time: "2026-11-25T18:00:00Z", exitCode: 1, stderr: "starting\nEACCES: /srv" }
      })
    ).toEqual({
      level: "warn",
      message:
        "backend files: process ended (exit code 1); last stderr: EACCES: /srv; restarting in 2 s (restart 2)"
    })
    expect(
      describeSessionEvent({ _tag: "Started", backend: "files", pid: 42, restarts: 2, startMs: 120 })
    ).toEqual({ level: "info", message: "backend files: restarted (restart 2, pid 42), up after 120 ms" })
    expect(
      describeSessionEvent({ _tag: "Started", backend: "files", pid: 42, restarts: 0, startMs: 1 })
    ).toBe(undefined)
  })
})

describe("a stdio backend's session", () => {
  it("records a SIGKILL (signal, redacted stderr tail) and restarts the process after 1 s", async () => {
    const log = spawnLogFile()
    const connection = makeBackendConnection(
      stdioBackend(
        "local",
        { spawnLog: log, stderr: "loaded key s3cr3t-api-key" },
        { env: { API_KEY: "s3cr3t-api-key" } }
      )
    )
    cleanups.push(() => connection.close())
    const events: Array<SessionEvent> = []
    connection.subscribe((e) => events.push(e))
    await connection.ping({ timeoutMs: 20_000 })
    const [pid] = spawns(log)
    expect(connection.lifecycle()).toMatchObject({ phase: "ready", restarts: 0 })

    process.kill(pid!, "SIGKILL")
    const lost = await eventually("the loss", () => events.find((e) => e._tag === "Lost"))
    expect(lost).toMatchObject({ reason: "signal SIGKILL", restartInMs: 1_000, restarts: 0 })
    await eventually("the restarted process", () =>
      connection.lifecycle().phase === "ready" ? true : undefined
    )
    await connection.ping({ timeoutMs: 20_000 })

    const life = connection.lifecycle()
    expect(life.restarts).toBe(1)
    expect(life.lastExit).toMatchObject({ signal: "SIGKILL" })
    expect(life.lastExit?.exitCode).toBeUndefined()
    // The stderr tail is kept, with the backend's secrets redacted.
    expect(life.lastExit?.stderr).toMatch(/loaded key/)
    expect(life.lastExit?.stderr).not.toMatch(/s3cr3t/)
    expect(spawns(log)).toHaveLength(2)
    expect(spawns(log)[1]).not.toBe(pid)
    expect(events.map((e) => e._tag)).toEqual(["Started", "Lost", "Starting", "Started"])
  })

  it("a crash loop backs off: each loss in a row doubles the wait up to the cap, one spawn per restart", async () => {
    const log = spawnLogFile()
    const connection = makeBackendConnection(stdioBackend("crashy", { spawnLog: log, crash: true }), {
      restart: { baseMs: 100, capMs: 400 }
    })
    cleanups.push(() => connection.close())
    const delays: Array<number | undefined> = []
    connection.subscribe((e) => {
      if (e._tag === "Lost") delays.push(e.restartInMs)
    })
    await expect(connection.started()).rejects.toThrow()
    await eventually("six losses", () => (delays.length >= 6 ? true : undefined))
    expect(delays.slice(0, 6)).toEqual([100, 200, 400, 400, 400, 400])
    const life = connection.lifecycle()
    expect(life.lastExit).toMatchObject({ exitCode: 1 })
    expect(life.lastExit?.stderr).toMatch(/crashing on start/)
    // Exactly one process per start: the first and one per restart, none from requests.
    expect(spawns(log).length).toBe(life.restarts + 1)
  })

  it.each([
    ["a run counts as stable (stableAfterMs 0): the wait starts over", 0, [100, 100]],
    ["a run too short to count (stableAfterMs 1 h): the wait doubles", 3_600_000, [100, 200]]
  ])("two kills in a row: %s", async (_name, stableAfterMs, delays) => {
    const log = spawnLogFile()
    const connection = makeBackendConnection(stdioBackend("local", { spawnLog: log }), {
      restart: { baseMs: 100, stableAfterMs }
    })
    cleanups.push(() => connection.close())
    const seen: Array<number | undefined> = []
    connection.subscribe((e) => {
      if (e._tag === "Lost") seen.push(e.restartInMs)
    })
    for (const round of [1, 2]) {
      await connection.ping({ timeoutMs: 20_000 })
      process.kill(spawns(log)[round - 1]!, "SIGKILL")
      await eventually(`loss ${round}`, () => (seen.length === round ? true : undefined))
      await eventually(`restart ${round}`, () =>
        connection.lifecycle().phase === "ready" ? true : undefined
      )
    }
    expect(seen).toEqual(delays)
    expect(connection.lifecycle().restarts).toBe(2)
  })

  it("requests while it waits for a restart fail at once as process_exited, and start none", async () => {
    const log = spawnLogFile()
    const connection = makeBackendConnection(stdioBackend("crashy", { spawnLog: log, crash: true }), {
      restart: { baseMs: 60_000 }
    })
    cleanups.push(() => connection.close())
    await expect(connection.started()).rejects.toThrow()
    expect(connection.lifecycle().phase).toBe("restarting")
    const error = await connection.ping({ timeoutMs: 20_000 }).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: "PROCESS_EXITED" })
    const { categorize } = await import("@vmcp-status/health")
    expect(categorize(error).category).toBe("process_exited")
    expect(spawns(log)).toHaveLength(1)
  })

  it("a command that cannot be spawned is a loss too: could not start (ENOENT), restarted with backoff", async () => {
    const connection = makeBackendConnection(
      {
        name: "missing",
        transport: "stdio",
        command: "/nonexistent/mcp-server",
        args: [],
        env: {},
        headers: {}
      },
      { restart: { baseMs: 60_000 } }
    )
    cleanups.push(() => connection.close())
    const lost: Array<SessionEvent> = []
    connection.subscribe((e) => {
      if (e._tag === "Lost") lost.push(e)
    })
    const error = await connection.started().catch((e: unknown) => e)
    const { categorize } = await import("@vmcp-status/health")
    expect(categorize(error)).toEqual({ category: "process_exited", detail: "ENOENT" })
    expect(lost).toMatchObject([{ reason: "could not start (ENOENT)", restartInMs: 60_000 }])
    expect(connection.lifecycle().phase).toBe("restarting")
  })

  it("a probe's abort while the process starts never cuts the start short", async () => {
    const log = spawnLogFile()
    const connection = makeBackendConnection(stdioBackend("slow", { spawnLog: log, startDelayMs: 3_000 }))
    cleanups.push(() => connection.close())
    const controller = new AbortController()
    const ping = connection.ping({ timeoutMs: 20_000, signal: controller.signal })
    await eventually("the spawn", () => (spawns(log).length === 1 ? true : undefined))
    controller.abort(new Error("probe timed out"))
    await expect(ping).rejects.toThrow("probe timed out")
    expect(connection.lifecycle().phase).toBe("starting")
    await connection.started()
    await connection.ping({ timeoutMs: 20_000 })
    expect(spawns(log)).toHaveLength(1)
    expect(connection.lifecycle().restarts).toBe(0)
  })
})

describe("startTimeout in the config", () => {
  it("is a duration per backend, optional; a bad one names the field", async () => {
    const decode = (backend: Record<string, unknown>) =>
      Effect.runPromise(
        Effect.result(
          decodeConfig({ backends: [{ name: "b", transport: "stdio", command: "x", ...backend }] }, "t")
        )
      )
    const ok = await decode({ startTimeout: "2m" })
    expect(ok._tag === "Success" && ok.success.backends[0]?.startTimeout).toBe(120_000)
    const none = await decode({})
    expect(none._tag === "Success" && none.success.backends[0]?.startTimeout).toBe(undefined)
    const bad = await decode({ startTimeout: "soon" })
    expect(bad._tag).toBe("Failure")
    expect(bad._tag === "Failure" ? bad.failure.issues.map((i) => i.path) : []).toEqual([
      "backends[0].startTimeout"
    ])
  })
})

describe("a list_changed storm", () => {
  it("is refreshed while it lasts (not only once it stops), and the newest list arrives", async () => {
    const web = await startMcpBackend({ name: "web", tools: [{ name: "t0" }] })
    cleanups.push(() => web.close())
    const connection = makeBackendConnection({
      name: "web",
      transport: "streamable-http",
      url: web.url,
      args: [],
      env: {},
      headers: {}
    })
    cleanups.push(() => connection.close())
    const refreshed: Array<ReadonlyArray<string>> = []
    connection.subscribe((e) => {
      if (e._tag === "ListsChanged") refreshed.push(connection.tools().map((t) => t.name))
    })
    await connection.listTools({ timeoutMs: 20_000 })
    // A notification every 50 ms, far inside the SDK's 300 ms trailing debounce that never fired
    // during a storm: the storm runs until refreshes were seen during it.
    let n = 0
    let storming = true
    const storm = (async () => {
      while (storming) {
        n++
        await web.addTool({ name: `t${n}` })
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    })()
    cleanups.push(async () => {
      storming = false
      await storm
    })
    await eventually("two refreshes during the storm", () => (refreshed.length >= 2 ? true : undefined))
    storming = false
    await storm
    expect(refreshed[1]!.length).toBeGreaterThan(refreshed[0]!.length)
    // After the storm the newest list arrives: every tool the backend has.
    const all = web.tools().map((t) => t.name)
    await eventually("the newest list", () =>
      connection.tools().length === all.length && refreshed.at(-1)?.length === all.length ? true : undefined
    )
    expect(connection.tools().map((t) => t.name)).toEqual(all)
  })
})

/** `vmcp serve` in this process with a JSON log; its URL and log lines. */
const startApp = async (
  config: Record<string, unknown>,
  k8s?: { readonly kubeconfig: string; readonly name: string; readonly namespace: string }
) => {
  const lines: Array<string> = []
  let buffer = ""
  const stdout = new Writable({
    write: (chunk: Buffer, _encoding, done) => {
      buffer += chunk.toString("utf8")
      const parts = buffer.split("\n")
      buffer = parts.pop() ?? ""
      lines.push(...parts)
      done()
    }
  })
  const decoded = Effect.runSync(
    decodeConfig({ listen: { port: 0 }, status: { log: { format: "json" } }, ...config }, "test")
  )
  const selection = selectReporters(
    k8s === undefined
      ? { env: {}, reporters: "log,prometheus" }
      : { env: {}, reporters: "log,k8s,prometheus", required: "k8s" }
  )
  if (typeof selection === "string") throw new Error(selection)
  let stop: (signal: string) => void = () => undefined
  const stopSignal = new Promise<string>((resolve) => {
    stop = resolve
  })
  const exited = runServer({
    ...(k8s === undefined
      ? {}
      : { kubeconfig: k8s.kubeconfig, objectName: k8s.name, objectNamespace: k8s.namespace }),
    config: decoded,
    selection,
    io: { stdout, stderr: stdout, env: {} },
    stopSignal,
    hardExit: false
  })
  cleanups.push(async () => {
    stop("SIGTERM")
    await exited
  })
  const url = await eventually("the app to serve", () => {
    for (const line of lines) {
      const match = /serving MCP at (\S+)\/mcp/.exec(line)
      if (match !== null) return match[1]
    }
    return undefined
  })
  const status = async () =>
    (await (await fetch(`${url}/status`)).json()) as {
      backends: ReadonlyArray<Record<string, unknown> & { name: string; health: string; message: string }>
    }
  const backend = async (name: string) => (await status()).backends.find((b) => b.name === name)
  return { url: url!, lines, backend }
}

// Probes every 200 ms with a 20 s bound (a loaded machine is slow); probes that fail while the
// process waits for its restart may open the circuit, which then lets a probe through after 1 s.
const fastProbes = {
  interval: 200,
  timeout: "20s",
  unhealthyThreshold: 1,
  circuitBreaker: { openDuration: "1s", maxOpenDuration: "1s" }
}

describe("the app in front of a stdio backend", () => {
  it("a SIGKILL shows in the log, in /status (restarts, lastExit) and in /metrics, and the backend comes back", async () => {
    const log = spawnLogFile()
    const app = await startApp({
      health: fastProbes,
      backends: [stdioBackend("local", { spawnLog: log, stderr: "local fixture up" })]
    })
    await eventually("local healthy", async () =>
      (await app.backend("local"))?.health === "healthy" ? true : undefined
    )
    expect(await app.backend("local")).not.toHaveProperty("restarts")
    const [pid] = spawns(log)
    process.kill(pid!, "SIGKILL")

    const line = await eventually("the crash log line", () =>
      app.lines.find((l) => l.includes("backend local: process ended"))
    )
    expect(JSON.parse(line)).toMatchObject({
      level: "warn",
      message:
        "backend local: process ended (signal SIGKILL); last stderr: local fixture up; restarting in 1 s (restart 1)"
    })
    const after = await eventually("local restarted and healthy", async () => {
      const b = await app.backend("local")
      return b?.restarts === 1 && b.health === "healthy" ? b : undefined
    })
    expect(after.lastExit).toMatchObject({ signal: "SIGKILL", stderr: "local fixture up" })
    expect(app.lines.some((l) => l.includes("backend local: restarted (restart 1"))).toBe(true)
    const metrics = await (await fetch(`${app.url}/metrics`)).text()
    expect(metrics).toMatch(/^vmcp_backend_restarts_total\{vmcp="vmcp",backend="local"\} 1$/m)
    expect(spawns(log)).toHaveLength(2)
  })

  it("a backend that starts slower than the probe timeout is reported starting, then healthy, on its one process", async () => {
    const log = spawnLogFile()
    // The start (8 s) is far above the probe timeout (1 s): before, every probe killed the half-started process.
    const app = await startApp({
      health: { interval: 200, timeout: "1s", unhealthyThreshold: 1, slowThreshold: 500 },
      backends: [stdioBackend("slow", { spawnLog: log, startDelayMs: 8_000 })]
    })
    const starting = await eventually("slow reported starting", async () => {
      const b = await app.backend("slow")
      return b?.message === "starting" ? b : undefined
    })
    expect(starting).toMatchObject({ health: "unknown", consecutiveFailures: 0, circuit: "closed" })
    await eventually("slow routable", async () => {
      const health = (await app.backend("slow"))?.health
      return health === "healthy" || health === "degraded" ? true : undefined
    })
    expect(spawns(log)).toHaveLength(1)
    expect(await app.backend("slow")).not.toHaveProperty("restarts")
  })
})

describeWithKube("a crash in a cluster", (kube) => {
  it("a SIGKILL becomes a BackendRestarted Event and restarts/lastExit in the custom resource", async () => {
    const namespace = await kube.namespace("lifecycle")
    let manifests = ""
    const sink = new Writable({
      write: (chunk, _encoding, done) => {
        manifests += String(chunk)
        done()
      }
    })
    const code = await runCli(
      ["manifests", "--name", "vmcp-crash", "--namespace", namespace, "--with-object"],
      {
        stdout: sink,
        stderr: sink,
        env: {}
      }
    )
    expect(code).toBe(0)
    const objects = parseYamlDocuments(manifests) as Array<{
      apiVersion: string
      kind: string
      metadata: { name: string; namespace?: string }
    }>
    for (const object of objects) await apply(kube.admin, object, namespace)
    const token = await kube.admin.serviceAccountToken(namespace, "vmcp-crash")
    const log = spawnLogFile()
    const app = await startApp(
      { health: fastProbes, backends: [stdioBackend("local", { spawnLog: log })] },
      { kubeconfig: kubeconfigFile(kube, token), name: "vmcp-crash", namespace }
    )
    const vmcp = objects.find((o) => o.kind === "VirtualMCPServer")!
    const objectPath = `${collectionPath(vmcp, namespace)}/vmcp-crash`
    type Discovered = { name: string; status: string; restarts?: number; lastExit?: { signal?: string } }
    const backendInObject = async () => {
      const res = await kube.admin.request({ method: "GET", path: objectPath })
      const status = (res.body as { status?: { discoveredBackends?: Array<Discovered> } }).status
      return status?.discoveredBackends?.find((b) => b.name === "local")
    }
    await eventually("local ready in the object", async () =>
      (await backendInObject())?.status === "ready" ? true : undefined
    )
    expect(await backendInObject()).not.toHaveProperty("restarts")

    process.kill(spawns(log)[0]!, "SIGKILL")
    const restarted = await eventually("restarts in the object", async () => {
      const b = await backendInObject()
      return b?.restarts === 1 && b.status === "ready" ? b : undefined
    })
    expect(restarted.lastExit).toMatchObject({ signal: "SIGKILL" })
    const event = await eventually("the BackendRestarted Event", async () => {
      const res = await kube.admin.request({
        method: "GET",
        path: `/apis/events.k8s.io/v1/namespaces/${namespace}/events`
      })
      const items = (res.body as { items: Array<{ reason: string; type: string; note: string }> }).items
      return items.find((e) => e.reason === "BackendRestarted")
    })
    expect(event).toMatchObject({
      type: "Warning",
      note: "backend local restarted: its process ended (signal SIGKILL)"
    })
    expect(app.lines.some((l) => l.includes("backend local: process ended (signal SIGKILL)"))).toBe(true)
  })
})
