import { randomUUID } from 'node:crypto'
import type { Socket } from 'node:net'
import type { ErrorObject } from 'ajv'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify'
import { isConnectionError, isPgError, SQLSTATE } from '../db/errors.js'
import { AppError, type ErrorCode, errors } from './errors.js'
import { toValidationIssues } from './validation.js'

/**
 * How errors look under some paths whose clients expect another format than problem JSON:
 * the gateway's OpenAI- and Anthropic-compatible routes, whose SDKs parse their provider's
 * envelope. Routes there have their own error handler; this covers what happens before a
 * route is found (an unknown path, a URL that does not decode, a request the HTTP parser
 * refused).
 */
export interface ErrorEnvelope {
  /** Paths: `/v1/models` is that path exactly, `/v1/models/*` every path below it. */
  paths: readonly string[]
  contentType: string
  render(problem: AppError, requestId: string): unknown
}

const PROBLEM_ENVELOPE: ErrorEnvelope = {
  paths: [],
  contentType: 'application/problem+json',
  render: (problem, requestId) => ({
    title: problem.title,
    status: problem.status,
    detail: problem.message,
    code: problem.code,
    request_id: requestId,
    ...(problem.errors ? { errors: problem.errors } : {}),
  }),
}

const matches = (path: string, pattern: string) => (pattern.endsWith('/*') ? path.startsWith(pattern.slice(0, -1)) : path === pattern)

export function envelopeFor(envelopes: readonly ErrorEnvelope[], url: string): ErrorEnvelope {
  const path = (url.split('?')[0] ?? '').replace(/\/+$/, '')
  return envelopes.find((envelope) => envelope.paths.some((pattern) => matches(path, pattern))) ?? PROBLEM_ENVELOPE
}

/**
 * Renders every error as RFC 7807 problem JSON with the request id (or in the envelope of the
 * path, see {@link ErrorEnvelope}). Anything we did not raise on purpose becomes a fixed 500
 * text: stack traces, SQL and driver messages go to the log only, never to the client.
 */
export function installErrorHandling(app: FastifyInstance, envelopes: readonly ErrorEnvelope[] = []) {
  app.setErrorHandler(async (error: FastifyError, request, reply) => {
    const problem = toAppError(error, request)
    if (problem.status >= 500) {
      request.log.error({ err: problem.cause ?? error, code: problem.code }, 'request failed')
    }
    return sendProblem(reply, request, problem, envelopeFor(envelopes, request.url))
  })

  app.setNotFoundHandler(async (request, reply) =>
    sendProblem(reply, request, new AppError('route_not_found', `no route ${request.method} ${request.url.split('?')[0]}`), envelopeFor(envelopes, request.url)),
  )
}

export function sendProblem(reply: FastifyReply, request: FastifyRequest, problem: AppError, envelope: ErrorEnvelope = PROBLEM_ENVELOPE) {
  if (problem.headers) reply.headers(problem.headers)
  return reply.code(problem.status).type(envelope.contentType).send(envelope.render(problem, request.id))
}

/**
 * Fastify's own answers for requests no route saw, in our formats: a path whose
 * percent-encoding is not UTF-8 (`%ff`, `%ED%A0%80`) is FST_ERR_BAD_URL, and a request the
 * HTTP parser refused (a control byte in a header, a raw invalid byte in the path) reaches
 * the client-error handler with only a socket. Both answered Fastify's own JSON before.
 */
export function frameworkErrorOptions(envelopes: readonly ErrorEnvelope[]): Pick<FastifyServerOptions, 'frameworkErrors' | 'clientErrorHandler'> {
  return {
    frameworkErrors: (error, request, reply) => {
      const code = (error as FastifyError).code
      const problem = code === 'FST_ERR_BAD_URL'
        ? new AppError('bad_request', 'the URL is not valid: a percent-encoded part does not decode to UTF-8 text', { cause: error })
        : new AppError('bad_request', 'the request could not be routed', { cause: error })
      sendProblem(reply, request, problem, envelopeFor(envelopes, request.raw.url ?? ''))
    },
    clientErrorHandler: (error: Error & { code?: string; rawPacket?: unknown }, socket: Socket) => {
      if (error.code === 'ECONNRESET' || socket.destroyed) return
      const problem = error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? new AppError('request_timeout', 'the request was not received in time')
        : error.code === 'HPE_HEADER_OVERFLOW'
          ? new AppError('headers_too_large', 'the request headers are too large')
          : new AppError('bad_request', 'the request is not valid HTTP (for example a control character in a header or a raw non-ASCII byte in the path)')
      const packet = Buffer.isBuffer(error.rawPacket) ? error.rawPacket.toString('latin1') : ''
      const requestLine = /^[A-Z]+ (\S+)/.exec(packet)
      const envelope = envelopeFor(envelopes, requestLine?.[1] ?? '')
      const requestId = randomUUID()
      const body = JSON.stringify(envelope.render(problem, requestId))
      if (socket.writable) {
        socket.write(
          `HTTP/1.1 ${problem.status} ${problem.title}\r\nContent-Type: ${envelope.contentType}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
            `x-request-id: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
        )
      }
      socket.destroy()
    },
  }
}

const FASTIFY_CODES: Record<string, { code: ErrorCode; detail: (request: FastifyRequest) => string }> = {
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'invalid_json', detail: () => 'the request body is not valid JSON' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'body_required', detail: () => 'request body is required' },
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'body_too_large', detail: (request) => `request body is too large (limit ${request.routeOptions.bodyLimit} bytes)` },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    code: 'unsupported_media_type',
    detail: () => 'unsupported Content-Type; send application/json',
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: 'bad_request', detail: () => 'Content-Length does not match the body' },
}

export function toAppError(error: FastifyError, request: FastifyRequest): AppError {
  if (error instanceof AppError) return error
  if (error.validation) return fromValidation(error.validation as ErrorObject[], error.validationContext, request)
  const known = error.code ? FASTIFY_CODES[error.code] : undefined
  if (known) return new AppError(known.code, known.detail(request), { cause: error })
  if (isPgError(error, SQLSTATE.uniqueViolation)) {
    return new AppError('conflict', 'a resource with these identifiers already exists', { cause: error })
  }
  if (isPgError(error, SQLSTATE.foreignKeyViolation)) {
    return new AppError('bad_request', 'the request refers to something that does not exist', { cause: error })
  }
  if (/timeout exceeded when trying to connect/.test((error as Error).message ?? '')) return errors.databaseBusy(error)
  if (isConnectionError(error)) return errors.databaseUnavailable(error)
  // Other 4xx errors raised by Fastify itself (bad URL encoding, …) keep their status.
  const { statusCode = 500, code = '', message } = error as FastifyError
  if (statusCode >= 400 && statusCode < 500 && code.startsWith('FST_')) {
    return new AppError(statusCode === 405 ? 'method_not_allowed' : 'bad_request', message, { cause: error })
  }
  return new AppError('internal_error', 'an unexpected error occurred; the request id identifies it in the server log', {
    cause: error,
  })
}


const CONTEXT_NAMES: Record<string, string> = { body: 'body', params: 'path', querystring: 'query', headers: 'header' }

/** Ajv's errors as located issues; a body that is missing altogether is a 400. */
function fromValidation(validation: ErrorObject[], context: string | undefined, request: FastifyRequest): AppError {
  const part = CONTEXT_NAMES[context ?? 'body'] ?? 'body'
  if (part === 'body' && (request.body === undefined || request.body === null)) {
    return new AppError('body_required', 'request body is required')
  }
  return errors.validation(toValidationIssues(validation, part))
}
