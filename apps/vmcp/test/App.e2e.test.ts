/**
 * The app as users run it: `vmcp serve` as a child process, real MCP backends on loopback
 * (two over Streamable HTTP, one over stdio), a real MCP client, and the testkit's API server
 * holding the VirtualMCPServer the app reports on.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, writeFileSync } from "node:fs"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client"
import {
  kubeconfigYaml,
  type McpBackendHandle,
  startFaultProxy,
  startMcpBackend,
  stdioBackendCommand
} from "@vmcp-status/testkit"
import { describeWithKube } from "@vmcp-status/testkit/vitest"
import { afterEach, describe, expect, it } from "vitest"
import YAML from "yaml"
import { apply, collectionPath, eventually } from "./kube.ts"

const CLI = fileURLToPath(new URL("../dist/cli.js", import.meta.url))

interface App {
  readonly child: ChildProcess
  readonly lines: Array<Record<string, unknown>>
  readonly stderr: () => string
  readonly exited: Promise<number | null>
}

const startApp = (args: ReadonlyArray<string>, env: Record<string, string> = {}): App => {
  const child = spawn(process.execPath, [CLI, "serve", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env }
  })
  const lines: Array<Record<string, unknown>> = []
  let buffer = ""
  child.stdout!.on("data", (chunk: Buffer) => {
    buffer += chunk.toString("utf8")
    let newline = buffer.indexOf("\n")
    while (newline !== -1) {
      const line = buffer.slice(0, newline)
      buffer = buffer.slice(newline + 1)
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>)
      } catch {
        lines.push({ message: line, unparsed: true })
      }
      newline = buffer.indexOf("\n")
    }
  })
  let stderr = ""
  child.stderr!.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8")
  })
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
  return { child, lines, stderr: () => stderr, exited }
}

const cleanups: Array<() => Promise<unknown> | unknown> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

/**
 * Probes for these tests: the timeouts are bounds for a loaded machine, not speed limits (a
 * backend goes down by closing its port: refused at once), and a short circuit, since the
 * default (open 60 s after 5 failures) would make a backend that comes back wait a minute.
 */
const E2E_HEALTH = {
  interval: "300ms",
  timeout: "20s",
  slowThreshold: "15s",
  unhealthyThreshold: 2,
  circuitBreaker: { openDuration: "1s", maxOpenDuration: "2s" }
}

const writeConfig = (config: unknown) => {
  const file = join(mkdtempSync(join(tmpdir(), "vmcp-e2e-")), "vmcp.yaml")
  writeFileSync(file, YAML.stringify(config))
  return file
}

