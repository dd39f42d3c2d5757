/**
 * `vmcp status` reading a `VirtualMCPServer` from the testkit's real API server instead of a
 * running server: print, wait and the fleet view, as CI would use them with only a kubeconfig.
 */
import { describeWithKube } from "@vmcp-status/testkit/vitest"
import { afterEach, expect, it } from "vitest"
import { startCli } from "./cliProcess.ts"
import { apply, collectionPath, eventually } from "./kube.ts"

const cleanups: Array<() => Promise<unknown> | unknown> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

/** `vmcp <args>` as a child: its output so far and its exit; killed after the test if still running. */
const vmcp = (args: ReadonlyArray<string>) => {
  const running = startCli(args)
  cleanups.push(running.stop)
  return running
}

const statusOf = (phase: string, backends: ReadonlyArray<{ name: string; status: string }>) => ({
  phase,
  message: `${phase} for the test`,
  totalToolCount: backends.length,
  discoveredBackends: backends.map((b) => ({ ...b, circuitBreakerState: "closed", consecutiveFailures: 0 })),
  conditions: [
    {
      type: "Ready",
      status: phase === "Ready" ? "True" : "False",
      reason: phase,
      message: phase,
      lastTransitionTime: "2026-11-25T18:00:00Z"
    }
  ]
})

describeWithKube("vmcp status against a VirtualMCPServer", (kube) => {
  const object = (name: string, namespace: string) => ({
    apiVersion: "toolhive.stacklok.dev/v1beta1",
    kind: "VirtualMCPServer",
    metadata: { name, namespace },
    spec: {}
  })
  const setStatus = async (name: string, namespace: string, status: unknown) => {
    const res = await kube.admin.request({
      method: "PATCH",
      path: `${collectionPath(object(name, namespace), namespace)}/${name}/status`,
      body: { status },
      contentType: "application/merge-patch+json"
    })
    if (res.status !== 200) throw new Error(`status patch: HTTP ${res.status}: ${res.text}`)
  }
  const kubeconfig = () => kube.connection.kubeconfigs.admin.path

  it("--wait --for=backend=<name> waits for the object to show it healthy; print and -o wide read the object", async () => {
    const namespace = await kube.namespace("status-cli")
    await apply(kube.admin, object("gw", namespace), namespace)
    await setStatus("gw", namespace, statusOf("Degraded", [{ name: "web", status: "unavailable" }]))

    const wait = vmcp([
      "status",
      "--kubeconfig",
      kubeconfig(),
      "--name",
      "gw",
      "--namespace",
      namespace,
      "--wait",
      "--for=backend=web",
      "--timeout",
      "5m"
    ])
    await eventually("the wait to start", () =>
      wait.stderr().includes("waiting up to 300 s") ? true : undefined
    )
    // Still waiting: the object says web is unavailable.
    await eventually("a first read of the object", async () => {
      const once = vmcp(["status", "--kubeconfig", kubeconfig(), "--name", "gw", "--namespace", namespace])
      return (await once.exited) === 1 && /web +unhealthy/.test(once.stdout()) ? true : undefined
    })

    await setStatus("gw", namespace, statusOf("Ready", [{ name: "web", status: "ready" }]))
    expect(await wait.exited).toBe(0)
    expect(wait.stdout()).toMatch(/^Ready {2}Ready for the test/)
    expect(wait.stdout()).toMatch(/web +healthy/)

    const wide = vmcp(["status", "--kubeconfig", kubeconfig(), "--name", "gw", "-n", namespace, "-o", "wide"])
    expect(await wide.exited).toBe(0)
    expect(wide.stdout()).toMatch(/web +healthy +closed +0 +-/)
  })

  it("--wait gives up with 1 on an object that never gets there, and says so", async () => {
    const namespace = await kube.namespace("status-cli")
    await apply(kube.admin, object("stuck", namespace), namespace)
    await setStatus("stuck", namespace, statusOf("Failed", [{ name: "web", status: "unavailable" }]))
    const run = vmcp([
      "status",
      "--kubeconfig",
      kubeconfig(),
      "--name",
      "stuck",
      "-n",
      namespace,
      "--wait",
      "--timeout",
      "1s"
    ])
    expect(await run.exited).toBe(1)
    expect(run.stderr()).toContain("timed out after 1 s waiting for ready (phase Failed)")
  })

  it("a missing object is 1 with a message naming it", async () => {
    const namespace = await kube.namespace("status-cli")
    const missing = vmcp(["status", "--kubeconfig", kubeconfig(), "--name", "nope", "-n", namespace])
    expect(await missing.exited).toBe(1)
    expect(missing.stderr()).toContain(`VirtualMCPServer ${namespace}/nope not found`)
  })

  it("-A prints one line per VirtualMCPServer in every namespace", async () => {
    const first = await kube.namespace("fleet-a")
    const second = await kube.namespace("fleet-b")
    await apply(kube.admin, object("one", first), first)
    await apply(kube.admin, object("two", second), second)
    await setStatus("one", first, statusOf("Ready", [{ name: "a", status: "ready" }]))
    await setStatus(
      "two",
      second,
      statusOf("Degraded", [
        { name: "a", status: "ready" },
        { name: "b", status: "unavailable" }
      ])
    )
    const fleet = vmcp(["status", "--kubeconfig", kubeconfig(), "-A"])
    // Other tests' objects may be listed too: not every one is Ready.
    expect([0, 1]).toContain(await fleet.exited)
    const lines = fleet.stdout().split("\n")
    expect(lines[0]).toMatch(/^NAMESPACE +NAME +PHASE +HEALTHY +TOOLS +MESSAGE$/)
    expect(lines).toContainEqual(
      expect.stringMatching(new RegExp(`^${first} +one +Ready +1/1 +1 +Ready for the test$`))
    )
    expect(lines).toContainEqual(
      expect.stringMatching(new RegExp(`^${second} +two +Degraded +1/2 +2 +Degraded for the test$`))
    )
  })
})
