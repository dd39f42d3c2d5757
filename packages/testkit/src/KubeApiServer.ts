import { generateKeyPairSync, randomBytes } from "node:crypto"
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises"
import { get as httpGet } from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { setTimeout as delay } from "node:timers/promises"
import { Effect, type Scope } from "effect"
import { type KeyPair, makeCertificates } from "./Certificates.ts"
import type { CertificateError, KubeAssetsMissingError, TestKubeRequestError } from "./Errors.ts"
import { KubeStartError } from "./Errors.ts"
import { type Managed, type Reaper, startManaged, startReaper, stopManaged } from "./internal/processes.ts"
import { findKubeAssets } from "./KubeAssets.ts"
import { kubeClient, kubeconfigYaml, type TestKubeClient } from "./KubeClient.ts"
import { freeLoopbackPorts } from "./Ports.ts"

export interface KubeApiServerOptions {
  /** The folder holding the binaries; default from `kubeAssetsDirectory()`. */
  readonly assets?: string
  /** Run kube-controller-manager when the folder has it (default true). */
  readonly controllerManager?: boolean
  /**
   * Bound on the whole start, default 180 s: a bound for a hung start, not a speed limit (on an
   * idle machine the start takes about 5 s; with several suites starting servers at once on
   * 2 cores, over 60 s was seen).
   */
  readonly startTimeoutMs?: number
  /** CRD YAML files to install (and wait for) once the server is ready. */
  readonly crds?: ReadonlyArray<string>
}

/** A kubeconfig as a file and as text. */
export interface Kubeconfig {
  readonly path: string
  readonly yaml: string
}

/**
 * Everything a test needs to reach the server, as plain data (it crosses from vitest's global
 * setup to the test workers).
 */
export interface KubeConnection {
  /** `https://127.0.0.1:<port>` */
  readonly url: string
  /** PEM CA that signed the serving certificate. */
  readonly ca: string
  /** The serving certificate and key (SANs `localhost`, `127.0.0.1`) with its CA, e.g. for a fault proxy to present. */
  readonly tls: KeyPair & { readonly ca: string }
  /** A static token for `admin` in `system:masters`. */
  readonly adminToken: string
  /** The user name and static token of an identity with no RBAC grants. */
  readonly restrictedUser: string
  readonly restrictedToken: string
  readonly kubeconfigs: { readonly admin: Kubeconfig; readonly restricted: Kubeconfig }
  /** Whether kube-controller-manager runs (ServiceAccount token Secrets, namespace deletion, GC). */
  readonly controllerManager: boolean
  /** The processes started, by pid: each leads its own process group. */
  readonly processes: ReadonlyArray<{ readonly name: string; readonly pid: number }>
  /** The folder holding data and certificates; removed on stop. */
  readonly directory: string
  /** How long the start took, in milliseconds. */
  readonly startMs: number
}

/** A running etcd + kube-apiserver (+ kube-controller-manager). */
export interface KubeApiServerHandle extends KubeConnection {
  /** A setup client acting as `admin`. */
  readonly admin: TestKubeClient
  /** A client acting as the restricted identity. */
  readonly restricted: TestKubeClient
  /** Stops exactly the processes it started (SIGTERM, SIGKILL after 5 s) and removes its folder. */
  readonly stop: () => Promise<void>
}

const SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
const RESTRICTED_USER = "restricted"

const errorMessage = (error: unknown) => (error instanceof Error ? error.message : String(error))

const httpOk = (url: string) =>
  new Promise<boolean>((resolve) => {
    const req = httpGet(url, { timeout: 2_000 }, (res) => {
      res.resume()
      resolve(res.statusCode === 200)
    })
    req.on("timeout", () => req.destroy())
    req.on("error", () => resolve(false))
  })

/** Polls `check` every 100 ms until it holds, the process dies or the deadline passes. */
const waitReady = async (managed: Managed, what: string, deadline: number, check: () => Promise<boolean>) => {
  while (Date.now() < deadline) {
    if (managed.hasExited()) {
      throw new KubeStartError({
        component: managed.name,
        message: `${managed.name} exited (${await managed.exited}) before ${what}`,
        logTail: managed.logTail()
      })
    }
    if (await check()) return
    await delay(100)
  }
  throw new KubeStartError({
    component: managed.name,
    message: `${managed.name} did not reach ${what} in time; see logTail, or raise startTimeoutMs on a slow machine`,
    logTail: managed.logTail()
  })
}

