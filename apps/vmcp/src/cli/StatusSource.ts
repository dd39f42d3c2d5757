import { decodeRuntimeStatus } from "@vmcp-status/core"
import { ToolhiveVirtualMcpServer } from "@vmcp-status/k8s"
import { Paths } from "../server/Paths.ts"
import { type StatusView, viewOfCustomResource, viewOfRuntimeStatus } from "./StatusView.ts"

/**
 * One attempt to read a status: a view; `absent` when the source answered but has no status
 * (a server still starting, an object not created yet); `unreachable` when it could not be
 * asked or did not answer with a vmcp status.
 */
export type Reading =
  | { readonly _tag: "view"; readonly view: StatusView }
  | { readonly _tag: "absent"; readonly message: string }
  | { readonly _tag: "unreachable"; readonly message: string }

/** Where `vmcp status` reads from. */
export interface StatusSource {
  /** Says where, for messages. */
  readonly describe: string
  readonly read: () => Promise<Reading>
  /**
   * Calls `onView` with each new status as the source pushes it, until `signal` aborts.
   * Resolves false at once when the source cannot push (the caller polls instead).
   */
  readonly follow?: (onView: (view: StatusView) => void, signal: AbortSignal) => Promise<boolean>
}

const errorText = (error: unknown) => {
  // fetch names the network error in `cause` (ECONNREFUSED, ENOTFOUND, ...).
  const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : ""
  return `${error instanceof Error ? error.message : String(error)}${cause}`
}

/** A status body as sent by `/status` or one event of `/status/stream`. */
const viewOfBody = (source: string, body: unknown): StatusView => {
  const inner =
    typeof body === "object" && body !== null && !("phase" in body) && "status" in body
      ? (body as { status: unknown }).status
      : body
  return viewOfRuntimeStatus(source, decodeRuntimeStatus(inner), body)
}

/** Reads `<base>/status` (and follows `<base>/status/stream` when the server has it). */
export const urlSource = (base: string, headers: Readonly<Record<string, string>> = {}): StatusSource => {
  const url = `${base}${Paths.status}`
  return {
    describe: url,
    read: async () => {
      let res: Response
      try {
        res = await fetch(url, { headers, signal: AbortSignal.timeout(5_000) })
      } catch (error) {
        return {
          _tag: "unreachable",
          message: `cannot reach ${url}: ${errorText(error)}; is \`vmcp serve\` running there (see --url)?`
        }
      }
      // The server is up and has not published its first status (it is starting).
      if (res.status === 503)
        return {
          _tag: "absent",
          message: `${url} answered HTTP 503: ${(await res.text()).trim() || "not ready"}`
        }
      try {
        if (!res.ok) throw new Error(`HTTP ${res.status}`)
        return { _tag: "view", view: viewOfBody(url, await res.json()) }
      } catch (error) {
        return {
          _tag: "unreachable",
          message: `${url} did not answer with a vmcp status (${errorText(error)}); is --url the server's base URL?`
        }
      }
    },
    follow: async (onView, signal) => {
      let res: Response
      try {
        res = await fetch(`${url}/stream`, { headers: { ...headers, accept: "text/event-stream" }, signal })
      } catch {
        return false
      }
      if (!res.ok || !(res.headers.get("content-type") ?? "").startsWith("text/event-stream") || !res.body) {
        await res.body?.cancel()
        return false
      }
      const decoder = new TextDecoder()
      let buffer = ""
      try {
        for await (const chunk of res.body) {
          buffer += decoder.decode(chunk as Uint8Array, { stream: true })
          let end = buffer.indexOf("\n\n")
          while (end >= 0) {
            const event = buffer.slice(0, end)
            buffer = buffer.slice(end + 2)
            const data = event
              .split("\n")
              .filter((line) => line.startsWith("data:"))
              .map((line) => line.slice(5).replace(/^ /, ""))
              .join("\n")
            if (data !== "") {
              try {
                onView(viewOfBody(url, JSON.parse(data)))
              } catch {
                // Not a status (a future event type): skip it.
              }
            }
            end = buffer.indexOf("\n\n")
          }
        }
      } catch (error) {
        if (!signal.aborted) throw error
      }
      return true
    }
  }
}

