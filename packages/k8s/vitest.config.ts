import { testConfig } from "../../vitest.config.base.ts"

export default testConfig({ globalSetup: ["test/globalSetup.ts"], testTimeout: 120_000 })
