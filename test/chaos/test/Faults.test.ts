/**
 * The reference app serves MCP calls in a loop while a fault proxy between its k8s reporter and
 * the real API server injects, in turn, every fault class of docs/behaviours.md#fault-classes. Reporting must never fail
 * a call, and once a fault clears the object must hold the latest status within the backoff cap.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client"
import {
  eventually,
  type Fault,
  type FaultProxyHandle,
  frontOf,
  kubeconfigYaml,
  type McpBackendHandle,
  startFaultProxy,
  startMcpBackend
} from "@vmcp-status/testkit"
import { describeWithKube } from "@vmcp-status/testkit/vitest"
import { afterAll, expect, it } from "vitest"
import YAML from "yaml"

const CLI = join(
  dirname(createRequire(import.meta.url).resolve("@vmcp-status/vmcp/package.json")),
  "dist",
  "cli.js"
)
/** The publisher's retry backoff cap (core's default) and the app's slow retry after 403/404. */
const BACKOFF_CAP_MS = 30_000
const SLOW_RETRY_MS = 2_000
/**
 * Slack on top of a retry cap for a process on a loaded machine. The cap itself is asserted on the
 * Effect clock in packages/k8s/test/Faults.test.ts; here it only bounds a wait, so it is generous.
 */
const MARGIN_MS = 60_000
/**
 * Bound for what includes starting a process (the app, its first health round): only there to
 * end a run in which it never happens, so generous for a machine loaded far beyond its cores.
 */
const START_MS = 120_000

interface BackendView {
  readonly name: string
  readonly health?: string
  readonly status?: string
}
const backendStatus: Record<string, string> = {
  healthy: "ready",
  degraded: "degraded",
  unhealthy: "unavailable",
  unauthenticated: "unauthenticated",
  unknown: "unknown"
}

const cleanups: Array<() => unknown> = []
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

