import { randomBytes } from "node:crypto"
import { readFile } from "node:fs/promises"
import { Agent, request as httpsRequest } from "node:https"
import { setTimeout as delay } from "node:timers/promises"
import { parseAllDocuments } from "yaml"
import { TestKubeRequestError } from "./Errors.ts"

/** Where and as whom to talk to an API server. */
export interface KubeTarget {
  /** `https://127.0.0.1:<port>` */
  readonly url: string
  /** PEM CA that signed the server certificate. */
  readonly ca: string
  /** Bearer token. */
  readonly token: string
}

/** An answer from the API server; `body` is parsed JSON when the answer was JSON. */
export interface KubeResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>
  readonly body: unknown
  readonly text: string
}

export interface KubeRequest {
  readonly method: string
  /** Path with query, e.g. `/api/v1/namespaces?limit=1`. */
  readonly path: string
  /** Sent as JSON unless already a string. */
  readonly body?: unknown
  /** Default `application/json`; e.g. `application/apply-patch+yaml` for server-side apply. */
  readonly contentType?: string
  /** Overrides the target's token. */
  readonly token?: string
  /** Default 30 s. */
  readonly timeoutMs?: number
}

/** A minimal API-server client for test setup: plain HTTPS, bearer token, JSON. */
export interface TestKubeClient {
  readonly target: KubeTarget
  /** One request; resolves for every HTTP status, rejects only when no answer arrived. */
  readonly request: (request: KubeRequest) => Promise<KubeResponse>
  /** Creates a namespace named `<prefix>-<random>` and returns its name. */
  readonly createNamespace: (prefix?: string) => Promise<string>
  /** Deletes a namespace (it is finalized only when the controller manager runs). */
  readonly deleteNamespace: (name: string) => Promise<void>
  /** Server-side applies every CRD in these YAML files and waits until each is Established and served. */
  readonly installCrds: (files: ReadonlyArray<string>) => Promise<ReadonlyArray<string>>
  /** The same, for CRD objects already parsed. */
  readonly installCrdObjects: (crds: ReadonlyArray<CrdObject>) => Promise<ReadonlyArray<string>>
  /**
   * Creates the ServiceAccount if needed and returns a token for it from the TokenRequest API.
   */
  readonly serviceAccountToken: (namespace: string, name: string) => Promise<string>
  /** Releases pooled connections. */
  readonly close: () => void
}

/** The fields of a CustomResourceDefinition the installer reads. */
export interface CrdObject {
  readonly apiVersion?: string
  readonly kind?: string
  readonly metadata: { readonly name: string }
  readonly spec: {
    readonly group: string
    readonly names: { readonly plural: string }
    readonly versions: ReadonlyArray<{ readonly name: string; readonly served?: boolean }>
  }
}

const FIELD_MANAGER = "vmcp-testkit"

const errorMessage = (error: unknown) => (error instanceof Error ? error.message : String(error))

/** Parses a multi-document YAML text into plain objects, skipping empty documents. */
export const parseYamlDocuments = (text: string): ReadonlyArray<unknown> =>
  parseAllDocuments(text)
    .map((doc) => doc.toJS() as unknown)
    .filter((doc) => doc !== null && doc !== undefined)

const isCrd = (doc: unknown): doc is CrdObject =>
  typeof doc === "object" && doc !== null && (doc as { kind?: unknown }).kind === "CustomResourceDefinition"

/**
 * A client for test setup against the harness (or any API server).
 *
 * @example
 * ```ts
 * import { kubeClient } from "@vmcp-status/testkit"
 *
 * const admin = kubeClient({ url: server.url, ca: server.ca, token: server.adminToken })
 * const namespace = await admin.createNamespace("status")
 * await admin.installCrds(["test/fixtures/crd.yaml"])
 * ```
 */
