import { testConfig } from "../vitest.config.base.ts"

export default testConfig({ testTimeout: 300_000, globalSetup: ["test/globalSetup.ts"] })
