import { testConfig } from "../../vitest.config.base.ts"

export default testConfig()
