import { execFile } from "node:child_process"
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises"
import { isIP } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { Effect } from "effect"
import { CertificateError } from "./Errors.ts"

const run = promisify(execFile)

/** A PEM certificate with its private key. */
export interface KeyPair {
  readonly cert: string
  readonly key: string
}

/** A fresh CA and a serving certificate it signed. */
export interface CertificateSet {
  /** The CA: trust `ca.cert`, keep `ca.key` to sign more. */
  readonly ca: KeyPair
  /** The serving certificate (SANs from `hosts`), for a TLS server. */
  readonly serving: KeyPair
}

export interface CertificatesOptions {
  /** DNS names and IP addresses for the serving certificate; default `localhost`, `127.0.0.1`. */
  readonly hosts?: ReadonlyArray<string>
  /** The CA's common name; different CAs make certificates that do not trust each other. */
  readonly caName?: string
  readonly days?: number
}

const errorMessage = (error: unknown) => (error instanceof Error ? error.message : String(error))

/**
 * Generates a CA (EC P-256) and a serving certificate signed by it with the `openssl` CLI.
 * Takes about 50 ms.
 *
 * @example
 * ```ts
 * import { createServer } from "node:https"
 * import { makeCertificates } from "@vmcp-status/testkit"
 *
 * const { ca, serving } = await makeCertificates()
 * const server = createServer({ cert: serving.cert, key: serving.key }, (req, res) => res.end("ok"))
 * // clients trust `ca.cert`
 * ```
 */
export const makeCertificates = async (options: CertificatesOptions = {}): Promise<CertificateSet> => {
  const hosts = options.hosts ?? ["localhost", "127.0.0.1"]
  const days = String(options.days ?? 365)
  const dir = await mkdtemp(join(tmpdir(), "vmcp-testkit-certs-"))
  const file = (name: string) => join(dir, name)
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
  const openssl = (args: ReadonlyArray<string>) => run("openssl", args, { cwd: dir })
  try {
    await openssl([
      "req",
      "-x509",
      ...ec,
      "-keyout",
      file("ca.key"),
      "-out",
      file("ca.crt"),
      "-days",
      days,
      "-subj",
      `/CN=${options.caName ?? "vmcp-status testkit CA"}`,
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign"
    ])
    const san = hosts.map((h) => (isIP(h) === 0 ? `DNS:${h}` : `IP:${h}`)).join(",")
    await writeFile(
      file("serving.ext"),
      [
        "basicConstraints=CA:FALSE",
        "keyUsage=critical,digitalSignature,keyEncipherment",
        "extendedKeyUsage=serverAuth",
        `subjectAltName=${san}`
      ].join("\n")
    )
    await openssl([
      "req",
      ...ec,
      "-keyout",
      file("serving.key"),
      "-out",
      file("serving.csr"),
      "-subj",
      `/CN=${hosts[0] ?? "localhost"}`
    ])
    await openssl([
      "x509",
      "-req",
      "-in",
      file("serving.csr"),
      "-CA",
      file("ca.crt"),
      "-CAkey",
      file("ca.key"),
      "-CAcreateserial",
      "-out",
      file("serving.crt"),
      "-days",
      days,
      "-extfile",
      file("serving.ext")
    ])
    const [caCert, caKey, cert, key] = await Promise.all(
      ["ca.crt", "ca.key", "serving.crt", "serving.key"].map((n) => readFile(file(n), "utf8"))
    )
    return { ca: { cert: caCert!, key: caKey! }, serving: { cert: cert!, key: key! } }
  } catch (error) {
    throw new CertificateError({
      message: `could not generate certificates with openssl (${errorMessage(error)}); install the openssl CLI (apt-get install openssl)`
    })
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/**
 * `makeCertificates` as an Effect.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Certificates } from "@vmcp-status/testkit"
 *
 * const program = Effect.map(Certificates.make(), ({ ca }) => ca.cert)
 * ```
 */
export const make = (options: CertificatesOptions = {}): Effect.Effect<CertificateSet, CertificateError> =>
  Effect.tryPromise({
    try: () => makeCertificates(options),
    catch: (error) =>
      error instanceof CertificateError ? error : new CertificateError({ message: errorMessage(error) })
  })
