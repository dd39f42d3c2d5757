import { testConfig } from "../../vitest.config.base.ts"

export default testConfig({ testTimeout: 180_000, globalSetup: ["test/globalSetup.ts"] })
