/**
 * `pnpm bench`: every bench in one run, one after the other: the k8s reporter against the
 * seed-style baseline (`src/run.ts`, needs the provisioned kube assets), then the reference
 * app's gateway figures (`src/gateway.ts`). `--only k8s` or `--only gateway` runs one of them;
 * the other flags (`--quick`, ...) go to the gateway bench.
 */
const i = process.argv.indexOf("--only")
const only = i >= 0 ? process.argv[i + 1] : undefined
if (only !== undefined && only !== "k8s" && only !== "gateway") {
  process.stderr.write(`--only: expected k8s or gateway, found ${JSON.stringify(only)}\n`)
  process.exit(2)
}
if (only === undefined || only === "k8s") await import("./run.ts")
if (only === undefined || only === "gateway") await import("./gateway.ts")
