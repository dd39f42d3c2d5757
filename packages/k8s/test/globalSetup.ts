import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { kubeGlobalSetup } from "@vmcp-status/testkit/vitest"
import { OWN_CRD_GROUP } from "./kube.ts"

// Both CRDs are named virtualmcpservers.toolhive.stacklok.dev; one API server can serve only one
// of them under that group. toolhive's real CRD keeps it (the default target must work against
// it); ours is served under a test group, with nothing else changed.
const ownCrd = readFileSync(resolve(import.meta.dirname, "../crd/virtualmcpservers.yaml"), "utf8").replaceAll(
  "toolhive.stacklok.dev",
  OWN_CRD_GROUP
)
const ownCrdFile = join(mkdtempSync(join(tmpdir(), "vmcp-k8s-crd-")), "own-crd.yaml")
writeFileSync(ownCrdFile, ownCrd)

export default kubeGlobalSetup({
  crds: [resolve(import.meta.dirname, "fixtures/toolhive-virtualmcpservers-crd.k8s-1.20.yaml"), ownCrdFile]
})