/** Options of `kubeSource`. */
export interface KubeSourceOptions {
  /** A kubeconfig file; default: `KUBECONFIG`, `~/.kube/config` or the in-cluster account. */
  readonly kubeconfig?: string
  /** `undefined` with `allNamespaces`. */
  readonly name?: string
  /** Default: the kubeconfig context's namespace, else `default`. */
  readonly namespace?: string
}

const { group, version, plural, kind } = ToolhiveVirtualMcpServer

const kubeErrorText = (error: unknown): { code: number | undefined; text: string } => {
  const code = (error as { code?: unknown }).code
  return {
    code: typeof code === "number" ? code : undefined,
    // The client's message holds the response body; the first line says enough.
    text: (error instanceof Error ? error.message : String(error)).split("\n")[0] ?? ""
  }
}

/** The Kubernetes client, loaded only when a command reads the cluster. */
const customObjects = async (options: KubeSourceOptions) => {
  const k8s = await import("@kubernetes/client-node")
  const config = new k8s.KubeConfig()
  if (options.kubeconfig !== undefined) config.loadFromFile(options.kubeconfig)
  else config.loadFromDefault()
  const context = config.getContextObject(config.getCurrentContext())
  return {
    api: config.makeApiClient(k8s.CustomObjectsApi),
    namespace: options.namespace ?? context?.namespace ?? "default",
    server: config.getCurrentCluster()?.server ?? "(no cluster in the kubeconfig)"
  }
}

/** Reads one `VirtualMCPServer`'s `.status`. */
export const kubeSource = (options: KubeSourceOptions & { readonly name: string }): StatusSource => {
  let client: Awaited<ReturnType<typeof customObjects>> | undefined
  const where = () => `${kind} ${client?.namespace ?? options.namespace ?? "?"}/${options.name}`
  return {
    get describe() {
      return where()
    },
    read: async () => {
      try {
        client ??= await customObjects(options)
      } catch (error) {
        return { _tag: "unreachable", message: `cannot load the kubeconfig: ${kubeErrorText(error).text}` }
      }
      try {
        const object = (await client.api.getNamespacedCustomObject({
          group,
          version,
          plural,
          namespace: client.namespace,
          name: options.name
        })) as Parameters<typeof viewOfCustomResource>[0]
        const view = viewOfCustomResource(object)
        return view.phase === undefined
          ? {
              _tag: "absent",
              message: `${where()} has no status yet (is vmcp running and allowed to write it?)`
            }
          : { _tag: "view", view }
      } catch (error) {
        const { code, text } = kubeErrorText(error)
        if (code === 404)
          return { _tag: "absent", message: `${where()} not found (or the CRD is not installed)` }
        if (code === 401 || code === 403)
          return {
            _tag: "unreachable",
            message: `${where()}: HTTP ${code}; the kubeconfig's identity needs get on ${plural}.${group}`
          }
        return { _tag: "unreachable", message: `cannot read ${where()} from ${client.server}: ${text}` }
      }
    }
  }
}

/** Every `VirtualMCPServer` in every namespace, one view each (the fleet view). */
export const listAllObjects = async (
  options: Pick<KubeSourceOptions, "kubeconfig">
): Promise<ReadonlyArray<StatusView> | { readonly unreachable: string }> => {
  try {
    const client = await customObjects(options)
    const list = (await client.api.listClusterCustomObject({ group, version, plural })) as {
      items?: ReadonlyArray<Parameters<typeof viewOfCustomResource>[0]>
    }
    return (list.items ?? [])
      .map(viewOfCustomResource)
      .sort((a, b) => (a.source < b.source ? -1 : a.source > b.source ? 1 : 0))
  } catch (error) {
    const { code, text } = kubeErrorText(error)
    return {
      unreachable:
        code === 401 || code === 403
          ? `HTTP ${code}: the kubeconfig's identity needs list on ${plural}.${group} in every namespace`
          : `cannot list ${plural}.${group}: ${text}`
    }
  }
}
