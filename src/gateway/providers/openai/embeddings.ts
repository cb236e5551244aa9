import { JSON_HEADERS, asArray, asCount, asObject, checkedVectors, numberList } from '../shared.js'
import type { EmbeddingsResult, UpstreamRequest, UpstreamTarget } from '../types.js'

export const OPENAI_EMBEDDINGS_BATCH_LIMIT = 2048

export function openaiEmbeddingsRequest(input: string[], target: UpstreamTarget): UpstreamRequest {
  const body: Record<string, unknown> = { model: target.model, input }
  if (target.dimensions) body.dimensions = target.dimensions
  return { url: target.endpoint, headers: { ...JSON_HEADERS }, body }
}

export function openaiEmbeddingsResponse(body: unknown, count: number): EmbeddingsResult {
  const raw = asObject(body)
  // `index` is the authority on order; most servers keep it, but nothing promises that.
  const items = asArray(raw.data)
    .map((item, position) => ({ item: asObject(item), position }))
    .sort((a, b) => (typeof a.item.index === 'number' ? a.item.index : a.position) - (typeof b.item.index === 'number' ? b.item.index : b.position))
  const vectors = checkedVectors(items.map(({ item }) => numberList(item.embedding)), count)
  const usage = asObject(raw.usage)
  const prompt = asCount(usage.prompt_tokens)
  return { vectors, usage: { prompt_tokens: prompt, total_tokens: asCount(usage.total_tokens) || prompt } }
}
