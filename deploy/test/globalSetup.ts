import { kubeGlobalSetup } from "@vmcp-status/testkit/vitest"

// A fresh API server without any CRD: the two-step apply installs the VirtualMCPServer CRD itself.
export default kubeGlobalSetup()
