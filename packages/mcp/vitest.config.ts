import { testConfig } from "../../vitest.config.base.ts"

export default testConfig({ testTimeout: 120_000 })
