import { testConfig } from "../../vitest.config.base.ts"

export default testConfig({ globalSetup: ["test/globalSetup.ts"], testTimeout: 60_000 })
