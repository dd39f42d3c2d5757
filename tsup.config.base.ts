import { defineConfig, type Options } from "tsup"

/**
 * The one build definition every published package shares: ESM + CJS + declarations,
 * built from `src/index.ts`. Kept small so a later switch to tsdown is trivial.
 */
export const packageConfig = (overrides: Options = {}) =>
  defineConfig({
    entry: ["src/index.ts"],
    format: ["esm", "cjs"],
    dts: true,
    clean: true,
    sourcemap: true,
    target: "node22",
    platform: "node",
    ...overrides
  })
