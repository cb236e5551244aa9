import { ChunkWriter, asArray, asObject, asString, parseJson, ProviderResponseError } from '../shared.js'
import type { ChatChunk, ChatRequest, SseEvent, StreamTranslator, Usage } from '../types.js'
import { openaiError } from './errors.js'
import { openaiUsage } from './usage.js'

/** OpenAI's chunks are already the gateway's; this reads the usage and the `[DONE]` marker. */
export class OpenAiStream implements StreamTranslator {
  usage: Usage | null = null
  finished = false
  private readonly fallback: ChunkWriter

  constructor(request: ChatRequest) {
    this.fallback = new ChunkWriter(request.model)
  }

  push(event: SseEvent): ChatChunk[] {
    if (event.data.trim() === '[DONE]') {
      this.finished = true
      return []
    }
    const parsed = parseJson(event.data)
    // Keep-alive text and other non-JSON events carry nothing to translate.
    if (parsed === undefined) return []
    const raw = asObject(parsed)
    if (raw.error !== undefined) throw new ProviderResponseError(openaiError(200, raw))
    const chunk: ChatChunk = {
      ...raw,
      id: asString(raw.id) ?? this.fallback.id,
      object: 'chat.completion.chunk',
      created: typeof raw.created === 'number' ? raw.created : this.fallback.created,
      model: asString(raw.model) ?? this.fallback.model,
      choices: asArray(raw.choices) as ChatChunk['choices'],
    }
    const usage = openaiUsage(raw.usage)
    if (usage) {
      this.usage = usage
      chunk.usage = usage
    }
    return [chunk]
  }

  end(): ChatChunk[] {
    return []
  }
}
