import { asObject, asString, errorTypeForStatus, fallbackErrorMessage } from '../shared.js'
import type { ProviderError } from '../types.js'

/**
 * Cohere's body is `{message}` (sometimes with an id) and the status says the rest; it uses
 * 498 for an invalid key and 499 for a cancelled request.
 */
export function cohereError(status: number, body: unknown): ProviderError {
  const message = asString(asObject(body).message) ?? fallbackErrorMessage(status, body)
  const type = status === 498 ? 'authentication_error' : status === 499 ? 'api_error' : errorTypeForStatus(status)
  return { message, type, code: null }
}
