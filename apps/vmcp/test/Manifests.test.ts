import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Writable } from "node:stream"
import { deriveStatus, start } from "@vmcp-status/core"
import { makeK8sReporter, minimalRules, ToolhiveVirtualMcpServer } from "@vmcp-status/k8s"
import { kubeClient, parseYamlDocuments } from "@vmcp-status/testkit"
import { describeWithKube } from "@vmcp-status/testkit/vitest"
import { Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import YAML from "yaml"
import { decodeConfig } from "../src/Config.ts"
import { runCli } from "../src/cli/Commands.ts"
import {
  loadCrd,
  type Manifest,
  ManifestDefaults,
  makeManifests,
  manifestsYaml
} from "../src/manifests/Manifests.ts"
import { VERSION } from "../src/Version.ts"
import { apply, collectionPath, eventually, kubeconfigFile } from "./kube.ts"

type Doc = Manifest & Record<string, unknown>

const manifestsText = async (args: ReadonlyArray<string>) => {
  let out = ""
  let err = ""
  const sink = (append: (s: string) => void) =>
    new Writable({
      write: (chunk, _enc, done) => {
        append(String(chunk))
        done()
      }
    })
  const code = await runCli(["manifests", ...args], {
    stdout: sink((s) => {
      out += s
    }),
    stderr: sink((s) => {
      err += s
    }),
    env: {}
  })
  return { code, out, err }
}

const docs = (text: string) => parseYamlDocuments(text) as ReadonlyArray<Doc>
const byKind = (all: ReadonlyArray<Doc>, kind: string) => all.find((d) => d.kind === kind) as Doc
const config = Effect.runSync(decodeConfig({}, "inline"))
const target = (name: string) => ({ ...ToolhiveVirtualMcpServer, name })

describe("vmcp manifests", () => {
  it("binds the Role of @vmcp-status/k8s (one object by name, no Lease) to the ServiceAccount", () => {
    const objects = makeManifests({ name: "tools-vmcp", namespace: "tools", config })
    expect(objects.map((o) => o.kind)).toEqual([
      "ServiceAccount",
      "Role",
      "RoleBinding",
      "ConfigMap",
      "Deployment",
      "Service"
    ])
    const role = byKind(objects as ReadonlyArray<Doc>, "Role")
    expect(role.rules).toEqual(minimalRules(target("tools-vmcp")))
    expect(JSON.stringify(role.rules)).not.toContain("leases")
    const binding = byKind(objects as ReadonlyArray<Doc>, "RoleBinding")
    expect(binding.subjects).toEqual([{ kind: "ServiceAccount", name: "tools-vmcp", namespace: "tools" }])
  })

  it("turns on leader election and its Lease rules with more than one replica", () => {
    const objects = makeManifests({ name: "a", namespace: "b", config, replicas: 3 }) as ReadonlyArray<Doc>
    expect(byKind(objects, "Role").rules).toEqual(minimalRules(target("a"), { leaderElection: true }))
    const data = (byKind(objects, "ConfigMap").data as Record<string, string>)["vmcp.yaml"]
    expect(data).toContain("leaderElection: true")
    expect((byKind(objects, "Deployment").spec as { replicas: number }).replicas).toBe(3)
  })

  it("runs the container non-root on a read-only root filesystem with probes, requests and the object's name", () => {
    const objects = makeManifests({ name: "a", namespace: "b", config }) as ReadonlyArray<Doc>
    const pod = (byKind(objects, "Deployment").spec as { template: { spec: Record<string, unknown> } })
      .template.spec
    const container = (pod.containers as Array<Record<string, unknown>>)[0]!
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true })
    expect(container.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ["ALL"] }
    })
    expect(container.resources).toEqual(ManifestDefaults.resources)
    expect(container.livenessProbe).toMatchObject({ httpGet: { path: "/healthz", port: "admin" } })
    expect(container.readinessProbe).toMatchObject({ httpGet: { path: "/readyz", port: "admin" } })
    expect(container.env).toEqual([
      { name: "VMCP_NAME", value: "a" },
      { name: "VMCP_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
      { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
      { name: "NODE_OPTIONS", value: "--max-semi-space-size=2 --max-old-space-size=384" }
    ])
    const data = (byKind(objects, "ConfigMap").data as Record<string, string>)["vmcp.yaml"]
    expect(data).toContain("host: 0.0.0.0")
  })

  it("defaults to the image `pnpm image` builds: config.image of package.json, tagged with the version", async () => {
    const pkg = (await import("../package.json", { with: { type: "json" } })).default
    expect(ManifestDefaults.image).toBe(`ghcr.io/vmcp-status/vmcp:${VERSION}`)
    expect(ManifestDefaults.image).toBe(`${pkg.config.image}:${pkg.version}`)
    const deployment = byKind(
      docs((await manifestsText(["--name", "a", "--namespace", "b"])).out),
      "Deployment"
    )
    expect(JSON.stringify(deployment)).toContain(`"image":"${ManifestDefaults.image}"`)
  })

  it("pins each client IP to one replica only when there is more than one", () => {
    const service = (replicas: number) =>
      byKind(makeManifests({ name: "a", namespace: "b", config, replicas }) as ReadonlyArray<Doc>, "Service")
        .spec as Record<string, unknown>
    expect(service(1).sessionAffinity).toBeUndefined()
    expect(service(2)).toMatchObject({
      sessionAffinity: "ClientIP",
      sessionAffinityConfig: { clientIP: { timeoutSeconds: 10_800 } }
    })
  })

  it("prints the CRD alone with `manifests crd`, and the object only with --with-object", async () => {
    const crd = await manifestsText(["crd"])
    expect(crd.code).toBe(0)
    expect(crd.out).toBe(manifestsYaml([loadCrd()]))
    expect(docs(crd.out).map((d) => d.kind)).toEqual(["CustomResourceDefinition"])
    const plain = docs((await manifestsText(["--name", "a", "--namespace", "b"])).out)
    expect(plain.map((d) => d.kind)).not.toContain("VirtualMCPServer")
    const standalone = docs((await manifestsText(["--name", "a", "--namespace", "b", "--with-object"])).out)
    expect(standalone.map((d) => d.kind)).not.toContain("CustomResourceDefinition")
    expect(byKind(standalone, "VirtualMCPServer").metadata).toMatchObject({ name: "a", namespace: "b" })
  })

  it("refuses --with-crd and names the two steps that replace it", async () => {
    const refused = await manifestsText(["--name", "a", "--namespace", "b", "--with-crd"])
    expect(refused.code).toBe(2)
    expect(refused.out).toBe("")
    expect(refused.err).toContain("vmcp manifests crd | kubectl apply -f -")
    expect(refused.err).toContain(`kubectl wait --for condition=established crd/${loadCrd().metadata.name}`)
    expect(refused.err).toContain("--with-object | kubectl apply -f -")
  })

  it("rejects a missing or invalid name with exit code 2", async () => {
    expect((await manifestsText(["--namespace", "b"])).code).toBe(2)
    const bad = await manifestsText(["--name", "Not_Valid", "--namespace", "b"])
    expect(bad.code).toBe(2)
    expect(bad.err).toContain("not a valid DNS-1123 subdomain")
    expect((await manifestsText(["--name", "a", "--namespace", "b", "--replicas", "0"])).code).toBe(2)
  })
})

