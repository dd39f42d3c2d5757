import { testConfig } from "../../vitest.config.base.ts"

export default testConfig({ testTimeout: 600_000, globalSetup: ["test/globalSetup.ts"] })