export const kubeClient = (target: KubeTarget): TestKubeClient => {
  const agent = new Agent({ keepAlive: true, ca: target.ca })

  const request = (req: KubeRequest) =>
    new Promise<KubeResponse>((resolve, reject) => {
      const payload =
        req.body === undefined
          ? undefined
          : typeof req.body === "string"
            ? req.body
            : JSON.stringify(req.body)
      const http = httpsRequest(
        new URL(req.path, target.url),
        {
          method: req.method,
          agent,
          headers: {
            authorization: `Bearer ${req.token ?? target.token}`,
            accept: "application/json",
            ...(payload === undefined
              ? {}
              : {
                  "content-type": req.contentType ?? "application/json",
                  "content-length": Buffer.byteLength(payload)
                })
          },
          timeout: req.timeoutMs ?? 30_000
        },
        (res) => {
          let text = ""
          res.setEncoding("utf8")
          res.on("data", (chunk: string) => {
            text += chunk
          })
          res.on("end", () => {
            let body: unknown = text
            try {
              body = text.length > 0 ? JSON.parse(text) : undefined
            } catch {
              // Not JSON: keep the text.
            }
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text })
          })
          res.on("error", reject)
        }
      )
      http.on("timeout", () => http.destroy(new Error(`no answer within ${req.timeoutMs ?? 30_000} ms`)))
      http.on("error", (error) =>
        reject(
          new TestKubeRequestError({
            method: req.method,
            path: req.path,
            status: 0,
            message: `${req.method} ${req.path} on ${target.url} failed: ${errorMessage(error)}`
          })
        )
      )
      http.end(payload)
    })

  const expectOk = async (req: KubeRequest, what: string): Promise<KubeResponse> => {
    const res = await request(req)
    if (res.status < 200 || res.status >= 300) {
      const message = (res.body as { message?: string } | undefined)?.message ?? res.text
      throw new TestKubeRequestError({
        method: req.method,
        path: req.path,
        status: res.status,
        message: `${what}: HTTP ${res.status}: ${message}`
      })
    }
    return res
  }

  const waitUntil = async (
    what: string,
    path: string,
    check: (res: KubeResponse) => boolean,
    timeoutMs = 30_000
  ) => {
    const deadline = Date.now() + timeoutMs
    let last: KubeResponse | undefined
    while (Date.now() < deadline) {
      last = await request({ method: "GET", path })
      if (check(last)) return
      await delay(50)
    }
    throw new TestKubeRequestError({
      method: "GET",
      path,
      status: last?.status ?? 0,
      message: `${what} did not happen within ${timeoutMs} ms (last answer: HTTP ${last?.status} ${last?.text.slice(0, 300)})`
    })
  }

  const installCrdObjects = async (crds: ReadonlyArray<CrdObject>) => {
    for (const crd of crds) {
      await expectOk(
        {
          method: "PATCH",
          path: `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}?fieldManager=${FIELD_MANAGER}&force=true`,
          contentType: "application/apply-patch+yaml",
          body: {
            ...crd,
            apiVersion: crd.apiVersion ?? "apiextensions.k8s.io/v1",
            kind: "CustomResourceDefinition"
          }
        },
        `installing CRD ${crd.metadata.name}`
      )
    }
    for (const crd of crds) {
      await waitUntil(
        `CRD ${crd.metadata.name} Established`,
        `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}`,
        (res) =>
          res.status === 200 &&
          (
            (res.body as { status?: { conditions?: Array<{ type: string; status: string }> } }).status
              ?.conditions ?? []
          ).some((c) => c.type === "Established" && c.status === "True")
      )
      // Established can precede the REST handler by a moment; wait until a list answers.
      for (const version of crd.spec.versions.filter((v) => v.served !== false)) {
        await waitUntil(
          `${crd.spec.names.plural}.${crd.spec.group}/${version.name} served`,
          `/apis/${crd.spec.group}/${version.name}/${crd.spec.names.plural}?limit=1`,
          (res) => res.status === 200
        )
      }
    }
    return crds.map((c) => c.metadata.name)
  }

  return {
    target,
    request,
    createNamespace: async (prefix = "test") => {
      const name = `${prefix}-${randomBytes(4).toString("hex")}`.toLowerCase()
      await expectOk(
        {
          method: "POST",
          path: "/api/v1/namespaces",
          body: { apiVersion: "v1", kind: "Namespace", metadata: { name } }
        },
        `creating namespace ${name}`
      )
      return name
    },
    deleteNamespace: async (name) => {
      const path = `/api/v1/namespaces/${name}`
      const res = await request({ method: "DELETE", path })
      if (![200, 202, 404].includes(res.status)) {
        throw new TestKubeRequestError({
          method: "DELETE",
          path,
          status: res.status,
          message: `deleting namespace ${name}: HTTP ${res.status}: ${res.text}`
        })
      }
    },
    installCrds: async (files) => {
      const docs = (await Promise.all(files.map((f) => readFile(f, "utf8")))).flatMap(parseYamlDocuments)
      return installCrdObjects(docs.filter(isCrd))
    },
    installCrdObjects,
    serviceAccountToken: async (namespace, name) => {
      const created = await request({
        method: "POST",
        path: `/api/v1/namespaces/${namespace}/serviceaccounts`,
        body: { apiVersion: "v1", kind: "ServiceAccount", metadata: { name } }
      })
      if (created.status !== 201 && created.status !== 409) {
        throw new TestKubeRequestError({
          method: "POST",
          path: `/api/v1/namespaces/${namespace}/serviceaccounts`,
          status: created.status,
          message: `creating ServiceAccount ${namespace}/${name}: HTTP ${created.status}: ${created.text}`
        })
      }
      const res = await expectOk(
        {
          method: "POST",
          path: `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`,
          body: {
            apiVersion: "authentication.k8s.io/v1",
            kind: "TokenRequest",
            spec: { expirationSeconds: 3600 }
          }
        },
        `requesting a token for ServiceAccount ${namespace}/${name}`
      )
      return (res.body as { status: { token: string } }).status.token
    },
    close: () => agent.destroy()
  }
}

/**
 * A kubeconfig (YAML) for one identity; `server` may point at a fault proxy.
 *
 * @example
 * ```ts
 * import { KubeConfig } from "@kubernetes/client-node"
 * import { kubeconfigYaml } from "@vmcp-status/testkit"
 *
 * const kc = new KubeConfig()
 * kc.loadFromString(kubeconfigYaml({ server: proxy.url, ca: proxy.ca, token: server.adminToken }))
 * ```
 */
export const kubeconfigYaml = (options: {
  readonly server: string
  readonly ca: string
  readonly token: string
  readonly user?: string
  readonly namespace?: string
}): string => {
  const user = options.user ?? "testkit"
  const ca = Buffer.from(options.ca).toString("base64")
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "  - name: testkit",
    "    cluster:",
    `      server: ${options.server}`,
    `      certificate-authority-data: ${ca}`,
    "users:",
    `  - name: ${user}`,
    "    user:",
    `      token: ${options.token}`,
    "contexts:",
    `  - name: ${user}`,
    "    context:",
    "      cluster: testkit",
    `      user: ${user}`,
    `      namespace: ${options.namespace ?? "default"}`,
    `current-context: ${user}`,
    ""
  ].join("\n")
}
