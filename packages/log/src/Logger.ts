import winston from "winston"

/** How lines look: `json` (one object per line), `pretty` (readable), or `auto`. */
export type LogFormat = "auto" | "json" | "pretty"

/** What `auto` looks at. */
export interface FormatEnvironment {
  readonly isTTY: boolean
  readonly env: Readonly<Record<string, string | undefined>>
}

/**
 * `auto` means readable lines on a terminal, JSON lines anywhere else and always in a cluster
 * (`KUBERNETES_SERVICE_HOST` set), where log collectors parse them.
 *
 * @example
 * ```ts
 * import { resolveFormat } from "@vmcp-status/log"
 *
 * resolveFormat("auto", { isTTY: true, env: { KUBERNETES_SERVICE_HOST: "10.96.0.1" } }) // "json"
 * ```
 */
export const resolveFormat = (format: LogFormat, environment: FormatEnvironment): "json" | "pretty" => {
  if (format !== "auto") return format
  if (environment.env.KUBERNETES_SERVICE_HOST !== undefined && environment.env.KUBERNETES_SERVICE_HOST !== "")
    return "json"
  return environment.isTTY ? "pretty" : "json"
}

/**
 * Whether readable lines are coloured, by Node's own rule (as `util.styleText` decides):
 * `FORCE_COLOR` wins (`0` or `false` turn colour off, any other value on), then `NO_COLOR` or
 * `NODE_DISABLE_COLORS` turn it off, then `TERM=dumb`; otherwise colour exactly on a terminal.
 *
 * @example
 * ```ts
 * import { resolveColor } from "@vmcp-status/log"
 *
 * resolveColor({ isTTY: false, env: { FORCE_COLOR: "1" } }) // true
 * resolveColor({ isTTY: true, env: { NO_COLOR: "1" } }) // false
 * ```
 */
export const resolveColor = (environment: FormatEnvironment): boolean => {
  const { env } = environment
  const force = env.FORCE_COLOR
  if (force !== undefined) return force !== "0" && force !== "false"
  if ((env.NO_COLOR ?? "") !== "" || env.NODE_DISABLE_COLORS !== undefined) return false
  if (env.TERM === "dumb") return false
  return environment.isTTY
}

const time = (timestamp: unknown) => (typeof timestamp === "string" ? timestamp.slice(11, 19) : "")

/** Options of the default logger. */
export interface DefaultLoggerOptions {
  readonly format: "json" | "pretty"
  readonly stream: NodeJS.WritableStream
  /** Colour the level in pretty output (default: off; the reporter decides with `resolveColor`). */
  readonly color?: boolean
  readonly level?: string
}

/**
 * The logger the reporter uses when none is injected: winston writing to `stream`
 * (default stdout) in the chosen format.
 */
export const createDefaultLogger = (options: DefaultLoggerOptions): winston.Logger => {
  const { combine, timestamp, json, printf, colorize } = winston.format
  const pretty = printf(
    (info) =>
      `${time(info.timestamp)} ${String(info.level).padEnd(options.color ? 15 : 5)} ${String(info.message)}`
  )
  const format =
    options.format === "json"
      ? combine(timestamp(), json())
      : options.color === true
        ? combine(timestamp(), colorize({ level: true }), pretty)
        : combine(timestamp(), pretty)
  return winston.createLogger({
    level: options.level ?? "info",
    format,
    transports: [new winston.transports.Stream({ stream: options.stream })]
  })
}