// Process groups still running if this process exits without stopping (process.exit in a
// test); exit handlers must be synchronous, so this only sends SIGKILL.
const running = new Set<number>()
let exitHookInstalled = false
const installExitHook = () => {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.once("exit", () => {
    for (const pid of running) {
      try {
        process.kill(-pid, "SIGKILL")
      } catch {
        // Already gone.
      }
    }
  })
}

/**
 * Starts etcd and kube-apiserver (and kube-controller-manager when present) on free loopback
 * ports with fresh certificates, static tokens and temporary data, and waits for `/readyz`.
 *
 * @example
 * ```ts
 * import { startKubeApiServer } from "@vmcp-status/testkit"
 *
 * const server = await startKubeApiServer({ crds: ["test/fixtures/crd.yaml"] })
 * const namespace = await server.admin.createNamespace()
 * // ... point a client at server.kubeconfigs.admin.path ...
 * await server.stop()
 * ```
 */
/** `/dev/shm/vmcp-testkit-etcd-*` when `/dev/shm` is a writable folder, else `<directory>/etcd`. */
const etcdDataDirectory = async (directory: string): Promise<string> => {
  try {
    return await mkdtemp("/dev/shm/vmcp-testkit-etcd-")
  } catch {
    return join(directory, "etcd")
  }
}

