import { asObject, asString, errorTypeForStatus, fallbackErrorMessage } from '../shared.js'
import type { ProviderError } from '../types.js'

/**
 * Anthropic's types mostly are OpenAI's; the ones that are not are mapped and kept as the
 * code, so `overloaded_error` (HTTP 529, worth a retry elsewhere) stays recognisable.
 */
const TYPES: Record<string, string> = {
  invalid_request_error: 'invalid_request_error',
  request_too_large: 'invalid_request_error',
  authentication_error: 'authentication_error',
  permission_error: 'permission_error',
  not_found_error: 'not_found_error',
  rate_limit_error: 'rate_limit_error',
  api_error: 'api_error',
  overloaded_error: 'api_error',
  timeout_error: 'api_error',
}

/** `{type: 'error', error: {type, message}}`, also the data of a stream's `error` event. */
export function anthropicError(status: number, body: unknown): ProviderError {
  const error = asObject(asObject(body).error)
  const providerType = asString(error.type)
  return {
    message: asString(error.message) ?? fallbackErrorMessage(status, body),
    type: (providerType && TYPES[providerType]) ?? errorTypeForStatus(status),
    code: providerType ?? null,
  }
}
