import { ChunkWriter, ProviderResponseError, asArray, asObject, asString, parseJson } from '../shared.js'
import type { ChatChunk, ChatRequest, SseEvent, StreamTranslator, Usage } from '../types.js'
import { geminiError } from './errors.js'
import { geminiFinishReason, geminiUsage, promptBlocked, readCandidate, toolCallOf } from './candidates.js'

type ChunkDelta = ChatChunk['choices'][number]['delta']

/**
 * Each event is a whole GenerateContentResponse holding the next piece of each candidate.
 * Function calls arrive complete, so a call is one delta with its id, name and arguments.
 */
export class GeminiStream implements StreamTranslator {
  usage: Usage | null = null
  finished = false
  private readonly writer: ChunkWriter
  private identified = false
  private readonly started = new Set<number>()
  private readonly callCounts = new Map<number, number>()

  constructor(request: ChatRequest) {
    this.writer = new ChunkWriter(request.model)
  }

  push(event: SseEvent): ChatChunk[] {
    const parsed = parseJson(event.data)
    if (parsed === undefined) return []
    const body = asObject(parsed)
    if (body.error !== undefined) throw new ProviderResponseError(geminiError(200, body))
    if (!this.identified) {
      this.identified = true
      this.writer.id = asString(body.responseId) ?? this.writer.id
      this.writer.model = asString(body.modelVersion) ?? this.writer.model
    }
    this.usage = geminiUsage(body.usageMetadata) ?? this.usage
    const candidates = asArray(body.candidates)
    if (candidates.length === 0 && promptBlocked(body)) {
      this.finished = true
      return [this.writer.delta({ role: 'assistant', content: null }, 'content_filter')]
    }
    return candidates.flatMap((value, position) => this.candidateChunk(value, position))
  }

  end(): ChatChunk[] {
    return this.usage ? [this.writer.usage(this.usage)] : []
  }

  private candidateChunk(value: unknown, position: number): ChatChunk[] {
    const candidate = readCandidate(value, position)
    const delta: ChunkDelta = {}
    if (!this.started.has(candidate.index)) {
      this.started.add(candidate.index)
      delta.role = 'assistant'
    }
    if (candidate.text.length > 0) delta.content = candidate.text
    const before = this.callCounts.get(candidate.index) ?? 0
    if (candidate.calls.length > 0) {
      delta.tool_calls = candidate.calls.map((call, n) => ({ index: before + n, ...toolCallOf(call, before + n) }))
      this.callCounts.set(candidate.index, before + candidate.calls.length)
    }
    const finishReason = geminiFinishReason(candidate.finishReason, (this.callCounts.get(candidate.index) ?? 0) > 0)
    if (finishReason) this.finished = true
    if (Object.keys(delta).length === 0 && !finishReason) return []
    return [this.writer.delta(delta, finishReason, candidate.index)]
  }
}
