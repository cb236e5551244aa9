import { asObject, asString, errorTypeForStatus, fallbackErrorMessage } from '../shared.js'
import type { ProviderError } from '../types.js'

/** Google's canonical status names, which say more than the HTTP status (quota versus rate). */
const TYPES: Record<string, string> = {
  INVALID_ARGUMENT: 'invalid_request_error',
  FAILED_PRECONDITION: 'invalid_request_error',
  OUT_OF_RANGE: 'invalid_request_error',
  UNAUTHENTICATED: 'authentication_error',
  PERMISSION_DENIED: 'permission_error',
  NOT_FOUND: 'not_found_error',
  RESOURCE_EXHAUSTED: 'rate_limit_error',
  INTERNAL: 'api_error',
  UNAVAILABLE: 'api_error',
  DEADLINE_EXCEEDED: 'api_error',
}

/** `{error: {code, message, status}}`; the streaming endpoint wraps it in a list. */
export function geminiError(status: number, body: unknown): ProviderError {
  const envelope = asObject(Array.isArray(body) ? body[0] : body)
  const error = asObject(envelope.error)
  const googleStatus = asString(error.status)
  return {
    message: asString(error.message) ?? fallbackErrorMessage(status, body),
    type: (googleStatus && TYPES[googleStatus]) ?? errorTypeForStatus(status),
    code: googleStatus ?? null,
  }
}
