#!/usr/bin/env node
import { runCli } from "./cli/Commands.ts"

const code = await runCli(process.argv.slice(2))
// The server has closed everything it owns by now, or abandoned it past its deadline (a
// reporter stuck on a hung API server): exit without waiting for such leftovers, once what
// was written has reached stdout and stderr.
const flushed = (stream: NodeJS.WriteStream) =>
  new Promise<void>((resolve) => stream.write("", () => resolve()))
await Promise.all([flushed(process.stdout), flushed(process.stderr)])
process.exit(code)
