/** Helpers for the tests that run against the real API server from the testkit. */
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { kubeconfigYaml, type TestKubeClient } from "@vmcp-status/testkit"
import type { KubeTestEnv } from "@vmcp-status/testkit/vitest"
import { type Duration, Effect, Logger, Stream, SubscriptionRef } from "effect"
import { TestClock } from "effect/testing"
import type { RequestEvent } from "../src/internal/KubeClient.ts"
import { objectPath, type Target, ToolhiveVirtualMcpServer } from "../src/Target.ts"

/** The group our own CRD is served under in tests (toolhive's real CRD holds toolhive's group). */
export const OWN_CRD_GROUP = "standalone.vmcp-status.test"

/** A target in `namespace` against toolhive's real CRD. */
export const toolhiveTarget = (namespace: string, name = "vmcp"): Target => ({
  ...ToolhiveVirtualMcpServer,
  namespace,
  name
})

/** A target in `namespace` against our own CRD. */
export const ownTarget = (namespace: string, name = "vmcp"): Target => ({
  ...ToolhiveVirtualMcpServer,
  group: OWN_CRD_GROUP,
  namespace,
  name
})

const ok = async (what: string, promise: ReturnType<TestKubeClient["request"]>) => {
  const res = await promise
  if (res.status < 200 || res.status >= 300) throw new Error(`${what}: HTTP ${res.status}: ${res.text}`)
  return res
}

/** Creates the VirtualMCPServer (a valid toolhive spec) and returns its uid. */
export const createObject = async (admin: TestKubeClient, target: Target): Promise<string> => {
  const res = await ok(
    `create ${target.name}`,
    admin.request({
      method: "POST",
      path: `/apis/${target.group}/${target.version}/namespaces/${target.namespace}/${target.plural}`,
      body: {
        apiVersion: `${target.group}/${target.version}`,
        kind: target.kind,
        metadata: { name: target.name, namespace: target.namespace },
        spec: { groupRef: { name: "tools" }, incomingAuth: { type: "anonymous" } }
      }
    })
  )
  return (res.body as { metadata: { uid: string } }).metadata.uid
}

/** The object as the API server has it. */
export const getObject = async (admin: TestKubeClient, target: Target) =>
  (await ok(`get ${target.name}`, admin.request({ method: "GET", path: objectPath(target) }))).body as {
    metadata: { managedFields?: Array<{ manager: string; subresource?: string; fieldsV1?: unknown }> }
    status?: Record<string, unknown> & {
      conditions?: Array<{ type: string; status: string; reason: string; lastTransitionTime: string }>
      discoveredBackends?: Array<{ name: string; status: string }>
    }
  }

/** Writes a kubeconfig for `token` against `server` (the API server or a fault proxy) and returns its path. */
export const kubeconfigFile = (options: { server: string; ca: string; token: string }): string => {
  const file = join(mkdtempSync(join(tmpdir(), "vmcp-k8s-kubeconfig-")), "config")
  writeFileSync(file, kubeconfigYaml(options), { mode: 0o600 })
  return file
}

/** The admin kubeconfig pointed at `server` (e.g. a fault proxy presenting the server's certificate). */
export const adminKubeconfig = (kube: KubeTestEnv, server = kube.connection.url) =>
  kubeconfigFile({ server, ca: kube.connection.ca, token: kube.connection.adminToken })

/** Waits (without time passing) until `ref` holds a value satisfying `predicate`. */
export const awaitRef = <A>(ref: SubscriptionRef.SubscriptionRef<A>, predicate: (a: A) => boolean) =>
  SubscriptionRef.changes(ref).pipe(
    Stream.filter(predicate),
    Stream.take(1),
    Stream.runCollect,
    Effect.map((values) => values[0] as A)
  )

/** Lets real I/O (sockets) make progress: one turn of the Node event loop, no clock involved. */
export const ioTurn = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

/** Waits (without time passing) until `stream` emits a value satisfying `predicate`. */
export const awaitStream = <A>(stream: Stream.Stream<A>, predicate: (a: A) => boolean) =>
  stream.pipe(
    Stream.filter(predicate),
    Stream.take(1),
    Stream.runCollect,
    Effect.map((values) => values[0] as A)
  )

/** The number of reports a publisher's reporter has finished, whatever the outcome. */
export const reportsDone = (health: { readonly outcomes: Readonly<Record<string, number>> } | undefined) =>
  health === undefined ? 0 : Object.values(health.outcomes).reduce((a, b) => a + b, 0)

/** A logger that keeps every line, for asserting what an operator would read. */
export const captureLogs = () => {
  const lines: Array<{ readonly level: string; readonly text: string }> = []
  const logger = Logger.make((options) => {
    const parts = Array.isArray(options.message) ? options.message : [options.message]
    lines.push({ level: String(options.logLevel), text: parts.map((p) => String(p)).join(" ") })
  })
  return { lines, layer: Logger.layer([logger]) }
}

/**
 * Follows the reporter's API requests (through its `onRequest` hook) so a test moves virtual
 * time only while none is in flight: real I/O and `TestClock` never race.
 */
export const requestTracker = () => {
  let inFlight = 0
  const waiters: Array<() => void> = []
  const finished: Array<RequestEvent & { readonly phase: "end" }> = []
  const watchers = new Set<() => void>()
  const onRequest = (event: RequestEvent) => {
    if (event.phase === "start") inFlight++
    else {
      finished.push(event)
      for (const watch of [...watchers]) watch()
      if (--inFlight === 0) for (const wake of waiters.splice(0)) wake()
    }
  }
  const countFinished = (path: RegExp) => finished.filter((e) => path.test(e.path)).length
  /** Waits until `n` requests whose path matches have finished (whatever their result). */
  const finishedAtLeast = (path: RegExp, n: number) =>
    Effect.promise(
      () =>
        new Promise<void>((resolve) => {
          const check = () => {
            if (countFinished(path) < n) return
            watchers.delete(check)
            resolve()
          }
          watchers.add(check)
          check()
        })
    )
  /** Resolves once no request is in flight, then lets the callers' fibers run on. */
  const idle = Effect.promise(
    () => new Promise<void>((resolve) => (inFlight === 0 ? resolve() : waiters.push(resolve)))
  ).pipe(Effect.andThen(ioTurn), Effect.andThen(ioTurn))
  /** Advances virtual time; fibers it wakes start their requests, which are awaited. */
  const step = (duration: Duration.Input) => TestClock.adjust(duration).pipe(Effect.andThen(idle))
  return {
    onRequest,
    idle,
    step,
    inFlight: () => inFlight,
    finished: (path: RegExp) => finished.filter((e) => path.test(e.path)),
    finishedAtLeast
  }
}
