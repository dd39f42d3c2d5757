import { it } from "@effect/vitest"
import { Publisher, type RuntimeStatus } from "@vmcp-status/core"
import { eventually } from "@vmcp-status/testkit"
import { describeWithKube } from "@vmcp-status/testkit/vitest"
import { Effect } from "effect"
import { expect } from "vitest"
import { makeK8sReporter } from "../src/K8sReporter.ts"
import { defaultLeaseName, minimalRules, type PolicyRule } from "../src/Rbac.ts"
import { backend, status } from "./fixtures.ts"
import {
  awaitStream,
  captureLogs,
  createObject,
  getObject,
  ioTurn,
  kubeconfigFile,
  ownTarget,
  reportsDone,
  requestTracker
} from "./kube.ts"

const ready = status([backend("alpha", "healthy"), backend("beta", "healthy")])
const betaDown = status([backend("alpha", "healthy"), backend("beta", "unhealthy")], { previous: ready })
const recovered = status([backend("alpha", "healthy"), backend("beta", "healthy")], { previous: betaDown })

/** The rules without one verb (a rule left with no verb is dropped). */
const without = (
  rules: ReadonlyArray<PolicyRule>,
  resource: string,
  verb: string
): ReadonlyArray<PolicyRule> =>
  rules.flatMap((rule) => {
    if (!rule.resources.includes(resource) || !rule.verbs.includes(verb)) return [rule]
    const verbs = rule.verbs.filter((v) => v !== verb)
    return verbs.length === 0 ? [] : [{ ...rule, verbs }]
  })