describeWithKube("vmcp serve, end to end", (kube) => {
  it("aggregates, follows a backend down and up in the log and on the custom resource, and stops on SIGTERM", async () => {
    const alpha = await startMcpBackend({ name: "alpha", tools: [{ name: "search", text: "found it" }] })
    const beta: McpBackendHandle = await startMcpBackend({ name: "beta", tools: [{ name: "lookup" }] })
    cleanups.push(
      () => alpha.close(),
      () => beta.close()
    )
    const local = stdioBackendCommand({ name: "local", tools: [{ name: "echo", text: "local echo" }] })
    const file = writeConfig({
      name: "e2e",
      listen: { port: 0 },
      health: E2E_HEALTH,
      backends: [
        { name: "alpha", transport: "streamable-http", url: alpha.url },
        { name: "beta", transport: "streamable-http", url: beta.url },
        { name: "local", transport: "stdio", command: local.command, args: local.args }
      ]
    })

    const namespace = await kube.namespace("e2e")
    const object = {
      apiVersion: "toolhive.stacklok.dev/v1beta1",
      kind: "VirtualMCPServer",
      metadata: { name: "e2e", namespace },
      spec: {}
    }
    await apply(kube.admin, object, namespace)
    const objectPath = `${collectionPath(object, namespace)}/e2e`
    const objectStatus = async () =>
      (
        (await kube.admin.request({ method: "GET", path: objectPath })).body as {
          status?: { phase?: string; conditions?: Array<{ type: string; status: string; reason: string }> }
        }
      ).status

    // As in a pod, the environment alone selects the reporters (log, k8s, prometheus); the
    // credentials come from --kubeconfig, as there is no mounted service-account token here.
    const app = startApp(
      [
        "--config",
        file,
        "--require-reporters",
        "k8s",
        "--kubeconfig",
        kube.connection.kubeconfigs.admin.path
      ],
      { KUBERNETES_SERVICE_HOST: "127.0.0.1", VMCP_NAME: "e2e", VMCP_NAMESPACE: namespace }
    )
    cleanups.push(() => {
      if (app.child.exitCode === null) app.child.kill("SIGKILL")
    })
    const url = await eventually(
      "the app to listen",
      () => {
        const line = app.lines.find((l) => String(l.message).startsWith("serving MCP at "))
        return line === undefined ? undefined : String(line.message).split(" ")[3]!
      },
      120_000
    )
    expect(String(app.lines[0]?.message)).toContain(
      "in a cluster (KUBERNETES_SERVICE_HOST, VMCP_NAME, VMCP_NAMESPACE set): reporters log, k8s, prometheus"
    )

    // A real MCP client lists and calls the aggregated tools.
    let listChanged = 0
    const client = new Client(
      { name: "e2e-client", version: "0.0.0" },
      { listChanged: { tools: { autoRefresh: false, debounceMs: 0, onChanged: () => void listChanged++ } } }
    )
    await client.connect(new StreamableHTTPClientTransport(new URL(url)))
    cleanups.push(() => client.close())
    const toolNames = async () =>
      (await client.listTools(undefined, { cacheMode: "bypass" })).tools.map((t) => t.name)
    await eventually("every backend's tools", async () =>
      (await toolNames()).length === 3 ? true : undefined
    )
    expect(await toolNames()).toEqual(["alpha_search", "beta_lookup", "local_echo"])
    expect((await client.callTool({ name: "alpha_search" })).content).toEqual([
      { type: "text", text: "found it" }
    ])
    expect((await client.callTool({ name: "local_echo" })).content).toEqual([
      { type: "text", text: "local echo" }
    ])
    await eventually("Ready on the custom resource", async () =>
      (await objectStatus())?.phase === "Ready" ? true : undefined
    )
    const readyz = await fetch(url.replace(/\/mcp$/, "/readyz"))
    expect(readyz.status).toBe(200)

    // beta goes down: its tools disappear, Degraded in the log and on the object.
    const downAt = Date.now()
    const announcedBefore = listChanged
    await beta.setMode("down")
    await eventually("beta's tools to disappear", async () =>
      (await toolNames()).includes("beta_lookup") ? undefined : true
    )
    const toolsGoneMs = Date.now() - downAt
    await eventually("notifications/tools/list_changed", () =>
      listChanged > announcedBefore ? true : undefined
    )
    expect(await toolNames()).toEqual(["alpha_search", "local_echo"])
    await eventually("Degraded in the log", () =>
      app.lines.some((l) => l.event === "StatusChanged" && l.phase === "Degraded") ? true : undefined
    )
    await eventually("Degraded on the custom resource", async () =>
      (await objectStatus())?.phase === "Degraded" ? true : undefined
    )
    // Measured, not asserted: health interval 300 ms, unhealthy after 2 failed probes.
    process.stdout.write(
      `[e2e] backend down → tools hidden after ${toolsGoneMs} ms, Degraded on the object after ${Date.now() - downAt} ms\n`
    )
    const events = await eventually("a Kubernetes Event about the transition", async () => {
      const res = await kube.admin.request({
        method: "GET",
        path: `/apis/events.k8s.io/v1/namespaces/${namespace}/events`
      })
      const items = (res.body as { items: Array<{ regarding?: { name?: string }; note?: string }> }).items
      const about = items.filter((e) => e.regarding?.name === "e2e")
      return about.length > 0 ? about : undefined
    })
    expect(JSON.stringify(events)).not.toContain(String(beta.port))
    const status = (await (await fetch(url.replace(/\/mcp$/, "/status"))).json()) as {
      phase: string
      backends: Array<Record<string, unknown>>
    }
    expect(status.phase).toBe("Degraded")
    expect(status.backends.find((b) => b.name === "beta")?.health).toBe("unhealthy")
    expect(JSON.stringify(status)).not.toContain(String(beta.port))
    const metrics = await (await fetch(url.replace(/\/mcp$/, "/metrics"))).text()
    expect(metrics).toContain('vmcp_phase{vmcp="e2e",phase="Degraded"} 1')
    expect(metrics).not.toContain(String(beta.port))
    // The k8s reporter keeps its own name in health and metrics; the object is named by --name.
    expect(metrics).toMatch(/vmcp_reports_total\{[^}]*reporter="k8s"/)

    // beta comes back: Ready again, its tools return.
    await beta.setMode("up")
    await eventually("Ready on the custom resource again", async () =>
      (await objectStatus())?.phase === "Ready" ? true : undefined
    )
    await eventually("beta's tools to return", async () =>
      (await toolNames()).includes("beta_lookup") ? true : undefined
    )
    const degradedAt = app.lines.findIndex((l) => l.event === "StatusChanged" && l.phase === "Degraded")
    expect(app.lines.slice(degradedAt).some((l) => l.event === "StatusChanged" && l.phase === "Ready")).toBe(
      true
    )

    // SIGTERM: final status ShuttingDown on the object, exit 0 (timed, not asserted on time).
    const stoppedAt = Date.now()
    app.child.kill("SIGTERM")
    const code = await app.exited
    const stopMs = Date.now() - stoppedAt
    expect(code).toBe(0)
    process.stdout.write(`[e2e] exit ${stopMs} ms after SIGTERM\n`)
    const final = await objectStatus()
    expect(final?.conditions?.find((c) => c.type === "Ready")).toMatchObject({
      status: "False",
      reason: "ShuttingDown"
    })
    expect(app.stderr()).toBe("")
  })

  it("keeps serving MCP while the API server fails or hangs, lands the latest status after, and stops on time", async () => {
    const proxy = await startFaultProxy({ upstream: kube.connection.url, upstreamCa: kube.connection.ca })
    cleanups.push(() => proxy.close())
    const kubeconfig = join(mkdtempSync(join(tmpdir(), "vmcp-e2e-kube-")), "kubeconfig")
    writeFileSync(
      kubeconfig,
      kubeconfigYaml({ server: proxy.url, ca: proxy.ca, token: kube.connection.adminToken })
    )
    const alpha = await startMcpBackend({ name: "alpha", tools: [{ name: "search", text: "found it" }] })
    const beta = await startMcpBackend({ name: "beta", tools: [{ name: "lookup" }] })
    cleanups.push(
      () => alpha.close(),
      () => beta.close()
    )
    const file = writeConfig({
      name: "faults",
      listen: { port: 0 },
      health: E2E_HEALTH,
      backends: [
        { name: "alpha", transport: "streamable-http", url: alpha.url },
        { name: "beta", transport: "streamable-http", url: beta.url }
      ]
    })
    const namespace = await kube.namespace("faults")
    const object = {
      apiVersion: "toolhive.stacklok.dev/v1beta1",
      kind: "VirtualMCPServer",
      metadata: { name: "faults", namespace },
      spec: {}
    }
    await apply(kube.admin, object, namespace)
    const phase = async () =>
      (
        (await kube.admin.request({ method: "GET", path: `${collectionPath(object, namespace)}/faults` }))
          .body as {
          status?: { phase?: string }
        }
      ).status?.phase
    const app = startApp([
      "--config",
      file,
      "--reporters",
      "log,k8s",
      "--kubeconfig",
      kubeconfig,
      "--name",
      "faults",
      "--namespace",
      namespace
    ])
    cleanups.push(() => {
      if (app.child.exitCode === null) app.child.kill("SIGKILL")
    })
    const url = await eventually(
      "the app to listen",
      () => {
        const line = app.lines.find((l) => String(l.message).startsWith("serving MCP at "))
        return line === undefined ? undefined : String(line.message).split(" ")[3]!
      },
      120_000
    )
    await eventually("Ready on the custom resource", async () =>
      (await phase()) === "Ready" ? true : undefined
    )
    const client = new Client({ name: "faults-client", version: "0.0.0" })
    await client.connect(new StreamableHTTPClientTransport(new URL(url)))
    cleanups.push(() => client.close())

    // Every request to the API server now fails with 503, then hangs.
    proxy.addRule({ fault: { kind: "status", status: 503, retryAfterSeconds: 1 }, forMs: 1_500 })
    await beta.setMode("down")
    await eventually("Degraded in the log", () =>
      app.lines.some((l) => l.event === "StatusChanged" && l.phase === "Degraded") ? true : undefined
    )
    proxy.addRule({ fault: { kind: "hang" } })
    expect((await client.callTool({ name: "alpha_search" })).content).toEqual([
      { type: "text", text: "found it" }
    ])
    expect((await client.listTools(undefined, { cacheMode: "bypass" })).tools.map((t) => t.name)).toEqual([
      "alpha_search"
    ])
    expect(await phase()).toBe("Ready")

    // The API server answers again: the newest status lands.
    proxy.clearRules()
    await eventually(
      "Degraded on the custom resource",
      async () => ((await phase()) === "Degraded" ? true : undefined),
      90_000
    )

    // Stop while the API server hangs: bounded by the final-status budget, exit 0.
    proxy.addRule({ fault: { kind: "hang" } })
    const stoppedAt = Date.now()
    app.child.kill("SIGTERM")
    expect(await app.exited).toBe(0)
    process.stdout.write(
      `[e2e] exit ${Date.now() - stoppedAt} ms after SIGTERM with the API server hanging\n`
    )
    proxy.clearRules()
  })

  it("a required reporter that cannot start stops startup with a clear error and exit code 1", async () => {
    const file = writeConfig({ listen: { port: 0 } })
    const app = startApp(["--config", file, "--reporters", "log,k8s", "--require-reporters", "k8s"], {
      KUBECONFIG: "/nonexistent/kubeconfig"
    })
    expect(await app.exited).toBe(1)
    const error = app.lines.find((l) => l.level === "error")
    expect(String(error?.message)).toContain('reporter "k8s" is required but could not start')
    expect(String(error?.message)).toContain("/nonexistent/kubeconfig")
  })

  it("an optional reporter that cannot start costs one warning line, and the server serves", async () => {
    const file = writeConfig({ listen: { port: 0 } })
    const app = startApp(["--config", file, "--reporters", "log,k8s"], {
      KUBECONFIG: "/nonexistent/kubeconfig"
    })
    cleanups.push(() => {
      if (app.child.exitCode === null) app.child.kill("SIGKILL")
    })
    const url = await eventually(
      "the app to listen",
      () => {
        const line = app.lines.find((l) => String(l.message).startsWith("serving MCP at "))
        return line === undefined ? undefined : String(line.message).split(" ")[3]!
      },
      120_000
    )
    const warnings = app.lines.filter((l) => l.level === "warn" && String(l.message).includes('"k8s"'))
    expect(warnings).toHaveLength(1)
    expect((await fetch(url.replace(/\/mcp$/, "/healthz"))).status).toBe(200)
    app.child.kill("SIGTERM")
    expect(await app.exited).toBe(0)
  })
})

