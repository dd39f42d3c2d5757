import {
  isJSONRPCErrorResponse,
  isJSONRPCNotification,
  isJSONRPCRequest,
  isJSONRPCResultResponse,
  type RequestId,
  type Transport
} from "@modelcontextprotocol/server"

/**
 * Keeps `inFlight` as the ids of the requests a connected transport delivered and its server has
 * not answered yet (nor the client cancelled); `onAnswer` runs on every answer. Wraps the
 * transport's `onmessage` and `send`, so call it after `server.connect(transport)`.
 */
export const trackInFlight = (transport: Transport, inFlight: Set<RequestId>, onAnswer: () => void): void => {
  const deliver = transport.onmessage
  transport.onmessage = (message, extra) => {
    if (isJSONRPCRequest(message)) inFlight.add(message.id)
    else if (isJSONRPCNotification(message) && message.method === "notifications/cancelled") {
      const id = (message.params as { requestId?: RequestId } | undefined)?.requestId
      if (id !== undefined) inFlight.delete(id)
    }
    deliver?.(message, extra)
  }
  const send = transport.send.bind(transport)
  transport.send = (message, options) => {
    if ((isJSONRPCResultResponse(message) || isJSONRPCErrorResponse(message)) && message.id !== undefined) {
      inFlight.delete(message.id)
      onAnswer()
    }
    return send(message, options)
  }
}
