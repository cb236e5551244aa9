import type { ProviderAdapter } from '../types.js'
import { GEMINI_EMBEDDINGS_BATCH_LIMIT, geminiEmbeddingsRequest, geminiEmbeddingsResponse } from './embeddings.js'
import { geminiError } from './errors.js'
import { geminiChatRequest } from './request.js'
import { geminiChatResponse } from './response.js'
import { GeminiStream } from './stream.js'

/** Google's Gemini API (generateContent, batchEmbedContents). */
export const geminiAdapter: ProviderAdapter = {
  name: 'gemini',
  chatRequest: geminiChatRequest,
  chatResponse: geminiChatResponse,
  chatStream: (request) => new GeminiStream(request),
  embeddingsBatchLimit: GEMINI_EMBEDDINGS_BATCH_LIMIT,
  embeddingsRequest: geminiEmbeddingsRequest,
  embeddingsResponse: geminiEmbeddingsResponse,
  error: geminiError,
}
