#!/usr/bin/env node
import { enableCompileCache } from "node:module"
import { runCli } from "./cli/Commands.ts"

// V8's compiled code of the modules a command loads is kept on disk (in the temp folder, e.g. an
// emptyDir in the pod; NODE_COMPILE_CACHE moves it, NODE_DISABLE_COMPILE_CACHE=1 turns it off):
// later runs skip compiling them. A cache that cannot be written is ignored.
enableCompileCache()

const code = await runCli(process.argv.slice(2))
// The server has closed everything it owns by now, or abandoned it past its deadline (a
// reporter stuck on a hung API server): exit without waiting for such leftovers, once what
// was written has reached stdout and stderr.
const flushed = (stream: NodeJS.WriteStream) =>
  new Promise<void>((resolve) => stream.write("", () => resolve()))
await Promise.all([flushed(process.stdout), flushed(process.stderr)])
process.exit(code)
