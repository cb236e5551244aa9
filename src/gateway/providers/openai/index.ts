import type { ProviderAdapter } from '../types.js'
import { openaiChatRequest, openaiChatResponse } from './chat.js'
import { OPENAI_EMBEDDINGS_BATCH_LIMIT, openaiEmbeddingsRequest, openaiEmbeddingsResponse } from './embeddings.js'
import { openaiError } from './errors.js'
import { OpenAiStream } from './stream.js'

/** OpenAI and every server that speaks its API (Ollama, vLLM, LM Studio, most gateways). */
export const openaiAdapter: ProviderAdapter = {
  name: 'openai',
  chatRequest: openaiChatRequest,
  chatResponse: openaiChatResponse,
  chatStream: (request) => new OpenAiStream(request),
  embeddingsBatchLimit: OPENAI_EMBEDDINGS_BATCH_LIMIT,
  embeddingsRequest: openaiEmbeddingsRequest,
  embeddingsResponse: openaiEmbeddingsResponse,
  error: openaiError,
}
