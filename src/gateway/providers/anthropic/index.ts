import type { ProviderAdapter } from '../types.js'
import { anthropicError } from './errors.js'
import { anthropicChatRequest } from './request.js'
import { anthropicChatResponse } from './response.js'
import { AnthropicStream } from './stream.js'

const NO_EMBEDDINGS = 'Anthropic offers no embeddings API: an embedding instance cannot use the anthropic API standard'

/** Anthropic's Messages API. It has no embeddings endpoint. */
export const anthropicAdapter: ProviderAdapter = {
  name: 'anthropic',
  chatRequest: anthropicChatRequest,
  chatResponse: anthropicChatResponse,
  chatStream: (request) => new AnthropicStream(request),
  embeddingsBatchLimit: 0,
  embeddingsRequest: () => {
    throw new Error(NO_EMBEDDINGS)
  },
  embeddingsResponse: () => {
    throw new Error(NO_EMBEDDINGS)
  },
  error: anthropicError,
}
