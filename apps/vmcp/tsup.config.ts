import { packageConfig } from "../../tsup.config.base.ts"

// An application: ESM only, no declarations; `cli.ts` is the `vmcp` binary.
export default packageConfig({ entry: ["src/cli.ts", "src/index.ts"], format: ["esm"], dts: false })