describeWithKube("RBAC: the minimal Role, proven with a restricted identity", (kube) => {
  /**
   * Grants `rules` to the restricted user in a fresh namespace, then runs the reporter (Events
   * and leader election on) through a life: first status, a backend going down and back, the
   * same failure again (an Event series), two Lease renewals.
   */
  const live = (
    rulesFor: (rules: ReadonlyArray<PolicyRule>) => ReadonlyArray<PolicyRule>,
    /** Event requests to wait for before looking (they run in their own fiber). */
    eventRequests = 0
  ) => {
    const logs = captureLogs()
    return Effect.gen(function* () {
      const namespace = yield* Effect.promise(() => kube.namespace("rbac"))
      const target = ownTarget(namespace)
      yield* Effect.promise(() => createObject(kube.admin, target))
      const rules = rulesFor(minimalRules(target, { events: true, leaderElection: true }))
      yield* Effect.promise(async () => {
        for (const [path, body] of [
          [
            `/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace}/roles`,
            {
              apiVersion: "rbac.authorization.k8s.io/v1",
              kind: "Role",
              metadata: { name: "vmcp-status" },
              rules
            }
          ],
          [
            `/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace}/rolebindings`,
            {
              apiVersion: "rbac.authorization.k8s.io/v1",
              kind: "RoleBinding",
              metadata: { name: "vmcp-status" },
              roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "vmcp-status" },
              subjects: [
                { apiGroup: "rbac.authorization.k8s.io", kind: "User", name: kube.connection.restrictedUser }
              ]
            }
          ]
        ] as const) {
          const res = await kube.admin.request({ method: "POST", path, body })
          if (res.status !== 201) throw new Error(`${path}: HTTP ${res.status}: ${res.text}`)
        }
        // The authorizer reads Roles and RoleBindings from its informer cache: wait until the
        // grant is in force, or the reporter's first request may meet a 403 of the past.
        const probe = rules[0]
        if (probe === undefined) return
        const [resource, subresource] = (probe.resources[0] ?? "").split("/")
        await eventually("the Role and RoleBinding to take effect", async () => {
          const review = await kube.admin.request({
            method: "POST",
            path: "/apis/authorization.k8s.io/v1/subjectaccessreviews",
            body: {
              apiVersion: "authorization.k8s.io/v1",
              kind: "SubjectAccessReview",
              spec: {
                user: kube.connection.restrictedUser,
                resourceAttributes: {
                  namespace,
                  group: probe.apiGroups[0] ?? "",
                  resource,
                  ...(subresource === undefined ? {} : { subresource }),
                  verb: probe.verbs[0],
                  ...(probe.resourceNames?.[0] === undefined ? {} : { name: probe.resourceNames[0] })
                }
              }
            }
          })
          return (review.body as { status?: { allowed?: boolean } }).status?.allowed ? true : undefined
        })
      })
      const tracker = requestTracker()
      const publisher = yield* Publisher.make({
        reporters: [
          makeK8sReporter({
            kubeconfig: kubeconfigFile({
              server: kube.connection.url,
              ca: kube.connection.ca,
              token: kube.connection.restrictedToken
            }),
            group: target.group,
            namespace,
            name: target.name,
            leaderElection: { identity: "replica-0" },
            onRequest: tracker.onRequest
          })
        ],
        jitter: 0
      })
      const settle = Effect.gen(function* () {
        for (let pass = 0; pass < 3; pass++) {
          yield* tracker.idle
          yield* ioTurn
        }
      })
      const push = (s: RuntimeStatus) =>
        Effect.gen(function* () {
          const before = reportsDone((yield* publisher.health)[0])
          yield* publisher.update(s)
          // A failing reporter waits out its slow retry: it may not report again in virtual time.
          yield* awaitStream(
            publisher.healthChanges,
            (h) => reportsDone(h[0]) > before || h[0]?.state === "failing"
          )
          yield* settle
        })
      yield* settle
      yield* push(ready)
      yield* push(betaDown)
      yield* push(recovered)
      yield* push(betaDown)
      yield* tracker.step("2 seconds")
      yield* settle
      yield* tracker.step("2 seconds")
      yield* settle
      yield* tracker.finishedAtLeast(/^\/apis\/events\.k8s\.io\//, eventRequests)
      const events = yield* Effect.promise(() =>
        kube.admin.request({ method: "GET", path: `/apis/events.k8s.io/v1/namespaces/${namespace}/events` })
      )
      const lease = yield* Effect.promise(() =>
        kube.admin.request({
          method: "GET",
          path: `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases/${defaultLeaseName(target)}`
        })
      )
      return {
        namespace,
        object: yield* Effect.promise(() => getObject(kube.admin, target)),
        events: (events.body as { items: Array<{ reason: string; series?: { count: number } }> }).items,
        lease: lease.status === 200 ? (lease.body as { spec: { holderIdentity?: string } }).spec : undefined,
        warnings: logs.lines.filter((l) => l.level === "Warn").map((l) => l.text)
      }
    }).pipe(Effect.provide(logs.layer))
  }

  it.effect(
    "minimalRules suffice: status, Events (with a series) and the Lease all work, nothing is logged",
    () =>
      Effect.gen(function* () {
        // Four Events created, two series updates.
        const result = yield* live((rules) => rules, 6)
        expect(result.warnings).toEqual([])
        expect(result.object.status?.phase).toBe("Degraded")
        expect(result.lease?.holderIdentity).toBe("replica-0")
        expect(result.events.find((e) => e.reason === "BackendUnhealthy")?.series?.count).toBe(2)
      })
  )

  const cases: ReadonlyArray<readonly [string, string, RegExp]> = [
    [
      "virtualmcpservers",
      "get",
      /RBAC: get on virtualmcpservers "vmcp" in namespace "rbac-\w+" is forbidden/
    ],
    [
      "virtualmcpservers/status",
      "patch",
      /RBAC: patch on virtualmcpservers\/status "vmcp" in namespace "rbac-\w+" is forbidden/
    ],
    [
      "events",
      "create",
      /Events .* not being recorded .*RBAC: create on events in namespace "rbac-\w+" is forbidden/
    ],
    [
      "events",
      "patch",
      /Events .* not being recorded .*RBAC: patch on events in namespace "rbac-\w+" is forbidden/
    ],
    [
      "leases",
      "get",
      /Lease .* failed .*RBAC: get on leases "vmcp-status" in namespace "rbac-\w+" is forbidden/
    ],
    ["leases", "create", /Lease .* failed .*RBAC: create on leases in namespace "rbac-\w+" is forbidden/],
    [
      "leases",
      "update",
      /Lease .* failed .*RBAC: update on leases "vmcp-status" in namespace "rbac-\w+" is forbidden/
    ]
  ]
  for (const [resource, verb, expected] of cases) {
    it.effect(`without "${verb}" on ${resource}: one warning says exactly that, with the fix`, () =>
      Effect.gen(function* () {
        const result = yield* live((rules) => without(rules, resource, verb))
        const matching = result.warnings.filter((w) => expected.test(w))
        expect(matching, result.warnings.join("\n")).toHaveLength(1)
        expect(matching[0]).toContain(`Fix: grant verb "${verb}" on resource "${resource}"`)
      })
    )
  }
})
