import { readFileSync } from "node:fs"
import { Effect, Exit } from "effect"
import { type Command, ExitCode, loadOrReport, usageError } from "./CommandLine.ts"
import { decodeConfig, type VmcpConfig } from "./Config.ts"
import { ManifestDefaults } from "./ManifestDefaults.ts"

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
election), ConfigMap with the config, Deployment (non-root, read-only root filesystem, probes,
VMCP_NAME / VMCP_NAMESPACE) and Service (client-IP session affinity with more than 1 replica).

Standalone (no toolhive operator), the CRD goes first and must be Established before the
VirtualMCPServer object can be applied:
${twoSteps}

Options:
  --name <name>           the VirtualMCPServer's name, also used for every object (default: $VMCP_NAME)
  --namespace <ns>        the namespace (default: $VMCP_NAMESPACE)
  --replicas <n>          replicas of the Deployment; more than 1 turns on leader election and
                          client-IP session affinity on the Service (default 1)
  --with-object           also print the VirtualMCPServer object (standalone, no operator)
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
    const { loadCrd, manifestsYaml } = await import("./Manifests.ts")
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
    const [{ validateName }, { makeManifests, manifestsYaml }] = await Promise.all([
      import("@vmcp-status/k8s"),
      import("./Manifests.ts")
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
    let config: VmcpConfig
    if (file !== undefined) {
      // The `${VAR}`s are set in the pod, not where the manifests are printed.
      const loaded = await loadOrReport(file, io, { checkEnv: false })
      if (typeof loaded === "number") return loaded
      config = loaded
      configText = readFileSync(file, "utf8")
    } else {
      config = Effect.runSync(Effect.orDie(decodeConfig({ name }, "(default)")))
    }
    const objects = makeManifests({
      name,
      namespace,
      replicas,
      withObject: values["with-object"] === true,
      config,
      ...(configText === undefined ? {} : { configText }),
      ...(values.image === undefined ? {} : { image: values.image as string })
    })
    io.stdout.write(manifestsYaml(objects))
    return ExitCode.ok
  }
}
