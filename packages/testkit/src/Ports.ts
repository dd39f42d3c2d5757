import { createServer, type Server } from "node:net"

/**
 * Distinct loopback ports that were free a moment ago: all are held open together, so none is
 * handed out twice, then closed. For a server that must be told its port up front (etcd, a
 * Prometheus), or for a port that nothing listens on. A server that can bind port 0 and say
 * which port it got should do that instead: a port found here can be taken before it is used.
 *
 * @example
 * ```ts
 * import { freeLoopbackPorts } from "@vmcp-status/testkit"
 *
 * const [client, peer] = await freeLoopbackPorts(2)
 * ```
 */
export const freeLoopbackPorts = async (count: number): Promise<ReadonlyArray<number>> => {
  const servers: Array<Server> = []
  try {
    const ports: Array<number> = []
    for (let i = 0; i < count; i++) {
      const server = createServer()
      servers.push(server)
      ports.push(
        await new Promise<number>((resolve, reject) => {
          server.once("error", reject)
          server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port))
        })
      )
    }
    return ports
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))))
  }
}

/**
 * One loopback port that was free a moment ago (see `freeLoopbackPorts`).
 *
 * @example
 * ```ts
 * import { freeLoopbackPort } from "@vmcp-status/testkit"
 *
 * const refused = await fetch(`http://127.0.0.1:${await freeLoopbackPort()}/`).catch((e) => e)
 * ```
 */
export const freeLoopbackPort = async (): Promise<number> => (await freeLoopbackPorts(1))[0]!
