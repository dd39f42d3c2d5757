/** Time for the session table: what time it is, and a repeating timer. Injectable for tests. */
export interface SessionClock {
  /** Milliseconds, monotonic enough for idle times. */
  readonly now: () => number
  /** Runs `run` every `ms` until the returned function is called; must not keep the process alive. */
  readonly every: (ms: number, run: () => void) => () => void
}

/** The process clock: `Date.now` and an unref'd `setInterval`. */
export const systemClock: SessionClock = {
  now: () => Date.now(),
  every: (ms, run) => {
    const timer = setInterval(run, ms)
    timer.unref()
    return () => clearInterval(timer)
  }
}

/**
 * A clock moved by hand, for tests and simulations: `advance(ms)` moves the time on and runs every
 * timer once at the new time.
 */
export const manualSessionClock = (
  start = 0
): { readonly clock: SessionClock; readonly advance: (ms: number) => void } => {
  let now = start
  const timers: Array<() => void> = []
  return {
    clock: {
      now: () => now,
      every: (_ms, run) => {
        timers.push(run)
        return () => timers.splice(timers.indexOf(run), 1)
      }
    },
    advance: (ms) => {
      now += ms
      for (const run of [...timers]) run()
    }
  }
}

/** Why the table dropped a session. */
export type EvictionReason = "client-limit" | "server-limit" | "idle"

/** Options of `makeSessionTable`. */
export interface SessionTableOptions<V> {
  /** Sessions kept at most over all clients. */
  readonly maxSessions: number
  /** Sessions kept at most per client identity. */
  readonly maxSessionsPerClient: number
  /** A session not used for this long is dropped. */
  readonly idleTimeoutMs: number
  readonly clock?: SessionClock
  /** A session in use (a call in flight) is not idle, however long ago it was touched. */
  readonly busy?: (id: string, session: V) => boolean
  /** Called for every session the table drops (not for `delete`): close it here. */
  readonly onEvict: (id: string, session: V, reason: EvictionReason) => void
}

/** Open sessions, by id and by client, in order of last use. */
export interface SessionTable<V> {
  /** Adds a session of `client`; drops that client's least recently used one past its bound, then the busiest client's past the server's. */
  readonly add: (id: string, client: string, session: V) => void
  /** The session, marked used now; undefined if unknown (or dropped). */
  readonly use: (id: string) => V | undefined
  /** Forgets a session (closed by its client or transport); no `onEvict`. */
  readonly delete: (id: string) => void
  readonly size: () => number
  /** Sessions of one client identity. */
  readonly sizeOf: (client: string) => number
  readonly values: () => ReadonlyArray<V>
  /** Drops every session idle for `idleTimeoutMs` or longer; runs on the clock every so often. */
  readonly expireIdle: () => void
  /** Stops the idle timer and forgets every session; returns them for closing. */
  readonly clear: () => ReadonlyArray<V>
}

interface Entry<V> {
  readonly session: V
  readonly client: string
  lastUsed: number
}

/** How often idle sessions are looked for: a session goes at most this long after its timeout. */
export const idleSweepInterval = (idleTimeoutMs: number): number =>
  Math.max(1_000, Math.min(60_000, Math.floor(idleTimeoutMs / 2)))

/**
 * The session table of the Streamable HTTP serving (2025 era), bounded three ways: per client identity (a client that
 * opens too many loses its own oldest, never another client's), over all clients (the client
 * holding the most sessions loses its oldest), and by idle time. A flood of `initialize` from
 * one client can thus never evict other clients' sessions while it stays within its own bound.
 *
 * @example
 * ```ts
 * import { makeSessionTable } from "./internal/SessionTable.ts"
 *
 * const table = makeSessionTable<string>({ maxSessions: 1000, maxSessionsPerClient: 1,
 *   idleTimeoutMs: 60_000, onEvict: (id, _s, reason) => console.log(id, reason) })
 * table.add("s1", "10.0.0.7", "first")
 * table.add("s2", "10.0.0.7", "second") // s1 client-limit
 * table.clear()
 * ```
 */
export const makeSessionTable = <V>(options: SessionTableOptions<V>): SessionTable<V> => {
  const clock = options.clock ?? systemClock
  // Both in order of last use (a Map keeps insertion order; use re-inserts).
  const entries = new Map<string, Entry<V>>()
  const byClient = new Map<string, Set<string>>()

  const forget = (id: string): Entry<V> | undefined => {
    const entry = entries.get(id)
    if (entry === undefined) return undefined
    entries.delete(id)
    const ids = byClient.get(entry.client)
    ids?.delete(id)
    if (ids?.size === 0) byClient.delete(entry.client)
    return entry
  }

  const evict = (id: string, reason: EvictionReason) => {
    const entry = forget(id)
    if (entry !== undefined) options.onEvict(id, entry.session, reason)
  }

  /** The least recently used session of the client holding the most (ties: the older one). */
  const serverVictim = (): string | undefined => {
    let victim: string | undefined
    let most = 0
    for (const ids of byClient.values()) {
      const oldest = ids.values().next().value
      if (oldest === undefined) continue
      if (
        ids.size > most ||
        (ids.size === most &&
          victim !== undefined &&
          entries.get(oldest)!.lastUsed < entries.get(victim)!.lastUsed)
      ) {
        most = ids.size
        victim = oldest
      }
    }
    return victim
  }

  const expireIdle = () => {
    const cutoff = clock.now() - options.idleTimeoutMs
    for (const [id, entry] of [...entries]) {
      // In order of last use: the first recent one ends the search (busy ones are skipped).
      if (entry.lastUsed > cutoff) break
      if (options.busy?.(id, entry.session) === true) continue
      evict(id, "idle")
    }
  }

  const stop = clock.every(idleSweepInterval(options.idleTimeoutMs), expireIdle)

  return {
    add: (id, client, session) => {
      forget(id)
      entries.set(id, { session, client, lastUsed: clock.now() })
      const ids = byClient.get(client) ?? new Set<string>()
      ids.add(id)
      byClient.set(client, ids)
      while (ids.size > options.maxSessionsPerClient) evict(ids.values().next().value!, "client-limit")
      while (entries.size > options.maxSessions) {
        const victim = serverVictim()
        if (victim === undefined) break
        evict(victim, "server-limit")
      }
    },
    use: (id) => {
      const entry = entries.get(id)
      if (entry === undefined) return undefined
      entry.lastUsed = clock.now()
      entries.delete(id)
      entries.set(id, entry)
      const ids = byClient.get(entry.client)!
      ids.delete(id)
      ids.add(id)
      return entry.session
    },
    delete: (id) => {
      forget(id)
    },
    size: () => entries.size,
    sizeOf: (client) => byClient.get(client)?.size ?? 0,
    values: () => [...entries.values()].map((e) => e.session),
    expireIdle,
    clear: () => {
      stop()
      const all = [...entries.values()].map((e) => e.session)
      entries.clear()
      byClient.clear()
      return all
    }
  }
}
