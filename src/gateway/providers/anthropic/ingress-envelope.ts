import type { AppError } from '../../../http/errors.js'
import { ChunksToAnthropicEvents, chatToMessage } from './ingress.js'
import type { Ingress, StreamEncoder } from '../../chat.js'
import type { ChatRequest, Usage } from '../types.js'
import { formatSse } from '../../sse.js'

/** Anthropic's error types by status, for the envelope Anthropic's SDKs parse. */
function anthropicType(error: AppError): string {
  if (error.status === 401) return 'authentication_error'
  if (error.status === 403) return 'permission_error'
  if (error.status === 404) return 'not_found_error'
  if (error.status === 413) return 'request_too_large'
  if (error.status === 429) return 'rate_limit_error'
  if (error.status === 503) return 'overloaded_error'
  if (error.status >= 500) return 'api_error'
  return 'invalid_request_error'
}

export function anthropicErrorBody(error: AppError, requestId: string) {
  const firstIssue = error.errors?.[0]
  const message = firstIssue ? `${error.message}: ${firstIssue.location} ${firstIssue.message}` : error.message
  return { type: 'error', error: { type: anthropicType(error), message }, request_id: requestId }
}

const events = (list: Array<{ event?: string; data: string }>) => list.map((item) => formatSse(item.data, item.event)).join('')

/** `POST /v1/messages`: Anthropic's format in and out, through the same providers. */
export const anthropicIngress: Ingress = {
  operation: 'messages',
  completionBody: (completion, request) => chatToMessage(completion, request.model),
  streamEncoder(request: ChatRequest): StreamEncoder {
    const translator = new ChunksToAnthropicEvents(request.model)
    return {
      chunk: (chunk) => events(translator.push(chunk)),
      end: (usage: Usage | null) => events(translator.end(usage)),
      error: (error) => formatSse(JSON.stringify(anthropicErrorBody(error, '')), 'error'),
    }
  },
}
