import { ChunkWriter, ProviderResponseError, asObject, asString, generatedId, parseJson } from '../shared.js'
import type { ChatChunk, ChatRequest, SseEvent, StreamTranslator, Usage } from '../types.js'
import { cohereError } from './errors.js'
import { cohereFinishReason, cohereUsage } from './usage.js'

/** Each event's data names its own type; the SSE event name is the same and only a fallback. */
export class CohereStream implements StreamTranslator {
  usage: Usage | null = null
  finished = false
  private readonly writer: ChunkWriter
  private readonly toolIndexByEvent = new Map<number, number>()
  private toolCount = 0
  private lastToolIndex = 0

  constructor(request: ChatRequest) {
    this.writer = new ChunkWriter(request.model)
  }

  push(event: SseEvent): ChatChunk[] {
    const data = asObject(parseJson(event.data))
    const message = asObject(asObject(data.delta).message)
    switch (asString(data.type) ?? event.event) {
      case 'message-start':
        this.writer.id = asString(data.id) ?? this.writer.id
        return [this.writer.delta({ role: 'assistant', content: '' })]
      case 'content-delta': {
        const text = asString(asObject(message.content).text)
        return text ? [this.writer.delta({ content: text })] : []
      }
      case 'tool-call-start':
        return this.toolCallStart(data, asObject(message.tool_calls))
      case 'tool-call-delta': {
        const args = asString(asObject(asObject(message.tool_calls).function).arguments)
        if (!args) return []
        const index = (typeof data.index === 'number' ? this.toolIndexByEvent.get(data.index) : undefined) ?? this.lastToolIndex
        return [this.writer.delta({ tool_calls: [{ index, function: { arguments: args } }] })]
      }
      case 'message-end': {
        const delta = asObject(data.delta)
        this.finished = true
        this.usage = cohereUsage(delta.usage) ?? this.usage
        // A generation that failed midway ends with finish_reason ERROR and says why here.
        const error = asString(delta.error)
        if (error) throw new ProviderResponseError(cohereError(500, { message: error }))
        return [this.writer.delta({}, cohereFinishReason(delta.finish_reason) ?? 'stop')]
      }
      default:
        // content-start/end, tool-plan-delta, tool-call-end, citation events
        return []
    }
  }

  end(): ChatChunk[] {
    return this.usage ? [this.writer.usage(this.usage)] : []
  }

  private toolCallStart(data: Record<string, unknown>, call: Record<string, unknown>): ChatChunk[] {
    const index = this.toolCount++
    if (typeof data.index === 'number') this.toolIndexByEvent.set(data.index, index)
    this.lastToolIndex = index
    const fn = asObject(call.function)
    return [
      this.writer.delta({
        tool_calls: [{
          index,
          id: asString(call.id) ?? generatedId('call'),
          type: 'function',
          function: { name: asString(fn.name) ?? '', arguments: asString(fn.arguments) ?? '' },
        }],
      }),
    ]
  }
}
