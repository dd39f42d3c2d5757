import { request } from "node:https"
import type { KubeConnection } from "@vmcp-status/testkit"

/**
 * Watches one object straight on the API server (not through a counting proxy) and calls
 * `onStatus` with each version's `.status` and the time it arrived.
 */
export const watchObject = (
  kube: KubeConnection,
  collectionPath: string,
  name: string,
  onStatus: (status: Record<string, unknown> | undefined, at: number) => void
) => {
  const url = new URL(`${collectionPath}?watch=1&fieldSelector=metadata.name%3D${name}`, kube.url)
  const req = request(
    url,
    { ca: kube.ca, headers: { authorization: `Bearer ${kube.adminToken}` } },
    (res) => {
      let buffer = ""
      res.setEncoding("utf8")
      res.on("data", (chunk: string) => {
        const at = performance.now()
        buffer += chunk
        let i = buffer.indexOf("\n")
        while (i >= 0) {
          const line = buffer.slice(0, i)
          buffer = buffer.slice(i + 1)
          if (line.trim() !== "") {
            const event = JSON.parse(line) as { object?: { status?: Record<string, unknown> } }
            onStatus(event.object?.status, at)
          }
          i = buffer.indexOf("\n")
        }
      })
    }
  )
  req.on("error", () => undefined)
  req.end()
  return { close: () => req.destroy() }
}
