import { testConfig } from "../../vitest.config.base.ts"

export default testConfig({ testTimeout: 180_000 })
