import { packageConfig } from "../../tsup.config.base.ts"

// An application: ESM only; `cli.ts` is the `vmcp` binary, `index.ts` the library entry (with
// declarations, for tests and embedders that import the app's pieces).
export default packageConfig({
  entry: ["src/cli.ts", "src/index.ts"],
  format: ["esm"],
  dts: { entry: { index: "src/index.ts" } }
})
