import { fileURLToPath } from "node:url"
import { kubeGlobalSetup } from "../src/vitest.ts"

export default kubeGlobalSetup({
  crds: [fileURLToPath(new URL("./fixtures/widgets-crd.yaml", import.meta.url))]
})