export const startKubeApiServer = async (
  options: KubeApiServerOptions = {}
): Promise<KubeApiServerHandle> => {
  const started = performance.now()
  const deadline = Date.now() + (options.startTimeoutMs ?? 180_000)
  const assets = findKubeAssets(options.assets)
  const directory = await mkdtemp(join(tmpdir(), "vmcp-testkit-kube-"))
  const processes: Array<Managed> = []
  const clients: Array<TestKubeClient> = []
  const cleanups: Array<() => Promise<void>> = []
  let reaper: Reaper | undefined

  const stop = async () => {
    for (const managed of [...processes].reverse()) {
      await stopManaged(managed)
      running.delete(managed.pid)
    }
    for (const client of clients) client.close()
    for (const cleanup of cleanups) await cleanup()
    await rm(directory, { recursive: true, force: true })
    await reaper?.release()
  }

  const launch = (name: string, command: string, args: ReadonlyArray<string>) => {
    const managed = startManaged(name, command, args)
    processes.push(managed)
    if (managed.pid > 0) {
      running.add(managed.pid)
      reaper?.watchPid(managed.pid)
    }
    return managed
  }

  try {
    installExitHook()
    reaper = startReaper()
    reaper.watchDir(directory)
    // etcd fsyncs every write; on a busy disk that made the API server's own start-up writes take
    // 0.5 s each. Its data is throwaway, so it lives in memory where the machine has a tmpfs.
    const etcdData = await etcdDataDirectory(directory)
    if (etcdData !== join(directory, "etcd")) {
      reaper.watchDir(etcdData)
      cleanups.push(() => rm(etcdData, { recursive: true, force: true }))
    }
    const file = (name: string) => join(directory, name)
    const certs = await makeCertificates({ caName: "vmcp-status testkit kube CA" })
    const serviceAccountKey = generateKeyPairSync("ec", { namedCurve: "prime256v1" })
    const adminToken = randomBytes(24).toString("hex")
    const restrictedToken = randomBytes(24).toString("hex")
    await mkdir(file("certs"))
    await Promise.all([
      writeFile(file("ca.crt"), certs.ca.cert),
      writeFile(file("serving.crt"), certs.serving.cert),
      writeFile(file("serving.key"), certs.serving.key, { mode: 0o600 }),
      writeFile(file("sa.key"), serviceAccountKey.privateKey.export({ type: "pkcs8", format: "pem" }), {
        mode: 0o600
      }),
      writeFile(file("sa.pub"), serviceAccountKey.publicKey.export({ type: "spki", format: "pem" })),
      writeFile(
        file("tokens.csv"),
        `${adminToken},admin,admin-uid,"system:masters"\n${restrictedToken},${RESTRICTED_USER},${RESTRICTED_USER}-uid\n`,
        { mode: 0o600 }
      )
    ])
    const [etcdPort, etcdPeerPort, apiPort] = (await freeLoopbackPorts(3)) as [number, number, number]

    const etcd = launch("etcd", assets.etcd, [
      "--name=testkit",
      `--data-dir=${etcdData}`,
      `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-cluster=testkit=http://127.0.0.1:${etcdPeerPort}`,
      "--log-level=warn",
      "--logger=zap"
    ])
    await waitReady(etcd, "health", deadline, () => httpOk(`http://127.0.0.1:${etcdPort}/health`))

    const url = `https://127.0.0.1:${apiPort}`
    const apiServer = launch("kube-apiserver", assets.kubeApiServer, [
      "--bind-address=127.0.0.1",
      `--secure-port=${apiPort}`,
      "--insecure-port=0",
      "--advertise-address=127.0.0.1",
      "--endpoint-reconciler-type=none",
      `--etcd-servers=http://127.0.0.1:${etcdPort}`,
      `--cert-dir=${file("certs")}`,
      `--tls-cert-file=${file("serving.crt")}`,
      `--tls-private-key-file=${file("serving.key")}`,
      `--token-auth-file=${file("tokens.csv")}`,
      "--authorization-mode=RBAC",
      `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
      `--service-account-key-file=${file("sa.pub")}`,
      `--service-account-signing-key-file=${file("sa.key")}`,
      `--api-audiences=${SERVICE_ACCOUNT_ISSUER}`,
      "--service-cluster-ip-range=10.96.0.0/16",
      "--profiling=false"
    ])
    const admin = kubeClient({ url, ca: certs.ca.cert, token: adminToken })
    clients.push(admin)
    await waitReady(apiServer, "/readyz", deadline, async () => {
      const res = await admin
        .request({ method: "GET", path: "/readyz", timeoutMs: 2_000 })
        .catch(() => undefined)
      return res?.status === 200
    })

    const adminKubeconfig = {
      path: file("admin.kubeconfig"),
      yaml: kubeconfigYaml({ server: url, ca: certs.ca.cert, token: adminToken, user: "admin" })
    }
    const restrictedKubeconfig = {
      path: file("restricted.kubeconfig"),
      yaml: kubeconfigYaml({ server: url, ca: certs.ca.cert, token: restrictedToken, user: RESTRICTED_USER })
    }
    await writeFile(adminKubeconfig.path, adminKubeconfig.yaml, { mode: 0o600 })
    await writeFile(restrictedKubeconfig.path, restrictedKubeconfig.yaml, { mode: 0o600 })

    const withControllerManager =
      options.controllerManager !== false && assets.kubeControllerManager !== undefined
    if (withControllerManager && assets.kubeControllerManager !== undefined) {
      launch("kube-controller-manager", assets.kubeControllerManager, [
        `--kubeconfig=${adminKubeconfig.path}`,
        "--port=0",
        "--secure-port=0",
        "--bind-address=127.0.0.1",
        "--leader-elect=false",
        "--controllers=serviceaccount-token,serviceaccount,namespace,garbagecollector",
        `--service-account-private-key-file=${file("sa.key")}`,
        `--root-ca-file=${file("ca.crt")}`,
        "--use-service-account-credentials=false"
      ])
    }

    if (options.crds !== undefined && options.crds.length > 0) await admin.installCrds(options.crds)

    const restricted = kubeClient({ url, ca: certs.ca.cert, token: restrictedToken })
    clients.push(restricted)
    return {
      url,
      ca: certs.ca.cert,
      tls: { ...certs.serving, ca: certs.ca.cert },
      adminToken,
      restrictedUser: RESTRICTED_USER,
      restrictedToken,
      kubeconfigs: { admin: adminKubeconfig, restricted: restrictedKubeconfig },
      controllerManager: withControllerManager,
      processes: processes.map((p) => ({ name: p.name, pid: p.pid })),
      directory,
      startMs: Math.round(performance.now() - started),
      admin,
      restricted,
      stop
    }
  } catch (error) {
    await stop()
    if (error instanceof KubeStartError) throw error
    throw error instanceof Error && "_tag" in error
      ? error
      : new KubeStartError({ component: "harness", message: errorMessage(error), logTail: "" })
  }
}

/**
 * The real API server for the lifetime of the enclosing `Scope`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { KubeApiServer } from "@vmcp-status/testkit"
 *
 * const program = Effect.scoped(
 *   Effect.gen(function* () {
 *     const server = yield* KubeApiServer.make()
 *     const namespace = yield* Effect.promise(() => server.admin.createNamespace())
 *     return namespace
 *   })
 * )
 * ```
 */
export const make = (
  options: KubeApiServerOptions = {}
): Effect.Effect<
  KubeApiServerHandle,
  KubeAssetsMissingError | KubeStartError | CertificateError | TestKubeRequestError,
  Scope.Scope
> =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: () => startKubeApiServer(options),
      catch: (error) =>
        error as KubeAssetsMissingError | KubeStartError | CertificateError | TestKubeRequestError
    }),
    (server) => Effect.promise(() => server.stop())
  )
