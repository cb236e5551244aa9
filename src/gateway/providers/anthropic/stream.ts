import { ChunkWriter, ProviderResponseError, asObject, asString, generatedId, parseJson } from '../shared.js'
import type { ChatChunk, ChatRequest, SseEvent, StreamTranslator, Usage } from '../types.js'
import { anthropicError } from './errors.js'
import { AnthropicTokens, finishReasonFromStop } from './usage.js'

/**
 * Anthropic numbers content blocks (text, thinking, tool_use together); OpenAI numbers tool
 * calls alone. The n-th tool_use block becomes tool call n, whatever its block index.
 */
export class AnthropicStream implements StreamTranslator {
  finished = false
  private readonly writer: ChunkWriter
  private readonly tokens = new AnthropicTokens()
  private readonly toolIndexByBlock = new Map<number, number>()
  private toolCount = 0

  constructor(request: ChatRequest) {
    this.writer = new ChunkWriter(request.model)
  }

  get usage(): Usage | null {
    return this.tokens.seen ? this.tokens.toUsage() : null
  }

  push(event: SseEvent): ChatChunk[] {
    const data = asObject(parseJson(event.data))
    switch (asString(data.type) ?? event.event) {
      case 'message_start':
        return this.start(asObject(data.message))
      case 'content_block_start':
        return this.blockStart(data)
      case 'content_block_delta':
        return this.blockDelta(data)
      case 'message_delta': {
        this.tokens.read(data.usage)
        const finishReason = finishReasonFromStop(asObject(data.delta).stop_reason)
        return finishReason ? [this.writer.delta({}, finishReason)] : []
      }
      case 'message_stop':
        this.finished = true
        return []
      case 'error':
        throw new ProviderResponseError(anthropicError(200, data))
      default:
        // ping, content_block_stop and event types added after this was written
        return []
    }
  }

  end(): ChatChunk[] {
    return this.tokens.seen ? [this.writer.usage(this.tokens.toUsage())] : []
  }

  private start(message: Record<string, unknown>): ChatChunk[] {
    this.writer.id = asString(message.id) ?? this.writer.id
    this.writer.model = asString(message.model) ?? this.writer.model
    this.tokens.read(message.usage)
    return [this.writer.delta({ role: 'assistant', content: '' })]
  }

  private blockStart(data: Record<string, unknown>): ChatChunk[] {
    const block = asObject(data.content_block)
    if (block.type === 'text') {
      const text = asString(block.text)
      return text ? [this.writer.delta({ content: text })] : []
    }
    if (block.type !== 'tool_use') return []
    const index = this.toolCount++
    if (typeof data.index === 'number') this.toolIndexByBlock.set(data.index, index)
    const id = asString(block.id) ?? generatedId('toolu')
    const name = asString(block.name) ?? ''
    return [this.writer.delta({ tool_calls: [{ index, id, type: 'function', function: { name, arguments: '' } }] })]
  }

  private blockDelta(data: Record<string, unknown>): ChatChunk[] {
    const delta = asObject(data.delta)
    if (delta.type === 'text_delta') {
      const text = asString(delta.text)
      return text ? [this.writer.delta({ content: text })] : []
    }
    if (delta.type !== 'input_json_delta') return []
    const index = typeof data.index === 'number' ? this.toolIndexByBlock.get(data.index) : undefined
    const partial = asString(delta.partial_json)
    if (index === undefined || !partial) return []
    return [this.writer.delta({ tool_calls: [{ index, function: { arguments: partial } }] })]
  }
}
