import type { IncomingHttpHeaders } from "node:http"
import { request as httpsRequest } from "node:https"

export interface HttpsResult {
  readonly status: number
  readonly headers: IncomingHttpHeaders
  readonly body: string
}

/** One HTTPS request with Node's client, trusting `ca`; rejects with the socket/TLS error. */
export const httpsCall = (
  url: string,
  options: {
    readonly ca: string
    readonly method?: string
    readonly body?: string
    readonly headers?: Record<string, string>
    readonly timeoutMs?: number
  }
) =>
  new Promise<HttpsResult>((resolve, reject) => {
    const req = httpsRequest(
      url,
      {
        method: options.method ?? "GET",
        ca: options.ca,
        headers: options.headers ?? {},
        agent: false,
        ...(options.timeoutMs === undefined ? {} : { timeout: options.timeoutMs })
      },
      (res) => {
        let body = ""
        res.setEncoding("utf8")
        res.on("data", (chunk: string) => {
          body += chunk
        })
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
        res.on("error", reject)
      }
    )
    req.on("timeout", () => req.destroy(new Error("client timeout")))
    req.on("error", reject)
    req.end(options.body)
  })
