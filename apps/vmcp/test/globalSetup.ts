import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { kubeGlobalSetup } from "@vmcp-status/testkit/vitest"

// The VirtualMCPServer CRD the app's manifests ship (`vmcp manifests crd`).
const k8sPackage = dirname(createRequire(import.meta.url).resolve("@vmcp-status/k8s/package.json"))

export default kubeGlobalSetup({ crds: [join(k8sPackage, "crd", "virtualmcpservers.yaml")] })
