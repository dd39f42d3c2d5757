import { readFileSync } from "node:fs"
import { dirname, resolve } from "node:path"
import type { VmcpConfig } from "../Config.ts"
import { ManifestDefaults } from "../manifests/ManifestDefaults.ts"
import { type Command, ExitCode, loadOrReport, usageError } from "./CommandLine.ts"

const crdName = "virtualmcpservers.toolhive.stacklok.dev"

/** The two steps, for help texts and the message that refuses `--with-crd`. */
const twoSteps = `  vmcp manifests crd | kubectl apply -f - &&
    kubectl wait --for condition=established crd/${crdName} &&
    vmcp manifests --name <name> --namespace <ns> --with-object | kubectl apply -f -`

const manifestsHelp = `Usage: vmcp manifests --name <name> --namespace <namespace> [options]
       vmcp manifests crd

Prints the Kubernetes objects that run vmcp as YAML (pipe it to \`kubectl apply -f -\`):
ServiceAccount, Role and RoleBinding with the least privilege (get on the one VirtualMCPServer
and patch on its /status, by resourceNames; Events create,patch; Lease verbs only with leader
election), ConfigMap with the config, Secret (only when the config holds literal secrets),
Deployment (non-root, read-only root filesystem, probes on the admin port, VMCP_NAME /
VMCP_NAMESPACE) and Service (ports mcp and admin; client-IP session affinity with more than 1
replica).

Authentication: a config with auth.mode none (the default) is served with auth.mode bearer and
the token of a Secret you create (never printed here):
  kubectl -n <ns> create secret generic <name>${ManifestDefaults.tokenSecretSuffix} --from-literal=${ManifestDefaults.tokenKey}="$(openssl rand -hex 32)"
Until it exists the pod waits. Set auth.allowUnauthenticated: true to serve without it.
Literal header and env values of backends, and the files of auth.bearer.tokenFiles, go to the
Secret <name>; the ConfigMap names them as \${VAR} (no secret value in the ConfigMap).

Standalone (no toolhive operator), the CRD goes first and must be Established before the
VirtualMCPServer object can be applied:
${twoSteps}

Options:
  --name <name>           the VirtualMCPServer's name, also used for every object (default: $VMCP_NAME)
  --namespace <ns>        the namespace (default: $VMCP_NAMESPACE)
  --replicas <n>          replicas of the Deployment; more than 1 turns on leader election and
                          client-IP session affinity on the Service (default 1)
  --with-object           also print the VirtualMCPServer object (standalone, no operator)
  --network-policy        also print a NetworkPolicy: the mcp port from pods labelled
                          vmcp-status.io/mcp-client=true, the admin port from Prometheus in
                          namespace monitoring only
  --image <image>         the container image (default ${ManifestDefaults.image})
  -c, --config <file>     the config to put in the ConfigMap (default: an empty config)
  -h, --help              this help`

const crdHelp = `Usage: vmcp manifests crd

Prints the VirtualMCPServer CustomResourceDefinition (${crdName}) alone. Apply it, wait until
it is Established, then apply the rest:
${twoSteps}

Options:
  -h, --help              this help`

/** `vmcp manifests crd`: the CRD, alone. */
const crd: Command = {
  summary: "print the VirtualMCPServer CRD alone",
  help: crdHelp,
  options: {},
  run: async (_values, io) => {
    const { loadCrd, manifestsYaml } = await import("../manifests/Manifests.ts")
    io.stdout.write(manifestsYaml([loadCrd()]))
    return ExitCode.ok
  }
}

/** `vmcp manifests`. Loads the Kubernetes modules only when it runs. */
export const manifests: Command = {
  summary: "print the Kubernetes manifests (RBAC included) to run vmcp",
  help: manifestsHelp,
  options: {
    name: { type: "string" },
    namespace: { type: "string" },
    replicas: { type: "string" },
    "with-object": { type: "boolean" },
    // Refused with the two steps: one stream with the CRD and its object fails now and then.
    "with-crd": { type: "boolean" },
    image: { type: "string" },
    "network-policy": { type: "boolean" },
    config: { type: "string", short: "c" }
  },
  subcommands: { crd },
  run: async (values, io) => {
    if (values["with-crd"] === true)
      return usageError(
        io,
        `--with-crd is gone: in one stream the VirtualMCPServer can reach the API server before its CRD is Established ("no matches for kind VirtualMCPServer"). Apply the CRD first:\n${twoSteps}`,
        manifestsHelp
      )
    const name = (values.name as string | undefined) ?? io.env.VMCP_NAME
    const namespace = (values.namespace as string | undefined) ?? io.env.VMCP_NAMESPACE
    if (name === undefined || namespace === undefined)
      return usageError(io, "--name and --namespace are required", manifestsHelp)
    const [{ validateName }, { makeManifests, manifestsYaml }, { decodeConfig }, Effect, Exit] =
      await Promise.all([
        import("@vmcp-status/k8s"),
        import("../manifests/Manifests.ts"),
        import("../Config.ts"),
        import("effect/Effect"),
        import("effect/Exit")
      ])
    const checked = Effect.runSyncExit(
      Effect.all([validateName("--name", name, "subdomain"), validateName("--namespace", namespace, "label")])
    )
    if (Exit.isFailure(checked)) {
      const reason = checked.cause.reasons.find((r) => r._tag === "Fail")
      return usageError(io, reason?._tag === "Fail" ? reason.error.message : "invalid name", manifestsHelp)
    }
    const replicasText = (values.replicas as string | undefined) ?? "1"
    const replicas = Number(replicasText)
    if (!Number.isInteger(replicas) || replicas < 1)
      return usageError(
        io,
        `--replicas must be an integer >= 1, got ${JSON.stringify(replicasText)}`,
        manifestsHelp
      )
    const file = values.config as string | undefined
    let configText: string | undefined
    let tokenFileContents: Array<string> | undefined
    let config: VmcpConfig
    if (file !== undefined) {
      // The `${VAR}`s are set in the pod, not where the manifests are printed.
      const loaded = await loadOrReport(file, io, { checkEnv: false })
      if (typeof loaded === "number") return loaded
      config = loaded
      configText = readFileSync(file, "utf8")
      if (config.auth.mode === "bearer") {
        tokenFileContents = []
        for (const [i, path] of (config.auth.bearer?.tokenFiles ?? []).entries()) {
          try {
            tokenFileContents.push(readFileSync(resolve(dirname(file), path), "utf8"))
          } catch (error) {
            const code = (error as NodeJS.ErrnoException).code ?? String(error)
            return usageError(
              io,
              `auth.bearer.tokenFiles[${i}]: cannot read ${path} (${code}); vmcp manifests copies the tokens into the Secret, so the file must be readable here`,
              manifestsHelp
            )
          }
        }
      }
    } else {
      config = Effect.runSync(Effect.orDie(decodeConfig({ name }, "(default)")))
    }
    const objects = makeManifests({
      name,
      namespace,
      replicas,
      withObject: values["with-object"] === true,
      withNetworkPolicy: values["network-policy"] === true,
      config,
      ...(tokenFileContents === undefined ? {} : { tokenFileContents }),
      ...(configText === undefined ? {} : { configText }),
      ...(values.image === undefined ? {} : { image: values.image as string })
    })
    io.stdout.write(manifestsYaml(objects))
    return ExitCode.ok
  }
}