describe("vmcp serve, startup and shutdown", () => {
  it("a taken port fails startup with exit 1 and says what to change", async () => {
    const blocker = createServer()
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve))
    cleanups.push(() => new Promise((resolve) => blocker.close(resolve)))
    const port = (blocker.address() as AddressInfo).port
    const app = startApp(["--config", writeConfig({}), "--port", String(port), "--reporters", "log"])
    expect(await app.exited).toBe(1)
    const error = app.lines.find((l) => l.level === "error")
    expect(String(error?.message)).toBe(
      `cannot listen on 127.0.0.1:${port} (EADDRINUSE): another process uses the port; set listen.port in the config or pass --port`
    )
  })

  it("on SIGTERM turns readiness off, lets a call in flight finish, then exits 0", async () => {
    const slow = await startMcpBackend({ name: "slow", tools: [{ name: "work", text: "done" }] })
    cleanups.push(() => slow.close())
    const file = writeConfig({
      listen: { port: 0 },
      health: { interval: "300ms", timeout: "20s", slowThreshold: "15s" },
      backends: [{ name: "slow", transport: "streamable-http", url: slow.url }]
    })
    const app = startApp(["--config", file, "--reporters", "log"])
    cleanups.push(() => {
      if (app.child.exitCode === null) app.child.kill("SIGKILL")
    })
    const url = await eventually(
      "the app to listen",
      () => {
        const line = app.lines.find((l) => String(l.message).startsWith("serving MCP at "))
        return line === undefined ? undefined : String(line.message).split(" ")[3]!
      },
      120_000
    )
    const readyz = url.replace(/\/mcp$/, "/readyz")
    await eventually("ready", async () => ((await fetch(readyz)).status === 200 ? true : undefined))
    const client = new Client({ name: "drain-client", version: "0.0.0" })
    await client.connect(new StreamableHTTPClientTransport(new URL(url)))
    cleanups.push(() => client.close())
    await eventually("the tool", async () =>
      (await client.listTools(undefined, { cacheMode: "bypass" })).tools.length === 1 ? true : undefined
    )

    await slow.setMode({ kind: "slow", delayMs: 3000 })
    const before = slow.requestCounts()["tools/call"] ?? 0
    const call = client.callTool({ name: "slow_work" })
    await eventually("the call to reach the backend", () =>
      (slow.requestCounts()["tools/call"] ?? 0) > before ? true : undefined
    )
    app.child.kill("SIGTERM")
    await eventually("readiness off", async () => ((await fetch(readyz)).status === 503 ? true : undefined))
    expect((await call).content).toEqual([{ type: "text", text: "done" }])
    expect(await app.exited).toBe(0)
    expect(app.lines.some((l) => String(l.message).includes("draining 1 call(s)"))).toBe(true)
  })
})
