/**
 * vitest integration: one real API server per test run, started in vitest's global setup and
 * shared with every test file through `provide`/`inject`; a fresh namespace per test.
 *
 * ```ts
 * // test/globalSetup.ts
 * import { kubeGlobalSetup } from "@vmcp-status/testkit/vitest"
 * export default kubeGlobalSetup({ crds: ["crd/virtualmcpservers.yaml"] })
 *
 * // test/Status.test.ts
 * import { describeWithKube } from "@vmcp-status/testkit/vitest"
 * describeWithKube("status", (kube) => {
 *   it("writes", async () => {
 *     const namespace = await kube.namespace()
 *     // ... kube.connection.kubeconfigs.admin.path, kube.admin.request(...) ...
 *   })
 * })
 * ```
 */
import { afterAll, afterEach, describe, inject } from "vitest"
import { KubeAssetsMissingError } from "./Errors.ts"
import { type KubeApiServerOptions, type KubeConnection, startKubeApiServer } from "./KubeApiServer.ts"
import { PROVISION_COMMAND } from "./KubeAssets.ts"
import { kubeClient, type TestKubeClient } from "./KubeClient.ts"

declare module "vitest" {
  export interface ProvidedContext {
    /** The shared API server, or the reason there is none (assets missing outside CI). */
    vmcpStatusKube: { readonly connection: KubeConnection } | { readonly skipped: string }
  }
}

/** The part of vitest's global-setup context the setup uses. */
export interface GlobalSetupContext {
  provide: (
    key: "vmcpStatusKube",
    value: { readonly connection: KubeConnection } | { readonly skipped: string }
  ) => void
}

/**
 * A vitest `globalSetup` that starts etcd + kube-apiserver once for the run and stops them
 * (by pid) when the run ends. Without provisioned binaries it fails the run when `CI` is set,
 * and otherwise lets the Kubernetes tests skip with one line saying how to provision.
 */
export const kubeGlobalSetup =
  (options: KubeApiServerOptions = {}) =>
  async ({ provide }: GlobalSetupContext): Promise<() => Promise<void>> => {
    try {
      const server = await startKubeApiServer(options)
      const { admin: _admin, restricted: _restricted, stop: _stop, ...connection } = server
      provide("vmcpStatusKube", { connection })
      return () => server.stop()
    } catch (error) {
      if (error instanceof KubeAssetsMissingError && !process.env.CI) {
        const skipped = `skipping Kubernetes tests: ${error.message}`
        process.stderr.write(`[testkit] ${skipped}\n`)
        provide("vmcpStatusKube", { skipped })
        return async () => undefined
      }
      throw error
    }
  }

/** What a Kubernetes test gets: the shared server and helpers bound to it. */
export interface KubeTestEnv {
  readonly connection: KubeConnection
  /** A client acting as `admin` (system:masters). */
  readonly admin: TestKubeClient
  /** A client acting as the identity with no grants. */
  readonly restricted: TestKubeClient
  /** A fresh namespace for the calling test, deleted after it. */
  readonly namespace: (prefix?: string) => Promise<string>
}

/** The shared server, or `undefined` when the run has none (see `kubeGlobalSetup`). */
export const kubeConnection = (): KubeConnection | undefined => {
  const value = inject("vmcpStatusKube") as ReturnType<typeof inject<"vmcpStatusKube">> | undefined
  if (value === undefined) {
    throw new Error(
      `no Kubernetes API server was provided: add a globalSetup that exports kubeGlobalSetup() to vitest.config (provision with \`${PROVISION_COMMAND}\`)`
    )
  }
  return "connection" in value ? value.connection : undefined
}

/**
 * `describe` for tests that need the real API server: skipped (one line on stderr, from the
 * global setup) when the binaries are not provisioned outside CI.
 */
export const describeWithKube = (name: string, body: (kube: KubeTestEnv) => void): void => {
  const connection = kubeConnection()
  if (connection === undefined) {
    describe.skip(name, () => undefined)
    return
  }
  describe(name, () => {
    const admin = kubeClient({ url: connection.url, ca: connection.ca, token: connection.adminToken })
    const restricted = kubeClient({
      url: connection.url,
      ca: connection.ca,
      token: connection.restrictedToken
    })
    const created: Array<string> = []
    afterEach(async () => {
      for (const ns of created.splice(0)) await admin.deleteNamespace(ns)
    })
    afterAll(() => {
      admin.close()
      restricted.close()
    })
    body({
      connection,
      admin,
      restricted,
      namespace: async (prefix) => {
        const ns = await admin.createNamespace(prefix)
        created.push(ns)
        return ns
      }
    })
  })
}
