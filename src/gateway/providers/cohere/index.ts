import type { ProviderAdapter } from '../types.js'
import { COHERE_EMBEDDINGS_BATCH_LIMIT, cohereEmbeddingsRequest, cohereEmbeddingsResponse } from './embeddings.js'
import { cohereError } from './errors.js'
import { cohereChatRequest } from './request.js'
import { cohereChatResponse } from './response.js'
import { CohereStream } from './stream.js'

/** Cohere's v2 chat and embed APIs. */
export const cohereAdapter: ProviderAdapter = {
  name: 'cohere',
  chatRequest: cohereChatRequest,
  chatResponse: cohereChatResponse,
  chatStream: (request) => new CohereStream(request),
  embeddingsBatchLimit: COHERE_EMBEDDINGS_BATCH_LIMIT,
  embeddingsRequest: cohereEmbeddingsRequest,
  embeddingsResponse: cohereEmbeddingsResponse,
  error: cohereError,
}
