import { anthropicAdapter } from './anthropic/index.js'
import { cohereAdapter } from './cohere/index.js'
import { geminiAdapter } from './gemini/index.js'
import { openaiAdapter } from './openai/index.js'
import type { ProviderAdapter } from './types.js'

export { anthropicAdapter, cohereAdapter, geminiAdapter, openaiAdapter }
export { ProviderResponseError } from './shared.js'
export type * from './types.js'

const ADAPTERS: Record<string, ProviderAdapter> = {
  anthropic: anthropicAdapter,
  cohere: cohereAdapter,
  gemini: geminiAdapter,
}

/**
 * The adapter for a registry API standard. Only the three providers with their own protocols
 * are named; every other standard (`openai`, `ollama`, ones an admin defines) gets the OpenAI
 * adapter, because a server that is not one of those three nearly always speaks OpenAI's API.
 */
export function adapterFor(apiStandard: string): ProviderAdapter {
  return ADAPTERS[apiStandard.toLowerCase()] ?? openaiAdapter
}
