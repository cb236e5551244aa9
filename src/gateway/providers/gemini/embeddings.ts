import { JSON_HEADERS, asArray, asObject, checkedVectors, numberList } from '../shared.js'
import type { EmbeddingsResult, UpstreamRequest, UpstreamTarget } from '../types.js'
import { batchEmbedUrl } from './urls.js'

export const GEMINI_EMBEDDINGS_BATCH_LIMIT = 100

export function geminiEmbeddingsRequest(input: string[], target: UpstreamTarget): UpstreamRequest {
  const model = target.model.startsWith('models/') ? target.model : `models/${target.model}`
  const requests = input.map((text) => ({
    model,
    content: { parts: [{ text }] },
    ...(target.dimensions ? { outputDimensionality: target.dimensions } : {}),
  }))
  return { url: batchEmbedUrl(target.endpoint), headers: { ...JSON_HEADERS }, body: { requests } }
}

/** Gemini reports no token counts for embeddings, so the usage is zero, not an estimate. */
export function geminiEmbeddingsResponse(body: unknown, count: number): EmbeddingsResult {
  const vectors = asArray(asObject(body).embeddings).map((item) => numberList(asObject(item).values))
  return { vectors: checkedVectors(vectors, count), usage: { prompt_tokens: 0, total_tokens: 0 } }
}
