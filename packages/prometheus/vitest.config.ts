import { fileURLToPath } from "node:url"
import { mergeConfig } from "vitest/config"
import { testConfig } from "../../vitest.config.base.ts"

// The examples import the package by its public name, as users do.
export default mergeConfig(testConfig(), {
  resolve: {
    alias: { "@vmcp-status/prometheus": fileURLToPath(new URL("./src/index.ts", import.meta.url)) }
  }
})