type Container = {
  ports: Array<{ name: string; containerPort: number }>
  env: Array<{ name: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }>
  volumeMounts: Array<{ name: string; mountPath: string }>
}
type PodSpec = {
  containers: Array<Container>
  volumes: Array<{ name: string; secret?: Record<string, unknown> }>
}
const podOf = (objects: ReadonlyArray<Doc>) =>
  (byKind(objects, "Deployment").spec as { template: { spec: PodSpec } }).template.spec
const configMapConfig = (objects: ReadonlyArray<Doc>) =>
  (byKind(objects, "ConfigMap").data as Record<string, string>)["vmcp.yaml"]!

describe("vmcp manifests: the MCP port apart from the admin port, authentication on, secrets in a Secret", () => {
  it("two container and Service ports, mcp and admin (listen.port + 1); probes on admin", () => {
    const objects = makeManifests({ name: "a", namespace: "b", config }) as ReadonlyArray<Doc>
    const container = podOf(objects).containers[0]!
    expect(container.ports.map((p) => [p.name, p.containerPort])).toEqual([
      ["mcp", 4483],
      ["admin", 4484]
    ])
    const service = byKind(objects, "Service").spec as { ports: Array<Record<string, unknown>> }
    expect(service.ports).toEqual([
      { name: "mcp", port: 4483, targetPort: "mcp", protocol: "TCP" },
      { name: "admin", port: 4484, targetPort: "admin", protocol: "TCP" }
    ])
    const served = Effect.runSync(decodeConfig(YAML.parse(configMapConfig(objects)), "configmap"))
    expect(served.listen).toMatchObject({ host: "0.0.0.0", admin: { host: "0.0.0.0" } })
  })

  it("auth.mode none becomes bearer with the token of the user's Secret <name>-tokens, mounted, not optional", () => {
    const objects = makeManifests({ name: "a", namespace: "b", config }) as ReadonlyArray<Doc>
    const served = Effect.runSync(decodeConfig(YAML.parse(configMapConfig(objects)), "configmap"))
    expect(served.auth).toMatchObject({ mode: "bearer", bearer: { tokenFiles: ["/etc/vmcp/tokens/token"] } })
    const pod = podOf(objects)
    expect(pod.volumes.find((v) => v.name === "tokens")?.secret).toEqual({
      secretName: "a-tokens",
      items: [{ key: "token", path: "token" }]
    })
    expect(pod.containers[0]!.volumeMounts).toContainEqual({
      name: "tokens",
      mountPath: "/etc/vmcp/tokens",
      readOnly: true
    })
    // The token is the user's: no Secret is printed for it.
    expect(objects.map((o) => o.kind)).not.toContain("Secret")

    const open = Effect.runSync(decodeConfig({ auth: { allowUnauthenticated: true } }, "inline"))
    const unauthenticated = makeManifests({ name: "a", namespace: "b", config: open }) as ReadonlyArray<Doc>
    expect(YAML.parse(configMapConfig(unauthenticated)).auth).toEqual({
      mode: "none",
      allowUnauthenticated: true
    })
    expect(podOf(unauthenticated).volumes.map((v) => v.name)).not.toContain("tokens")
  })

  it("literal header, env and token-file secrets go to the Secret; the ConfigMap holds none of them and still validates", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vmcp-manifests-"))
    try {
      writeFileSync(join(dir, "tokens.txt"), "tok-file-SECRET-1\ntok-file-SECRET-2\n")
      const file = join(dir, "vmcp.yaml")
      writeFileSync(
        file,
        [
          "auth:",
          "  mode: bearer",
          "  bearer: { tokenFiles: [tokens.txt] } # copied into the Secret",
          "backends:",
          "  - name: web",
          "    transport: streamable-http",
          "    url: https://mcp.example.com/mcp",
          "    headers:",
          "      authorization: Bearer hdr-SECRET-abc",
          // biome-ignore lint/suspicious/noTemplateCurlyInString: the config syntax under test
          "      x-from-env: ${ALREADY_EXTERNAL}",
          "  - name: files",
          "    transport: stdio",
          "    command: node",
          "    env: { API_KEY: env-SECRET-xyz, MODE: fast }"
        ].join("\n")
      )
      const { code, out, err } = await manifestsText(["--name", "a", "--namespace", "b", "--config", file])
      expect(code, err).toBe(0)
      const objects = docs(out)
      const configMap = JSON.stringify(byKind(objects, "ConfigMap"))
      for (const secret of ["hdr-SECRET-abc", "env-SECRET-xyz", "tok-file-SECRET-1", "tok-file-SECRET-2"])
        expect(configMap).not.toContain(secret)
      const secret = byKind(objects, "Secret") as Doc & { stringData: Record<string, string> }
      expect(secret.metadata.name).toBe("a")
      expect(secret.stringData).toEqual({
        VMCP_SECRET_WEB_HEADER_AUTHORIZATION: "Bearer hdr-SECRET-abc",
        VMCP_SECRET_FILES_ENV_API_KEY: "env-SECRET-xyz",
        VMCP_SECRET_FILES_ENV_MODE: "fast",
        "bearer-token-0": "tok-file-SECRET-1\ntok-file-SECRET-2\n"
      })
      const text = configMapConfig(objects)
      expect(text).toContain("# copied into the Secret")
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the config syntax under test
      expect(text).toContain("${ALREADY_EXTERNAL}")
      const pod = podOf(objects)
      expect(pod.containers[0]!.env).toContainEqual({
        name: "VMCP_SECRET_WEB_HEADER_AUTHORIZATION",
        valueFrom: { secretKeyRef: { name: "a", key: "VMCP_SECRET_WEB_HEADER_AUTHORIZATION" } }
      })
      expect(pod.volumes.find((v) => v.name === "secrets")?.secret).toEqual({
        secretName: "a",
        items: [{ key: "bearer-token-0", path: "bearer-token-0" }]
      })
      // What the pod reads: every ${VAR} is set from the Secret (or was external already).
      const env = {
        ...Object.fromEntries(Object.keys(secret.stringData).map((k) => [k, "x"])),
        ALREADY_EXTERNAL: "x"
      }
      const served = Effect.runSync(decodeConfig(YAML.parse(text), "configmap", { env }))
      expect(served.auth.bearer?.tokenFiles).toEqual(["/etc/vmcp/secrets/bearer-token-0"])
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the config syntax under test
      expect(served.backends[0]!.headers.authorization).toBe("${VMCP_SECRET_WEB_HEADER_AUTHORIZATION}")
      expect(
        Exit.isFailure(Effect.runSyncExit(decodeConfig(YAML.parse(text), "configmap", { env: {} })))
      ).toBe(true)

      // An unreadable token file: exit 2 naming the field.
      writeFileSync(file, "auth: { mode: bearer, bearer: { tokenFiles: [missing.txt] } }\n")
      const missing = await manifestsText(["--name", "a", "--namespace", "b", "--config", file])
      expect(missing.code).toBe(2)
      expect(missing.err).toMatch(/auth\.bearer\.tokenFiles\[0\]: cannot read missing\.txt/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("--network-policy: the mcp port from labelled clients, the admin port only from Prometheus in monitoring", async () => {
    const { out } = await manifestsText(["--name", "a", "--namespace", "b", "--network-policy"])
    const policy = byKind(docs(out), "NetworkPolicy") as Doc & {
      spec: { ingress: Array<{ from: Array<Record<string, unknown>>; ports: Array<{ port: string }> }> }
    }
    expect(policy.spec.ingress.map((rule) => rule.ports.map((p) => p.port))).toEqual([["mcp"], ["admin"]])
    expect(policy.spec.ingress[1]!.from).toEqual([
      {
        namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } },
        podSelector: { matchLabels: { "app.kubernetes.io/name": "prometheus" } }
      }
    ])
  })
})

describeWithKube("vmcp manifests against a real API server", (kube) => {
  it("applies; the bound ServiceAccount writes its object's status and nothing else", async () => {
    const namespace = await kube.namespace("manifests")
    const { code, out } = await manifestsText(["--name", "vmcp-a", "--namespace", namespace, "--with-object"])
    expect(code).toBe(0)
    const all = docs(out)
    // The CRD is installed by the global setup (as `vmcp manifests crd` would).
    expect(all.filter((d) => d.kind === "CustomResourceDefinition")).toEqual([])
    for (const object of all) await apply(kube.admin, object, namespace)
    // Another VirtualMCPServer in the same namespace that this identity must not touch.
    const vmcpA = byKind(all, "VirtualMCPServer")
    await apply(kube.admin, { ...vmcpA, metadata: { name: "vmcp-b", namespace } }, namespace)

    // Exactly the identity the RoleBinding binds: a token of the generated ServiceAccount.
    const token = await kube.admin.serviceAccountToken(namespace, "vmcp-a")
    const publisher = await start({
      reporters: [
        makeK8sReporter({
          kubeconfig: kubeconfigFile(kube, token),
          name: "vmcp-a",
          namespace,
          required: true
        })
      ]
    })
    publisher.update(
      deriveStatus({
        backends: [
          {
            name: "clock",
            transport: "stdio",
            health: "healthy",
            message: "",
            toolCount: 2,
            consecutiveFailures: 0,
            circuit: "closed",
            lastTransitionTime: "2026-11-27T23:00:00Z"
          }
        ],
        initialRoundComplete: true,
        now: "2026-11-27T23:00:00Z"
      })
    )
    const objectPath = `${collectionPath(vmcpA, namespace)}/vmcp-a`
    const written = await eventually("the status written by the ServiceAccount", async () => {
      const res = await kube.admin.request({ method: "GET", path: objectPath })
      const status = (res.body as { status?: { phase?: string; totalToolCount?: number } }).status
      return status?.phase === "Ready" ? status : undefined
    })
    expect(written.totalToolCount).toBe(2)
    await publisher.stop()
    const final = (await kube.admin.request({ method: "GET", path: objectPath })).body as {
      status: { conditions: Array<{ type: string; status: string; reason: string }> }
    }
    expect(final.status.conditions.find((c) => c.type === "Ready")).toMatchObject({
      status: "False",
      reason: "ShuttingDown"
    })

    const sa = kubeClient({ url: kube.connection.url, ca: kube.connection.ca, token })
    try {
      const merge = "application/merge-patch+json"
      const otherStatus = await sa.request({
        method: "PATCH",
        path: `${collectionPath(vmcpA, namespace)}/vmcp-b/status`,
        body: { status: { phase: "Failed" } },
        contentType: merge
      })
      expect(otherStatus.status).toBe(403)
      const ownSpec = await sa.request({
        method: "PATCH",
        path: objectPath,
        body: { spec: { replicas: 5 } },
        contentType: merge
      })
      expect(ownSpec.status).toBe(403)
      expect(
        (await sa.request({ method: "GET", path: `${collectionPath(vmcpA, namespace)}/vmcp-b` })).status
      ).toBe(403)
      const lease = await sa.request({
        method: "GET",
        path: `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases/vmcp-a-status`
      })
      expect(lease.status).toBe(403)
      expect((await sa.request({ method: "GET", path: objectPath })).status).toBe(200)
    } finally {
      sa.close()
    }
  })

  it("with --replicas 2 the bound ServiceAccount can hold the Lease and write as leader", async () => {
    const namespace = await kube.namespace("manifests-le")
    const { code, out } = await manifestsText([
      "--name",
      "vmcp-le",
      "--namespace",
      namespace,
      "--replicas",
      "2",
      "--with-object"
    ])
    expect(code).toBe(0)
    const all = docs(out)
    for (const object of all) await apply(kube.admin, object, namespace)
    const token = await kube.admin.serviceAccountToken(namespace, "vmcp-le")
    const publisher = await start({
      reporters: [
        makeK8sReporter({
          kubeconfig: kubeconfigFile(kube, token),
          name: "vmcp-le",
          namespace,
          required: true,
          leaderElection: { identity: "pod-0" }
        })
      ]
    })
    publisher.update(deriveStatus({ backends: [], initialRoundComplete: true, now: "2026-11-27T23:00:00Z" }))
    const vmcp = byKind(all, "VirtualMCPServer")
    const objectPath = `${collectionPath(vmcp, namespace)}/vmcp-le`
    await eventually("the leader's status write", async () => {
      const res = await kube.admin.request({ method: "GET", path: objectPath })
      return (res.body as { status?: { phase?: string } }).status?.phase === "Ready" ? true : undefined
    })
    const lease = await kube.admin.request({
      method: "GET",
      path: `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases/vmcp-le-status`
    })
    expect((lease.body as { spec: { holderIdentity: string } }).spec.holderIdentity).toBe("pod-0")
    await publisher.stop()
  })
})
