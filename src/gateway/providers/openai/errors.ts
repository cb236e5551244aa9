import { asObject, asString, errorTypeForStatus, fallbackErrorMessage } from '../shared.js'
import type { ProviderError } from '../types.js'

/** `{error: {message, type, code}}`; compatible servers (Ollama) often send `{error: "text"}`. */
export function openaiError(status: number, body: unknown): ProviderError {
  const envelope = asObject(body)
  if (typeof envelope.error === 'string') return { message: envelope.error, type: errorTypeForStatus(status), code: null }
  const error = asObject(envelope.error)
  const code = error.code
  return {
    message: asString(error.message) ?? asString(envelope.message) ?? fallbackErrorMessage(status, body),
    type: asString(error.type) ?? errorTypeForStatus(status),
    code: typeof code === 'string' ? code : typeof code === 'number' ? String(code) : null,
  }
}

