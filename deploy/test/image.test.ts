/**
 * The image, not the tree: `deploy/image/build.sh` writes the OCI archive, the test unpacks it
 * as a container runtime would (index.json → manifest → config and layers, in order) and runs
 * the image's entrypoint from that root filesystem: read-only, as the image's user, in the
 * image's working directory, with only the image's environment, and fresh /proc, /dev and /tmp
 * (each run in a mount namespace of its own, so every mount ends with the process).
 *
 * Needs root (mounts, chroot) and buildah, which the script installs with apt-get: without them
 * the test is skipped with one line on stderr, and fails under CI.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process"
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createServer } from "node:https"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client"
import { eventually, makeCertificates } from "@vmcp-status/testkit"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import YAML from "yaml"

const run = promisify(execFile)
const repo = fileURLToPath(new URL("../..", import.meta.url))
const BUILD = join(repo, "deploy/image/build.sh")
const app = JSON.parse(readFileSync(join(repo, "apps/vmcp/package.json"), "utf8")) as {
  version: string
  license: string
  config: { image: string }
}

/** Why the image cannot be built and run here, or undefined when it can. */
const unavailable = async (): Promise<string | undefined> => {
  if (process.platform !== "linux") return `needs Linux, this is ${process.platform}`
  if (process.getuid?.() !== 0)
    return "needs root (it mounts the image's root filesystem and chroots into it)"
  try {
    await run("bash", [BUILD, "--tools-only"], { cwd: repo })
    return undefined
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim().split("\n").at(-1)
    return stderr ?? String(error)
  }
}

const reason = await unavailable()
if (reason !== undefined) {
  if (process.env.CI) throw new Error(`the image test cannot run under CI: ${reason}`)
  process.stderr.write(`[deploy] skipping the image test: ${reason}\n`)
}

/** The parts of the OCI image config a runtime uses. */
interface ImageConfig {
  readonly config: {
    readonly User: string
    readonly Env: ReadonlyArray<string>
    readonly Entrypoint: ReadonlyArray<string>
    readonly Cmd: ReadonlyArray<string>
    readonly WorkingDir: string
    readonly Labels: Record<string, string>
  }
}

interface Unpacked {
  /** index.json's one manifest descriptor: where `docker/podman load` find the image's name. */
  readonly descriptor: { readonly annotations: Record<string, string> }
  readonly image: ImageConfig
  readonly rootfs: string
}

/** The build's output, the unpacked archive and test files: made in beforeAll, removed in afterAll. */
let work: string
let unpacked: Unpacked
let archive: string

/** The archive, built by the script into `work`, its layers extracted in order into one folder. */
const buildAndUnpack = async (): Promise<Unpacked> => {
  const { stdout } = await run("bash", [BUILD, "--out-dir", join(work, "out"), "--skip-app-build"], {
    cwd: repo,
    maxBuffer: 1 << 20
  })
  archive = stdout.trim().split("\n").at(-1)!
  const layout = join(work, "layout")
  mkdirSync(layout)
  await run("tar", ["-xf", archive, "-C", layout])
  const json = <A>(path: string): A => JSON.parse(readFileSync(join(layout, path), "utf8")) as A
  const blob = (digest: string) => `blobs/${digest.replace(":", "/")}`
  const index = json<{
    manifests: ReadonlyArray<{ digest: string; annotations: Record<string, string> }>
  }>("index.json")
  expect(index.manifests).toHaveLength(1)
  const descriptor = index.manifests[0]!
  const manifest = json<{ config: { digest: string }; layers: ReadonlyArray<{ digest: string }> }>(
    blob(descriptor.digest)
  )
  const rootfs = join(work, "rootfs")
  mkdirSync(rootfs)
  for (const layer of manifest.layers)
    await run("tar", ["-xf", join(layout, blob(layer.digest)), "-C", rootfs])
  return { descriptor, image: json<ImageConfig>(blob(manifest.config.digest)), rootfs }
}

let tools: { unshare: string; nsenter: string; env: string }

// A runtime's mounts, in a mount namespace of the process's own (`unshare -m`: private): the
// root read-only, volumes (host file, image path) read-only over it, fresh /proc, /dev, /tmp;
// then `env -i` (only the image's environment) and nsenter: chroot, working directory, uid, gid.
const RUNTIME = `set -e
root=$1; shift
mount --bind "$root" "$root"
mount -o remount,ro,bind "$root" "$root"
while [ "$1" != -- ]; do
  mount --bind "$1" "$root$2"
  mount -o remount,ro,bind "$root$2"
  shift 2
done
shift
mount -t proc proc "$root/proc"
mount -t tmpfs -o nosuid,noexec,mode=755 tmpfs "$root/dev"
mknod -m 666 "$root/dev/null" c 1 3
mknod -m 666 "$root/dev/zero" c 1 5
mknod -m 666 "$root/dev/random" c 1 8
mknod -m 666 "$root/dev/urandom" c 1 9
mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs "$root/tmp"
exec "$@"`

