import { defineConfig } from "vitest/config"

/**
 * Shared test settings: each package writes its results as JSON to `.vitest/results.json`
 * so `.ci/run` can print one `N passed, N failed` line counted from the runner itself.
 *
 * The time limits are bounds for a hung test, never a measure of speed: CI runs every package at
 * once on 2 cores beside other work (load average 8 to 20 seen), where starting one Node process
 * can take 10 s. They are generous so that only a test that really hangs reaches them;
 * `pnpm check:stress` runs the suite beside a CPU hog to prove it.
 */
export const testConfig = (overrides: { testTimeout?: number; globalSetup?: string[] } = {}) =>
  defineConfig({
    test: {
      include: ["test/**/*.test.ts"],
      reporters: ["default", ["json", { outputFile: ".vitest/results.json" }]],
      testTimeout: overrides.testTimeout ?? 60_000,
      hookTimeout: 120_000,
      // vitest's default (1 s) is a race with the wall clock on a loaded machine.
      expect: { poll: { timeout: 60_000, interval: 50 } },
      ...(overrides.globalSetup ? { globalSetup: overrides.globalSetup } : {})
    }
  })
