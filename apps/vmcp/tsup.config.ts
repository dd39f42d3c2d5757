import { packageConfig } from "../../tsup.config.base.ts"

// An application: ESM only; `cli.ts` is the `vmcp` binary, `index.ts` the library entry (with
// declarations, for tests and embedders that import the app's pieces). Code-split: each command's
// `import()` (the server, the MCP SDK, the Kubernetes modules) is a chunk of its own, loaded only
// when that command runs, so `vmcp --help` loads the command table and nothing else.
export default packageConfig({
  entry: ["src/cli.ts", "src/index.ts"],
  format: ["esm"],
  splitting: true,
  dts: { entry: { index: "src/index.ts" } }
})