interface RunOptions {
  /** Instead of the image's Entrypoint, as `docker run --entrypoint`. */
  readonly entrypoint?: ReadonlyArray<string>
  /** Host files mounted over the image's, as `docker run -v host:image:ro`. */
  readonly volumes?: ReadonlyArray<readonly [host: string, image: string]>
}

/**
 * Runs the image as `docker run [--entrypoint …] [-v …] image args…` would: its Entrypoint
 * with `args`, as its User, in its WorkingDir, with its Env only.
 */
const startInImage = (args: ReadonlyArray<string>, options: RunOptions = {}) => {
  const entrypoint = options.entrypoint ?? unpacked.image.config.Entrypoint
  const volumes = (options.volumes ?? []).flat()
  const { config } = unpacked.image
  const [uid, gid] = config.User.split(":")
  const root = unpacked.rootfs
  const child = spawn(
    tools.unshare,
    [
      "-m",
      "sh",
      "-c",
      RUNTIME,
      "runtime",
      root,
      ...volumes,
      "--",
      tools.env,
      "-i",
      ...config.Env,
      tools.nsenter,
      `--root=${root}`,
      `--wd=${join(root, config.WorkingDir)}`,
      `--setuid=${uid}`,
      `--setgid=${gid}`,
      ...entrypoint,
      ...args
    ],
    { stdio: ["ignore", "pipe", "pipe"] }
  )
  let stdout = ""
  let stderr = ""
  child.stdout!.on("data", (chunk: Buffer) => {
    stdout += chunk.toString("utf8")
  })
  child.stderr!.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8")
  })
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)))
  return { child, exited, output: () => ({ stdout, stderr }) }
}

const runInImage = async (args: ReadonlyArray<string>, options?: RunOptions) => {
  const started = startInImage(args, options)
  const code = await started.exited
  return { code, ...started.output() }
}

/** The image's node with the options of its Entrypoint, without the app. */
const node = () => unpacked.image.config.Entrypoint.slice(0, -1)

const started: Array<ChildProcess> = []

/** Mounts under `work` in this (the test's) mount namespace: none, or the cleanup must not delete. */
const mountsUnder = (dir: string) =>
  readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .filter((line) => line.split(" ")[4]?.startsWith(dir))

