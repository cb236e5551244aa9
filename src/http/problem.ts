import type { ErrorObject } from 'ajv'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { isConnectionError, isPgError, SQLSTATE } from '../db/errors.js'
import { AppError, type ErrorCode, errors } from './errors.js'
import { toValidationIssues } from './validation.js'

/**
 * Renders every error as RFC 7807 problem JSON with the request id. Anything we did not raise
 * on purpose becomes a fixed 500 text: stack traces, SQL and driver messages go to the log
 * only, never to the client.
 */
export function installErrorHandling(app: FastifyInstance) {
  app.setErrorHandler(async (error: FastifyError, request, reply) => {
    const problem = toAppError(error, request)
    if (problem.status >= 500) {
      request.log.error({ err: problem.cause ?? error, code: problem.code }, 'request failed')
    }
    return sendProblem(reply, request, problem)
  })

  app.setNotFoundHandler(async (request, reply) =>
    sendProblem(reply, request, new AppError('route_not_found', `no route ${request.method} ${request.url.split('?')[0]}`)),
  )
}

export function sendProblem(reply: FastifyReply, request: FastifyRequest, problem: AppError) {
  if (problem.headers) reply.headers(problem.headers)
  return reply
    .code(problem.status)
    .type('application/problem+json')
    .send({
      title: problem.title,
      status: problem.status,
      detail: problem.message,
      code: problem.code,
      request_id: request.id,
      ...(problem.errors ? { errors: problem.errors } : {}),
    })
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
