import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { it } from "@effect/vitest"
import { Publisher } from "@vmcp-status/core"
import { describeWithKube } from "@vmcp-status/testkit/vitest"
import { Effect } from "effect"
import { describe, expect } from "vitest"
import { loadKubeConfig } from "../src/internal/KubeClient.ts"
import { makeK8sReporter } from "../src/K8sReporter.ts"
import { minimalRules } from "../src/Rbac.ts"
import { backend, status } from "./fixtures.ts"
import { awaitStream, createObject, getObject, ownTarget, requestTracker } from "./kube.ts"

const tempDir = () => mkdtempSync(join(tmpdir(), "vmcp-k8s-config-"))

describe("loadKubeConfig: clear errors", () => {
  const message = async (options: Parameters<typeof loadKubeConfig>[0]) =>
    (await Effect.runPromise(Effect.flip(loadKubeConfig(options)))).message

  it("KUBERNETES_SERVICE_HOST without a mounted token says to mount one or pass the kubeconfig option", async () => {
    const dir = tempDir()
    expect(await message({ env: { KUBERNETES_SERVICE_HOST: "10.96.0.1" }, serviceAccountDir: dir })).toBe(
      `KUBERNETES_SERVICE_HOST is set but there is no service-account token at ${dir}/token: mount one (automountServiceAccountToken: true) or pass the kubeconfig option`
    )
  })

  it("a token without the CA says the server cannot be trusted", async () => {
    const dir = tempDir()
    writeFileSync(join(dir, "token"), "t")
    expect(
      await message({ env: { KUBERNETES_SERVICE_HOST: "10.96.0.1" }, serviceAccountDir: dir })
    ).toContain("ca.crt is missing")
  })

  it("nothing at all says where configuration comes from", async () => {
    expect(await message({ env: { HOME: tempDir() } })).toMatch(
      /^no Kubernetes configuration found: run in a cluster/
    )
  })

  it("KUBECONFIG naming a missing file says which", async () => {
    expect(await message({ env: { KUBECONFIG: "/nonexistent/config" } })).toBe(
      "KUBECONFIG names /nonexistent/config, which does not exist"
    )
  })
})

describeWithKube("configuration against a real API server", (kube) => {
  const port = new URL(kube.connection.url).port

  it.effect(
    "in-cluster: service host and port from the environment, the mounted CA, the pod namespace, and a rotated token picked up within a minute",
    () =>
      Effect.gen(function* () {
        const namespace = yield* Effect.promise(() => kube.namespace("incluster"))
        const target = ownTarget(namespace)
        yield* Effect.promise(() => createObject(kube.admin, target))
        // A ServiceAccount with the minimal Role, as `vmcp manifests` would create.
        yield* Effect.promise(async () => {
          await kube.admin.request({
            method: "POST",
            path: `/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace}/roles`,
            body: { metadata: { name: "vmcp" }, rules: minimalRules(target, { events: false }) }
          })
          await kube.admin.request({
            method: "POST",
            path: `/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace}/rolebindings`,
            body: {
              metadata: { name: "vmcp" },
              roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "vmcp" },
              subjects: [{ kind: "ServiceAccount", name: "vmcp", namespace }]
            }
          })
        })
        const token = () => Effect.promise(() => kube.admin.serviceAccountToken(namespace, "vmcp"))
        const dir = join(tempDir(), "serviceaccount")
        mkdirSync(dir)
        writeFileSync(join(dir, "token"), yield* token())
        writeFileSync(join(dir, "ca.crt"), kube.connection.ca)
        writeFileSync(join(dir, "namespace"), namespace)
        const tracker = requestTracker()
        const publisher = yield* Publisher.make({
          reporters: [
            makeK8sReporter({
              env: { KUBERNETES_SERVICE_HOST: "127.0.0.1", KUBERNETES_SERVICE_PORT: port, VMCP_NAME: "vmcp" },
              serviceAccountDir: dir,
              group: target.group,
              events: false,
              onRequest: tracker.onRequest
            })
          ],
          jitter: 0
        })
        yield* publisher.update(status([backend("alpha", "healthy")]))
        yield* awaitStream(publisher.healthChanges, (h) => h[0]?.state === "healthy")
        expect((yield* Effect.promise(() => getObject(kube.admin, target))).status?.phase).toBe("Ready")

        // kubelet replaces the token; a revoked one here, so the re-read shows.
        writeFileSync(join(dir, "token"), "revoked")
        yield* tracker.step("61 seconds")
        yield* publisher.update(status([backend("alpha", "healthy"), backend("beta", "healthy")]))
        const failing = yield* awaitStream(publisher.healthChanges, (h) => h[0]?.state === "failing")
        expect(failing[0]?.lastError).toContain("HTTP 401")
        expect(failing[0]?.lastError).toContain("service-account token")

        writeFileSync(join(dir, "token"), yield* token())
        // Retries go on with backoff; the file is read again a minute after the last read.
        for (let s = 0; s < 120 && (yield* publisher.health)[0]?.state !== "healthy"; s++)
          yield* tracker.step("1 second")
        expect((yield* publisher.health)[0]?.state).toBe("healthy")
        expect((yield* Effect.promise(() => getObject(kube.admin, target))).status?.backendCount).toBe(2)
      })
  )
})
