import { packageConfig } from "../../tsup.config.base.ts"

// `stdio-backend` is the script the stdio fixture runs with `node`; it ships next to the index.
export default packageConfig({
  entry: ["src/index.ts", "src/vitest.ts", "src/stdio-backend.ts"],
  shims: true
})
