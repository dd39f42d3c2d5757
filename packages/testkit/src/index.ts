export type { CertificateSet, CertificatesOptions, KeyPair } from "./Certificates.ts"
export * as Certificates from "./Certificates.ts"
export { makeCertificates } from "./Certificates.ts"
export * from "./Errors.ts"
export { eventually } from "./Eventually.ts"
export type {
  ActiveRule,
  Fault,
  FaultProxyHandle,
  FaultProxyOptions,
  FaultRule,
  PathPattern,
  RequestCount
} from "./FaultProxy.ts"
export * as FaultProxy from "./FaultProxy.ts"
export { frontOf, kubeStatus, startFaultProxy } from "./FaultProxy.ts"
export type {
  KubeApiServerHandle,
  KubeApiServerOptions,
  KubeConnection,
  Kubeconfig
} from "./KubeApiServer.ts"
export * as KubeApiServer from "./KubeApiServer.ts"
export { startKubeApiServer } from "./KubeApiServer.ts"
export type { KubeAssets as KubeAssetsPaths } from "./KubeAssets.ts"
export * as KubeAssets from "./KubeAssets.ts"
export { findKubeAssets, KUBE_VERSION, kubeAssetsDirectory, PROVISION_COMMAND } from "./KubeAssets.ts"
export type { CrdObject, KubeRequest, KubeResponse, KubeTarget, TestKubeClient } from "./KubeClient.ts"
export { kubeClient, kubeconfigYaml, parseYamlDocuments } from "./KubeClient.ts"
export type {
  FixturePrompt,
  FixtureResource,
  FixtureTool,
  McpBackendHandle,
  McpBackendMode,
  McpBackendOptions
} from "./McpBackend.ts"
export * as McpBackend from "./McpBackend.ts"
export { startMcpBackend } from "./McpBackend.ts"
export { freeLoopbackPort, freeLoopbackPorts } from "./Ports.ts"
export type { StdioBackendOptions, StdioCommand } from "./StdioBackend.ts"
export { stdioBackendCommand, stdioBackendScript } from "./StdioBackend.ts"
