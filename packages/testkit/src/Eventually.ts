/**
 * Polls `check` every 50 ms until it returns a value other than `undefined`, at most
 * `timeoutMs` (default 60 s, a bound for a hung test on a loaded machine, not a speed limit):
 * for waiting on another process (a server, a child) to reach an observable state, never for
 * time itself. Errors thrown by `check` count as "not yet"; the last one is reported.
 *
 * @example
 * ```ts
 * import { eventually } from "@vmcp-status/testkit"
 *
 * const phase = await eventually("the object to be Ready", async () => {
 *   const res = await kube.admin.request({ method: "GET", path })
 *   return res.body.status?.phase === "Ready" ? "Ready" : undefined
 * })
 * ```
 */
export const eventually = async <A>(
  what: string,
  check: () => Promise<A | undefined> | A | undefined,
  timeoutMs = 60_000
): Promise<A> => {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  while (Date.now() < deadline) {
    try {
      const value = await check()
      if (value !== undefined) return value
    } catch (error) {
      last = error
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ""}`
  )
}