describe.skipIf(reason !== undefined)("the vmcp OCI image (deploy/image/build.sh)", () => {
  beforeAll(async () => {
    const which = async (name: string) =>
      (
        await run("bash", ["-c", `command -v ${name}`], { env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" } })
      ).stdout.trim()
    tools = { unshare: await which("unshare"), nsenter: await which("nsenter"), env: await which("env") }
    work = mkdtempSync(join(tmpdir(), "vmcp-image-"))
    unpacked = await buildAndUnpack()
  }, 600_000)

  afterAll(async () => {
    if (work === undefined) return
    for (const child of started)
      if (child.exitCode === null && child.signalCode === null) {
        const gone = new Promise((resolve) => child.once("close", resolve))
        child.kill("SIGKILL")
        await gone
      }
    const left = mountsUnder(work)
    // Never delete through a mount: /dev or /proc of the host could be under it.
    if (left.length > 0) throw new Error(`mounts left under ${work}, not deleting it:\n${left.join("\n")}`)
    rmSync(work, { recursive: true, force: true })
  })

  it("is named ghcr.io/vmcp-status/vmcp:<version> for podman load (ref.name) and docker load / kind (containerd)", () => {
    const name = `${app.config.image}:${app.version}`
    expect(name).toBe(`ghcr.io/vmcp-status/vmcp:${app.version}`)
    expect(archive).toBe(join(work, "out", `vmcp-${app.version}.oci.tar`))
    expect(unpacked.descriptor.annotations).toEqual({
      "org.opencontainers.image.ref.name": name,
      "io.containerd.image.name": name
    })
  })

  it("runs as nonroot, starts vmcp with node, and carries the OCI labels", () => {
    const { config } = unpacked.image
    expect(config.User).toBe("65532:65532")
    expect(config.Entrypoint).toEqual(["/usr/local/bin/node", "--use-system-ca", "/app/vmcp.js"])
    expect(config.Labels).toMatchObject({
      "org.opencontainers.image.version": app.version,
      "org.opencontainers.image.licenses": app.license,
      "org.opencontainers.image.source": "https://github.com/vmcp-status/vmcp-status"
    })
  })

  it("vmcp --version prints the version of apps/vmcp/package.json", async () => {
    expect(await runInImage(["--version"])).toEqual({ code: 0, stdout: `${app.version}\n`, stderr: "" })
  })

  it("the Deployment of its own `vmcp manifests` pulls this image", async () => {
    const printed = await runInImage(["manifests", "--name", "demo", "--namespace", "default"])
    expect(printed.code, printed.stderr).toBe(0)
    const deployment = YAML.parseAllDocuments(printed.stdout)
      .map(
        (doc) =>
          doc.toJS() as { kind: string; spec?: { template: { spec: { containers: [{ image: string }] } } } }
      )
      .find((object) => object.kind === "Deployment")
    expect(deployment?.spec?.template.spec.containers[0].image).toBe(
      unpacked.descriptor.annotations["org.opencontainers.image.ref.name"]
    )
  })

  it("node runs from the image alone: its uid and gid, a read-only root, a writable /tmp, the CA bundle", async () => {
    const probe = `
      const fs = require("node:fs")
      const write = (path) => { try { fs.writeFileSync(path, "x"); return "written" } catch (e) { return e.code } }
      console.log(JSON.stringify({
        uid: process.getuid(), gid: process.getgid(), home: require("node:os").homedir(),
        app: write("/app/probe"), tmp: write("/tmp/probe"),
        systemCAs: require("node:tls").getCACertificates("system").length
      }))`
    const result = await runInImage(["-e", probe], { entrypoint: node() })
    expect(result.code, result.stderr).toBe(0)
    const seen = JSON.parse(result.stdout) as Record<string, unknown>
    expect(seen).toMatchObject({ uid: 65532, gid: 65532, home: "/tmp", app: "EROFS", tmp: "written" })
    // The image's bundle is Debian's: well over 100 roots.
    expect(seen.systemCAs).toBeGreaterThan(100)
  })

  it("trusts the CAs of /etc/ssl/certs/ca-certificates.crt: a bundle mounted over it makes an HTTPS server trusted", async () => {
    const { ca, serving } = await makeCertificates({ hosts: ["127.0.0.1"], caName: "vmcp image test CA" })
    const bundle = join(work, "ca-certificates.crt")
    writeFileSync(bundle, ca.cert)
    const server = createServer({ cert: serving.cert, key: serving.key }, (_req, res) => res.end("trusted"))
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    try {
      const { port } = server.address() as AddressInfo
      const fetched = await runInImage(
        ["-e", `fetch("https://127.0.0.1:${port}/").then((r) => r.text()).then(console.log)`],
        { entrypoint: node(), volumes: [[bundle, "/etc/ssl/certs/ca-certificates.crt"]] }
      )
      expect(fetched, fetched.stderr).toMatchObject({ code: 0, stdout: "trusted\n" })
    } finally {
      await new Promise((resolve) => server.close(resolve))
    }
  })

  it("vmcp serve with the image's example backends on loopback: /healthz, MCP tools/list, /status Ready; SIGTERM exits 0", async () => {
    const { Cmd } = unpacked.image.config
    // The image's own CMD (the example, on 0.0.0.0 for a published port), kept on loopback here.
    const config = Cmd[Cmd.indexOf("--config") + 1]!
    const example = YAML.parse(readFileSync(join(unpacked.rootfs, config), "utf8")) as {
      listen: { host: string }
      health: Record<string, unknown>
      backends: Array<{ name: string }>
    }
    expect(example.listen.host).toBe("127.0.0.1")
    const args = Cmd.map((arg, i) => (Cmd[i - 1] === "--host" ? "127.0.0.1" : arg))
    expect(args).toEqual(["serve", "--config", config, "--host", "127.0.0.1", "--allow-unauthenticated"])

    // The example is tuned for watching transitions live (a 1.5 s probe timeout, a backend that
    // goes down on purpose), which a loaded machine cannot hold to. Mounted over it, as a ConfigMap
    // would be: the same backends from the image but flaky, with probe bounds, not speed limits.
    const mounted = join(work, "vmcp.yaml")
    writeFileSync(
      mounted,
      YAML.stringify({
        ...example,
        health: { ...example.health, timeout: "60s", slowThreshold: "30s" },
        backends: example.backends.filter((b) => b.name !== "flaky")
      })
    )
    const server = startInImage([...args, "--port", "0"], { volumes: [[mounted, config]] })
    started.push(server.child)
    // A bound for a hung server, generous for a loaded machine.
    const base = await eventually(
      "vmcp serve to listen",
      () => {
        const found = /serving MCP at (http:\/\/[^ ]+)\/mcp /.exec(server.output().stdout)
        if (found) return found[1]!
        if (server.child.exitCode !== null) throw new Error(`exited ${server.child.exitCode}`)
        return undefined
      },
      180_000
    )
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)

    expect((await fetch(`${base}/healthz`)).status).toBe(200)
    await eventually(
      "/status to be Ready",
      async () => {
        const res = await fetch(`${base}/status`)
        return res.ok && ((await res.json()) as { phase: string }).phase === "Ready" ? true : undefined
      },
      180_000
    )
    const client = new Client({ name: "image-test", version: "0.0.0" })
    await client.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`)))
    const names = (await client.listTools(undefined, { cacheMode: "bypass" })).tools.map((t) => t.name)
    await client.close()
    expect(names.sort()).toEqual(["clock_now", "clock_unix", "echo_echo", "echo_shout"])

    server.child.kill("SIGTERM")
    expect(await server.exited, server.output().stderr).toBe(0)
  })
})
