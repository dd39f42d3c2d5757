/** A slot taken for one call; `release` gives it back (once). */
export interface CallSlot {
  readonly ok: true
  readonly release: () => void
}

/** No slot: which bound is full, in words for the client. */
export interface CallRefused {
  readonly ok: false
  readonly bound: "maxConcurrentCalls" | "maxConcurrentCallsPerSession"
  readonly message: string
}

/** Counts the calls in flight, in all and per key (a session, or a client without one). */
export interface CallLimiter {
  /** Takes a slot for a call of `key`, or refuses at once: a call never waits for a slot. */
  readonly acquire: (key: string) => CallSlot | CallRefused
  /** Calls in flight now, in all or of `key`. */
  readonly inFlight: (key?: string) => number
}

/**
 * Bounds the calls in flight: `maxConcurrent` over all keys, `maxPerKey` for one key. Past a
 * bound a call is refused at once rather than queued, so a client learns it at once and never
 * waits behind someone else's calls; a refused call costs nothing downstream.
 *
 * @example
 * ```ts
 * import { makeCallLimiter } from "@vmcp-status/vmcp"
 *
 * const limiter = makeCallLimiter({ maxConcurrent: 64, maxPerKey: 1 })
 * const slot = limiter.acquire("session-a")
 * limiter.acquire("session-a").ok // false: that session has a call in flight
 * if (slot.ok) slot.release()
 * ```
 */
export const makeCallLimiter = (limits: {
  readonly maxConcurrent: number
  readonly maxPerKey: number
}): CallLimiter => {
  const perKey = new Map<string, number>()
  let total = 0
  return {
    acquire: (key) => {
      const ofKey = perKey.get(key) ?? 0
      if (ofKey >= limits.maxPerKey)
        return {
          ok: false,
          bound: "maxConcurrentCallsPerSession",
          message: `vmcp: this session already has ${ofKey} tool calls in flight (limits.maxConcurrentCallsPerSession = ${limits.maxPerKey}); wait for one to finish, then retry`
        }
      if (total >= limits.maxConcurrent)
        return {
          ok: false,
          bound: "maxConcurrentCalls",
          message: `vmcp: the server has ${total} tool calls in flight (limits.maxConcurrentCalls = ${limits.maxConcurrent}); retry shortly`
        }
      total++
      perKey.set(key, ofKey + 1)
      let released = false
      return {
        ok: true,
        release: () => {
          if (released) return
          released = true
          total--
          const left = (perKey.get(key) ?? 1) - 1
          if (left === 0) perKey.delete(key)
          else perKey.set(key, left)
        }
      }
    },
    inFlight: (key) => (key === undefined ? total : (perKey.get(key) ?? 0))
  }
}

/** Bytes of request bodies being handled, bounded; `acquire` gives a release, or undefined when full. */
export interface ByteBudget {
  readonly acquire: (bytes: number) => (() => void) | undefined
  readonly inFlight: () => number
}

/**
 * A budget of request bytes in flight (`limits.maxRequestBytesInFlight`): a request is admitted
 * while the bytes of those already admitted plus its own stay within `maxBytes`, and holds them
 * until its answer is done. One request is always admitted when nothing else is in flight, so a
 * bound below the body limit cannot lock everyone out.
 *
 * @example
 * ```ts
 * import { makeByteBudget } from "@vmcp-status/vmcp"
 *
 * const budget = makeByteBudget(8 * 1024 * 1024)
 * const release = budget.acquire(4 * 1024 * 1024)
 * budget.acquire(5 * 1024 * 1024) // undefined: over the budget
 * release?.()
 * ```
 */
export const makeByteBudget = (maxBytes: number): ByteBudget => {
  let used = 0
  return {
    acquire: (bytes) => {
      if (used > 0 && used + bytes > maxBytes) return undefined
      used += bytes
      let released = false
      return () => {
        if (released) return
        released = true
        used -= bytes
      }
    },
    inFlight: () => used
  }
}
