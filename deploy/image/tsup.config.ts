import { fileURLToPath } from "node:url"
import { defineConfig } from "tsup"

const app = (path: string) => fileURLToPath(new URL(`../../apps/vmcp/${path}`, import.meta.url))

/**
 * The image's JavaScript: the `vmcp` CLI and the example backends, every dependency inlined (no
 * node_modules in the image). Code-split: each command's `import()` (the server, the MCP SDK,
 * the Kubernetes modules) is a chunk loaded only when that command runs; in one file esbuild
 * evaluates them all at start (`vmcp --help` then takes ~140 MiB and seconds instead of ~50 MiB).
 * `build.sh` passes `--out-dir` and copies the whole folder.
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
  splitting: true,
  minify: true,
  sourcemap: false,
  dts: false,
  clean: true,
  // Dependencies published as CommonJS call `require` for Node's built-ins; an ES module has none.
  banner: {
    js: 'import { createRequire as __vmcpCreateRequire } from "node:module"; const require = __vmcpCreateRequire(import.meta.url);'
  }
})
