import { defineConfig } from "vitest/config"

/**
 * Shared test settings: each package writes its results as JSON to `.vitest/results.json`
 * so `.ci/run` can print one `N passed, N failed` line counted from the runner itself.
 */
export const testConfig = (overrides: { testTimeout?: number; globalSetup?: string[] } = {}) =>
  defineConfig({
    test: {
      include: ["test/**/*.test.ts"],
      reporters: ["default", ["json", { outputFile: ".vitest/results.json" }]],
      testTimeout: overrides.testTimeout ?? 30_000,
      ...(overrides.globalSetup ? { globalSetup: overrides.globalSetup } : {})
    }
  })