describeWithKube("reporting under API-server faults", (kube) => {
  it("serves every MCP call through each fault class, lands the latest status after each, and stops while the API server hangs", async () => {
    const alpha = await startMcpBackend({ name: "alpha", tools: [{ name: "echo", text: "pong" }] })
    const beta: McpBackendHandle = await startMcpBackend({ name: "beta", tools: [{ name: "lookup" }] })
    cleanups.push(
      () => alpha.close(),
      () => beta.close()
    )
    const namespace = await kube.namespace("chaos")
    const collection = `/apis/toolhive.stacklok.dev/v1beta1/namespaces/${namespace}/virtualmcpservers`
    const created = await kube.admin.request({
      method: "POST",
      path: collection,
      body: {
        apiVersion: "toolhive.stacklok.dev/v1beta1",
        kind: "VirtualMCPServer",
        metadata: { name: "chaos" },
        spec: {}
      }
    })
    expect(created.status).toBe(201)

    const proxy: FaultProxyHandle = await startFaultProxy(frontOf(kube.connection))
    cleanups.push(() => proxy.close())
    const dir = mkdtempSync(join(tmpdir(), "vmcp-chaos-"))
    const kubeconfig = join(dir, "kubeconfig")
    writeFileSync(
      kubeconfig,
      kubeconfigYaml({ server: proxy.url, ca: proxy.ca, token: kube.connection.adminToken })
    )
    const config = join(dir, "vmcp.yaml")
    writeFileSync(
      config,
      YAML.stringify({
        name: "chaos",
        listen: { port: 0 },
        health: {
          interval: "200ms",
          // Bounds, not what this test is about: a backend goes down by closing its port (refused at
          // once); a 1 s timeout made a loaded machine report beta down before any fault.
          timeout: "20s",
          slowThreshold: "15s",
          unhealthyThreshold: 1,
          circuitBreaker: { openDuration: "300ms", maxOpenDuration: "1s" }
        },
        status: { k8s: { slowRetry: `${SLOW_RETRY_MS}ms` } },
        backends: [
          { name: "alpha", transport: "streamable-http", url: alpha.url },
          { name: "beta", transport: "streamable-http", url: beta.url }
        ]
      })
    )

    const app: ChildProcess = spawn(
      process.execPath,
      [
        CLI,
        "serve",
        "--config",
        config,
        "--reporters",
        "log,k8s",
        "--require-reporters",
        "k8s",
        "--kubeconfig",
        kubeconfig,
        "--name",
        "chaos",
        "--namespace",
        namespace
      ],
      {
        stdio: ["ignore", "pipe", "pipe"],
        env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "" }
      }
    )
    cleanups.push(() => {
      if (app.exitCode === null && app.signalCode === null) app.kill("SIGKILL")
    })
    let output = ""
    app.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString("utf8")
    })
    app.stderr?.on("data", (chunk: Buffer) => {
      output += chunk.toString("utf8")
    })
    const exited = new Promise<number | null>((resolve) => app.once("exit", (code) => resolve(code)))
    const url = await eventually(
      "the app to listen",
      async () => {
        if (app.exitCode !== null) throw new Error(`the app exited (${app.exitCode}): ${output}`)
        return /serving MCP at (\S+)/.exec(output)?.[1]
      },
      START_MS
    )
    const base = new URL(url)
    const appStatus = async () =>
      (await (await fetch(new URL("/status", base))).json()) as {
        phase: string
        backends: Array<BackendView>
      }
    const objectStatus = async () =>
      (
        (await kube.admin.request({ method: "GET", path: `${collection}/chaos` })).body as {
          status?: { phase?: string; discoveredBackends?: Array<BackendView> }
        }
      ).status

    // MCP calls in a loop for the whole test.
    const client = new Client({ name: "chaos-client", version: "0.0.0" })
    await client.connect(new StreamableHTTPClientTransport(base))
    cleanups.push(() => client.close())
    await eventually(
      "alpha's tools to be served",
      async () =>
        (await client.listTools(undefined, { cacheMode: "bypass" })).tools.some(
          (t) => t.name === "alpha_echo"
        )
          ? true
          : undefined,
      START_MS
    )
    const failures: Array<string> = []
    let calls = 0
    let calling = true
    const loop = (async () => {
      while (calling) {
        try {
          const result = await client.callTool({ name: "alpha_echo" })
          if (result.isError) failures.push(JSON.stringify(result.content))
        } catch (error) {
          failures.push(`call ${calls}: ${String(error)}`)
        }
        calls++
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    })()

    /** The object shows what the app's /status shows now (phase and every backend's state). */
    const objectMatchesApp = async () => {
      const [want, have] = await Promise.all([appStatus(), objectStatus()])
      const wanted = want.backends.map((b) => `${b.name}=${backendStatus[b.health ?? "unknown"]}`).join(",")
      const had = (have?.discoveredBackends ?? []).map((b) => `${b.name}=${b.status}`).join(",")
      return have?.phase === want.phase && had === wanted ? `${want.phase} ${wanted}` : undefined
    }
    await eventually("the first status on the object", objectMatchesApp, START_MS)
    /** beta's state on the object, as written by the reporter. */
    const betaOnObject = async () =>
      (await objectStatus())?.discoveredBackends?.find((b) => b.name === "beta")?.status

    const statusPath = `${collection}/chaos/status`
    const faults: Array<{ name: string; fault?: Fault; tls?: true; capMs: number }> = [
      { name: "500", fault: { kind: "status", status: 500 }, capMs: BACKOFF_CAP_MS },
      { name: "503", fault: { kind: "status", status: 503, retryAfterSeconds: 1 }, capMs: BACKOFF_CAP_MS },
      {
        name: "429 Retry-After",
        fault: { kind: "status", status: 429, retryAfterSeconds: 2 },
        capMs: BACKOFF_CAP_MS
      },
      { name: "409", fault: { kind: "status", status: 409, reason: "Conflict" }, capMs: BACKOFF_CAP_MS },
      { name: "403", fault: { kind: "status", status: 403, reason: "Forbidden" }, capMs: SLOW_RETRY_MS },
      { name: "404", fault: { kind: "status", status: 404, reason: "NotFound" }, capMs: SLOW_RETRY_MS },
      { name: "hang", fault: { kind: "hang" }, capMs: BACKOFF_CAP_MS },
      { name: "reset", fault: { kind: "reset" }, capMs: BACKOFF_CAP_MS },
      { name: "TLS failure", tls: true, capMs: BACKOFF_CAP_MS }
    ]
    const recovered: Record<string, number> = {}
    let betaUp = true
    for (const f of faults) {
      const rule =
        f.fault === undefined
          ? undefined
          : proxy.addRule({ method: "PATCH", path: statusPath, fault: f.fault })
      if (f.tls) await proxy.setTls("untrusted")
      const tlsFailuresBefore = proxy.tlsFailures()
      const callsBefore = calls

      // A status change the reporter must deliver through the fault.
      betaUp = !betaUp
      await beta.setMode(betaUp ? "up" : "down")
      const expected = betaUp ? "healthy" : "unhealthy"
      await eventually(
        `${f.name}: beta ${expected} in the app`,
        async () =>
          (await appStatus()).backends.find((b) => b.name === "beta")?.health === expected ? true : undefined,
        60_000
      )
      // Attempts that met the fault. A refused handshake never becomes a request, so the proxy
      // counts it apart (and cannot tell a status PATCH from an Event there).
      const attempts = () => (f.tls ? proxy.tlsFailures() - tlsFailuresBefore : (rule?.hits() ?? 0))
      await eventually(
        `${f.name}: the reporter to meet the fault and try again while it holds`,
        async () => (attempts() >= 2 ? true : undefined),
        2 * (BACKOFF_CAP_MS + MARGIN_MS)
      )
      await eventually(
        `${f.name}: an MCP call while the reporter fails`,
        async () => (calls > callsBefore ? true : undefined),
        60_000
      )
      // The fault held the change back: no write of it reached the API server.
      expect(await betaOnObject()).not.toBe(backendStatus[expected])

      rule?.remove()
      if (f.tls) await proxy.setTls("trusted")
      const cleared = Date.now()
      await eventually(
        `${f.name}: beta ${expected} on the object`,
        async () => ((await betaOnObject()) === backendStatus[expected] ? true : undefined),
        f.capMs + MARGIN_MS
      )
      await eventually(`${f.name}: the latest status on the object`, objectMatchesApp, f.capMs + MARGIN_MS)
      recovered[f.name] = Date.now() - cleared
    }
    console.info(`recovery after each fault cleared (ms): ${JSON.stringify(recovered)}; ${calls} MCP calls`)

    // Stop while the API server hangs on everything: the app still exits on its own, in time.
    proxy.addRule({ fault: { kind: "hang" } })
    betaUp = !betaUp
    await beta.setMode(betaUp ? "up" : "down")
    calling = false
    await loop
    const stopping = Date.now()
    app.kill("SIGTERM")
    const code = await exited
    console.info(`stop with a hanging API server: exit ${code} after ${Date.now() - stopping} ms`)
    // The app's own timer exits 1 ("shutdown took too long") past its budget, so 0 means it
    // stopped within it; measuring here would add this machine's scheduling to the app's time.
    expect(output).not.toContain("shutdown took too long")
    expect(code).toBe(0)

    expect(failures).toEqual([])
  })
})
