import { type FastifyReply, type FastifyRequest, LogController } from 'fastify'

/**
 * One log line per request, written when the response is finished, with what an operator
 * needs: request id (as `request_id`), method, path (without the query string), route,
 * status, duration and who called. Fastify's default is two lines that say less.
 */
export class RequestLog extends LogController {
  constructor() {
    super({ requestIdLogLabel: 'request_id' })
  }

  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const caller = request.caller
    const line = {
      method: request.method,
      path: request.url.split('?')[0],
      route: request.routeOptions.url,
      status: reply.statusCode,
      duration_ms: Math.round(reply.elapsedTime * 100) / 100,
      caller: caller?.kind === 'user' ? caller.handle : caller?.kind,
    }
    if (error) request.log.warn({ ...line, err: error }, 'request ended with an error')
    else request.log.info(line, 'request')
  }
}
