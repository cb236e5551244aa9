import { asCount, asObject, isObject } from '../shared.js'
import type { Usage } from '../types.js'

/**
 * OpenAI's usage object, kept whole (clients read `prompt_tokens_details` and friends), with
 * the cache and reasoning counts also lifted to the gateway's flat fields.
 */
export function openaiUsage(value: unknown): Usage | undefined {
  if (!isObject(value)) return undefined
  const prompt = asCount(value.prompt_tokens)
  const completion = asCount(value.completion_tokens)
  const usage: Usage = {
    ...value,
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: asCount(value.total_tokens) || prompt + completion,
  }
  const cached = asCount(asObject(value.prompt_tokens_details).cached_tokens)
  if (cached) usage.cached_tokens = cached
  const reasoning = asCount(asObject(value.completion_tokens_details).reasoning_tokens)
  if (reasoning) usage.reasoning_tokens = reasoning
  return usage
}
