import { fileURLToPath } from "node:url"
import { defineConfig } from "tsup"

const app = (path: string) => fileURLToPath(new URL(`../../apps/vmcp/${path}`, import.meta.url))

/**
 * The image's JavaScript: the `vmcp` CLI and the example backends, each one self-contained
 * file (every dependency inlined, no node_modules in the image). `build.sh` passes `--out-dir`.
 */
export default defineConfig({
  entry: {
    vmcp: app("src/cli.ts"),
    "examples/backends/clock": app("examples/backends/clock.ts"),
    "examples/backends/echo": app("examples/backends/echo.ts"),
    "examples/backends/flaky": app("examples/backends/flaky.ts")
  },
  format: ["esm"],
  outExtension: () => ({ js: ".js" }),
  platform: "node",
  target: "node24",
  noExternal: [/.*/],
  splitting: false,
  minify: true,
  sourcemap: false,
  dts: false,
  clean: true,
  // Dependencies published as CommonJS call `require` for Node's built-ins; an ES module has none.
  banner: {
    js: 'import { createRequire as __vmcpCreateRequire } from "node:module"; const require = __vmcpCreateRequire(import.meta.url);'
  }
})
