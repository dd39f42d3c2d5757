import { styleText } from "node:util"

/** The styles the CLI uses; each returns its text plain when the stream gets no colours. */
export interface Paint {
  readonly bold: (s: string) => string
  readonly red: (s: string) => string
  readonly green: (s: string) => string
  readonly yellow: (s: string) => string
  readonly dim: (s: string) => string
}

type Style = Parameters<typeof styleText>[0]

/**
 * Paint for `stream`, by Node's own rule (`util.styleText` with `validateStream`), read from the
 * process environment: `FORCE_COLOR` forces colours (`FORCE_COLOR=0` turns them off); otherwise
 * colours only on a TTY, and `NO_COLOR`, `NODE_DISABLE_COLORS` or `TERM=dumb` turn them off.
 *
 * @example
 * ```ts
 * import { paintFor } from "@vmcp-status/vmcp"
 *
 * process.stdout.write(`${paintFor(process.stdout).green("ok")}\n`)
 * ```
 */
export const paintFor = (stream: NodeJS.WritableStream): Paint => {
  const style = (format: Style) => (s: string) => styleText(format, s, { stream })
  return {
    bold: style("bold"),
    red: style("red"),
    green: style("green"),
    yellow: style("yellow"),
    dim: style("dim")
  }
}

/**
 * Whether output to `stream` is coloured, by the same rule as `paintFor`: for writers that colour
 * by themselves (the log).
 *
 * @example
 * ```ts
 * import { colorsEnabled } from "@vmcp-status/vmcp"
 *
 * colorsEnabled(process.stdout) // false when piped, unless FORCE_COLOR is set
 * ```
 */
export const colorsEnabled = (stream: NodeJS.WritableStream): boolean =>
  styleText("red", "x", { stream }) !== "x"
