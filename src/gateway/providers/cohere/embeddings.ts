import { JSON_HEADERS, asArray, asCount, asObject, checkedVectors, numberList } from '../shared.js'
import type { EmbeddingsResult, UpstreamRequest, UpstreamTarget } from '../types.js'

export const COHERE_EMBEDDINGS_BATCH_LIMIT = 96

/** The gateway embeds texts to store and search, so they are documents to Cohere. */
export function cohereEmbeddingsRequest(input: string[], target: UpstreamTarget): UpstreamRequest {
  const body: Record<string, unknown> = {
    model: target.model,
    texts: input,
    input_type: 'search_document',
    embedding_types: ['float'],
  }
  if (target.dimensions) body.output_dimension = target.dimensions
  return { url: target.endpoint, headers: { ...JSON_HEADERS }, body }
}

/** v2 answers `{embeddings: {float: [...]}}`; without `embedding_types` it was a bare list. */
export function cohereEmbeddingsResponse(body: unknown, count: number): EmbeddingsResult {
  const raw = asObject(body)
  const lists = Array.isArray(raw.embeddings) ? raw.embeddings : asArray(asObject(raw.embeddings).float)
  const vectors = checkedVectors(lists.map(numberList), count)
  const billed = asObject(asObject(raw.meta).billed_units)
  const prompt = asCount(billed.input_tokens)
  return { vectors, usage: { prompt_tokens: prompt, total_tokens: prompt } }
}
