import type { AppError } from '../../../http/errors.js'
import type { Ingress, StreamEncoder } from '../../chat.js'
import type { ChatChunk, ChatRequest, Usage } from '../types.js'

/** OpenAI's error types by our error codes, for the envelope OpenAI's SDKs parse. */
const OPENAI_TYPES: Record<string, string> = {
  unauthorized: 'authentication_error',
  forbidden: 'permission_error',
  model_not_found: 'invalid_request_error',
  rate_limited: 'rate_limit_error',
  budget_exceeded: 'insufficient_quota',
  validation_failed: 'invalid_request_error',
  bad_request: 'invalid_request_error',
  invalid_json: 'invalid_request_error',
  upstream_timeout: 'timeout_error',
}

export function openAiErrorBody(error: AppError, requestId: string) {
  const type = OPENAI_TYPES[error.code] ?? (error.status >= 500 ? 'api_error' : 'invalid_request_error')
  const firstIssue = error.errors?.[0]
  const message = firstIssue ? `${error.message}: ${firstIssue.location} ${firstIssue.message}` : error.message
  return {
    error: { message, type, code: error.code, param: firstIssue?.location.replace(/^body\./, '') ?? null },
    request_id: requestId,
  }
}

const data = (value: unknown) => `data: ${JSON.stringify(value)}\n\n`

/** `POST /v1/chat/completions`: OpenAI's own format in and out. */
export const openAiIngress: Ingress = {
  operation: 'chat',
  completionBody: (completion) => completion,
  streamEncoder(request: ChatRequest): StreamEncoder {
    const wantsUsage = request.stream_options?.include_usage === true
    let last: Pick<ChatChunk, 'id' | 'created' | 'model'> | null = null
    return {
      chunk(chunk) {
        last = chunk
        return data({ ...chunk, model: request.model })
      },
      end(usage: Usage | null) {
        // OpenAI's last chunk when usage was asked for: no choices, the usage of the whole call.
        const usageChunk = wantsUsage
          ? data({ id: last?.id ?? '', object: 'chat.completion.chunk', created: last?.created ?? Math.floor(Date.now() / 1000), model: request.model, choices: [], usage })
          : ''
        return `${usageChunk}data: [DONE]\n\n`
      },
      error(error) {
        return data(openAiErrorBody(error, ''))
      },
    }
  },
}
