import { spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { Effect } from "effect"
import { afterAll, beforeAll, expect, it } from "vitest"
import { eventually } from "../src/Eventually.ts"
import { type FaultProxyHandle, startFaultProxy } from "../src/FaultProxy.ts"
import { isAlive } from "../src/internal/processes.ts"
import * as KubeApiServer from "../src/KubeApiServer.ts"
import { kubeClient, type TestKubeClient } from "../src/KubeClient.ts"
import { describeWithKube, kubeConnection } from "../src/vitest.ts"

const GROUP = "testkit.vmcp-status.dev"
const widgets = (ns: string) => `/apis/${GROUP}/v1/namespaces/${ns}/widgets`
const widget = (ns: string, name: string) => `${widgets(ns)}/${name}`
const applyStatus = (client: TestKubeClient, ns: string, manager: string, status: object, force: boolean) =>
  client.request({
    method: "PATCH",
    path: `${widget(ns, "w")}/status?fieldManager=${manager}${force ? "&force=true" : ""}`,
    contentType: "application/apply-patch+yaml",
    body: { apiVersion: `${GROUP}/v1`, kind: "Widget", metadata: { name: "w", namespace: ns }, status }
  })
const createWidget = async (client: TestKubeClient, ns: string) => {
  const res = await client.request({
    method: "POST",
    path: widgets(ns),
    body: { apiVersion: `${GROUP}/v1`, kind: "Widget", metadata: { name: "w" }, spec: {} }
  })
  expect(res.status).toBe(201)
}

/**
 * For what includes starting a server of its own: kube-apiserver takes about 5 s on an idle
 * machine and several times that on one loaded beyond its cores.
 */
const SERVER_TEST_MS = 180_000

describeWithKube("the shared API server", (kube) => {
  it("server-side apply to /status: a second field manager conflicts without force and wins with it", async () => {
    const ns = await kube.namespace()
    await createWidget(kube.admin, ns)
    expect((await applyStatus(kube.admin, ns, "reporter", { phase: "Ready" }, false)).status).toBe(200)

    const conflict = await applyStatus(
      kube.admin,
      ns,
      "operator",
      { phase: "Failed", url: "http://x" },
      false
    )
    expect(conflict.status).toBe(409)
    expect(conflict.text).toContain("reporter")

    const forced = await applyStatus(kube.admin, ns, "operator", { phase: "Failed", url: "http://x" }, true)
    expect(forced.status).toBe(200)
    const after = (await kube.admin.request({ method: "GET", path: widget(ns, "w") })).body as {
      status: { phase: string; url: string }
      metadata: { managedFields: Array<{ manager: string }> }
    }
    expect(after.status).toEqual({ phase: "Failed", url: "http://x" })
    expect(after.metadata.managedFields.map((f) => f.manager)).toContain("operator")
  })

  it("the restricted identity gets 403 until a Role and RoleBinding grant it", async () => {
    const ns = await kube.namespace()
    await createWidget(kube.admin, ns)
    const denied = await applyStatus(kube.restricted, ns, "reporter", { phase: "Ready" }, true)
    expect(denied.status).toBe(403)

    const rbac = `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}`
    const role = await kube.admin.request({
      method: "POST",
      path: `${rbac}/roles`,
      body: {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "Role",
        metadata: { name: "status-writer" },
        rules: [{ apiGroups: [GROUP], resources: ["widgets/status"], resourceNames: ["w"], verbs: ["patch"] }]
      }
    })
    expect(role.status).toBe(201)
    const binding = await kube.admin.request({
      method: "POST",
      path: `${rbac}/rolebindings`,
      body: {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "RoleBinding",
        metadata: { name: "status-writer" },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "status-writer" },
        subjects: [
          { apiGroup: "rbac.authorization.k8s.io", kind: "User", name: kube.connection.restrictedUser }
        ]
      }
    })
    expect(binding.status).toBe(201)

    // RBAC is enforced from the informer cache: the grant arrives within moments.
    await eventually("the grant to be in force", async () =>
      (await applyStatus(kube.restricted, ns, "reporter", { phase: "Ready" }, true)).status === 200
        ? true
        : undefined
    )
    // The grant is exactly `patch` on that status: reading the object is still forbidden.
    expect((await kube.restricted.request({ method: "GET", path: widget(ns, "w") })).status).toBe(403)
  })

  it("issues ServiceAccount tokens the server authenticates", async () => {
    const ns = await kube.namespace()
    const token = await kube.admin.serviceAccountToken(ns, "vmcp")
    const review = await kube.admin.request({
      method: "POST",
      path: "/apis/authentication.k8s.io/v1/tokenreviews",
      body: { apiVersion: "authentication.k8s.io/v1", kind: "TokenReview", spec: { token } }
    })
    const status = (review.body as { status: { authenticated: boolean; user: { username: string } } }).status
    expect(status.authenticated).toBe(true)
    expect(status.user.username).toBe(`system:serviceaccount:${ns}:vmcp`)
  })

  describeFaults(kube.connection)
})

