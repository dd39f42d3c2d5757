/** The last lines of a stream, bounded in count and length. */
export interface LineRing {
  /** Adds text as it arrives (a chunk may end mid-line). */
  readonly push: (chunk: string) => void
  /** The kept lines, oldest first, the unfinished one last. */
  readonly lines: () => ReadonlyArray<string>
}

/**
 * A ring of the last `maxLines` lines of a stream, each cut to `maxLineLength` characters:
 * memory stays bounded whatever a backend writes to stderr.
 *
 * @example
 * ```ts
 * import { makeLineRing } from "./LineRing.ts"
 *
 * const ring = makeLineRing(2, 80)
 * ring.push("a\nb\nc")
 * ring.lines() // ["b", "c"]
 * ```
 */
export const makeLineRing = (maxLines: number, maxLineLength: number): LineRing => {
  const kept: Array<string> = []
  let partial = ""
  const cut = (line: string) => (line.length <= maxLineLength ? line : `${line.slice(0, maxLineLength - 1)}…`)
  const add = (line: string) => {
    kept.push(cut(line))
    if (kept.length > maxLines) kept.shift()
  }
  return {
    push: (chunk) => {
      const parts = (partial + chunk).split(/\r?\n/)
      partial = parts.pop() ?? ""
      for (const part of parts) if (part !== "") add(part)
      // An endless line is kept as one cut line rather than growing without bound.
      if (partial.length > maxLineLength) {
        add(partial)
        partial = ""
      }
    },
    lines: () => (partial === "" ? [...kept] : [...kept, cut(partial)].slice(-maxLines))
  }
}
