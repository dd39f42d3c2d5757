import { Writable } from "node:stream"
import {
  type BackendHealth,
  type BackendHealthReport,
  backendReport,
  deriveStatus,
  type RuntimeStatus
} from "@vmcp-status/core"
import { Effect } from "effect"

export const T0 = "2026-11-25T18:00:00Z"

export const backend = (
  name: string,
  health: BackendHealth,
  extra: Partial<BackendHealthReport> = {}
): BackendHealthReport =>
  backendReport({
    name,
    health,
    lastTransitionTime: T0,
    ...extra
  })

export const status = (
  backends: ReadonlyArray<BackendHealthReport>,
  initialRoundComplete = true
): RuntimeStatus => deriveStatus({ backends, initialRoundComplete, now: T0, lastDiscoveryTime: T0 })

/** A stream that keeps what winston writes. */
export const capture = (isTTY = false) => {
  const chunks: Array<string> = []
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      chunks.push(String(chunk))
      callback()
    }
  })
  Object.assign(stream, { isTTY })
  return {
    stream,
    lines: () =>
      chunks
        .join("")
        .split("\n")
        .filter((l) => l !== "")
  }
}

/** winston hands entries to its transports asynchronously: let that happen. */
export const drain = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

/** The sequence of the tests: pending, ready, one backend down (with a secret-bearing URL), back. */
export const github = (health: BackendHealth, extra: Partial<BackendHealthReport> = {}) =>
  backend("github", health, {
    toolCount: 9,
    url: "https://gh-user:hunter2@github.mcp.local/mcp?token=tok3n",
    ...extra
  })
export const jira = (health: BackendHealth, extra: Partial<BackendHealthReport> = {}) =>
  backend("jira", health, { toolCount: 5, ...extra })
export const slack = (health: BackendHealth) => backend("slack", health, { toolCount: 5 })
export const jiraDown = jira("unhealthy", {
  message: "connection refused to http://admin:s3cret@jira.local:8080/mcp?api_key=k3y",
  consecutiveFailures: 3
})
export const SECRETS = ["hunter2", "tok3n", "s3cret", "k3y", "gh-user", "admin:"]