function describeFaults(connection: Parameters<Parameters<typeof describeWithKube>[1]>[0]["connection"]) {
  let proxy: FaultProxyHandle
  let client: TestKubeClient
  beforeAll(async () => {
    proxy = await startFaultProxy({
      upstream: connection.url,
      upstreamCa: connection.ca,
      tls: connection.tls
    })
    client = kubeClient({ url: proxy.url, ca: proxy.ca, token: connection.adminToken })
  })
  afterAll(async () => {
    client.close()
    await proxy.close()
  })

  it("the fault proxy in front of it: a client sees each fault, then the real answer, and every request is counted", async () => {
    const path = "/api/v1/namespaces/default"
    const get = () => client.request({ method: "GET", path })
    expect((await get()).status).toBe(200)

    for (const status of [500, 503, 409]) {
      proxy.addRule({ method: "GET", path, fault: { kind: "status", status }, times: 1 })
      const faulted = await get()
      expect(faulted.status).toBe(status)
      expect((faulted.body as { kind: string; code: number }).code).toBe(status)
    }
    proxy.addRule({
      method: "GET",
      path,
      fault: { kind: "status", status: 429, retryAfterSeconds: 7 },
      times: 1
    })
    const throttled = await get()
    expect(throttled.status).toBe(429)
    expect(throttled.headers["retry-after"]).toBe("7")

    proxy.addRule({ method: "GET", path, fault: { kind: "reset" }, times: 1 })
    await expect(get()).rejects.toThrow(/ECONNRESET|socket hang up/)

    const hang = proxy.addRule({ method: "GET", path, fault: { kind: "hang" } })
    await expect(client.request({ method: "GET", path, timeoutMs: 300 })).rejects.toThrow(
      /no answer within 300 ms/
    )
    hang.remove()

    expect((await get()).status).toBe(200)
    expect(proxy.count({ method: "GET", path })).toBe(8)
    expect(proxy.count({ method: "PATCH" })).toBe(0)
  })
}

// Each starts a second server of its own; skipped like the rest when the binaries are missing.
const withAssets = it.skipIf(kubeConnection() === undefined)

withAssets(
  "a server started in a Scope stops exactly its processes and removes its files when the scope closes",
  async () => {
    const { processes, directory, startMs } = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const server = yield* KubeApiServer.make({ controllerManager: false })
          expect(server.processes.map((p) => p.name)).toEqual(["etcd", "kube-apiserver"])
          for (const p of server.processes) expect(isAlive(p.pid)).toBe(true)
          expect(existsSync(server.directory)).toBe(true)
          return { processes: server.processes, directory: server.directory, startMs: server.startMs }
        })
      )
    )
    for (const p of processes) expect(isAlive(p.pid), `${p.name} (pid ${p.pid}) still running`).toBe(false)
    expect(existsSync(directory)).toBe(false)
    expect(startMs).toBeGreaterThan(0)
  },
  SERVER_TEST_MS
)

withAssets(
  "when the process that started the server is killed, its watchdog stops etcd and kube-apiserver",
  async () => {
    const script = `
    import { startKubeApiServer } from ${JSON.stringify(fileURLToPath(new URL("../src/KubeApiServer.ts", import.meta.url)))}
    const server = await startKubeApiServer({ controllerManager: false }).catch((e) => ({ error: e._tag ?? String(e) }))
    process.stdout.write(JSON.stringify(server.error ? server : { processes: server.processes, directory: server.directory }) + "\\n")
    setInterval(() => undefined, 1000)
  `
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
      stdio: ["ignore", "pipe", "inherit"]
    })
    const line = await new Promise<string>((resolve, reject) => {
      let out = ""
      child.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString()
        if (out.includes("\n")) resolve(out.trim())
      })
      child.once("exit", (code) => reject(new Error(`child exited (${code}) before reporting`)))
    })
    const started = JSON.parse(line) as
      | { error: string }
      | { processes: ReadonlyArray<{ name: string; pid: number }>; directory: string }
    if ("error" in started) throw new Error(`the child could not start a server: ${started.error}`)
    for (const p of started.processes) expect(isAlive(p.pid)).toBe(true)
    child.kill("SIGKILL")
    // The watchdog sends SIGTERM, then SIGKILL and removes the folder 3 s later; nothing else
    // removes it. Waited for, not timed: the watchdog is another process on a busy machine.
    await eventually(
      "the watchdog to stop etcd and kube-apiserver",
      () => (started.processes.every((p) => !isAlive(p.pid)) ? true : undefined),
      60_000
    )
    await eventually(
      "the watchdog to remove the folder",
      () => (existsSync(started.directory) ? undefined : true),
      60_000
    )
  },
  SERVER_TEST_MS
)
