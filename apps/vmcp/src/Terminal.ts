/** Colours for a terminal: on only when the stream is a TTY and `NO_COLOR` is not set. */
export interface Paint {
  readonly bold: (s: string) => string
  readonly red: (s: string) => string
  readonly green: (s: string) => string
  readonly yellow: (s: string) => string
  readonly dim: (s: string) => string
}

const wrap = (on: boolean, open: number, close: number) => (s: string) =>
  on ? `\u001b[${open}m${s}\u001b[${close}m` : s

/**
 * Paint for `stream`: ANSI colours on a TTY, plain text when piped or with `NO_COLOR`.
 *
 * @example
 * ```ts
 * import { paintFor } from "@vmcp-status/vmcp"
 *
 * process.stdout.write(`${paintFor(process.stdout).green("ok")}\n`)
 * ```
 */
export const paintFor = (
  stream: { readonly isTTY?: boolean },
  env: Readonly<Record<string, string | undefined>> = process.env
): Paint => {
  const on = stream.isTTY === true && (env.NO_COLOR === undefined || env.NO_COLOR === "")
  return {
    bold: wrap(on, 1, 22),
    red: wrap(on, 31, 39),
    green: wrap(on, 32, 39),
    yellow: wrap(on, 33, 39),
    dim: wrap(on, 2, 22)
  }
}
