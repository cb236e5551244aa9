import { JSON_HEADERS, asArray, asObject, asString, generatedId, nowSeconds } from '../shared.js'
import type { ChatCompletion, ChatRequest, FinishReason, UpstreamRequest, UpstreamTarget } from '../types.js'
import { openaiUsage } from './usage.js'

/**
 * The request goes as the client wrote it, unknown fields included, so OpenAI-compatible
 * servers get their own extensions. Streams always ask for usage: the gateway must count
 * tokens whether or not the client wanted the usage chunk.
 */
export function openaiChatRequest(request: ChatRequest, target: UpstreamTarget, stream: boolean): UpstreamRequest {
  const body: Record<string, unknown> = { ...request, model: target.model }
  delete body.stream
  delete body.stream_options
  if (stream) {
    body.stream = true
    body.stream_options = { ...request.stream_options, include_usage: true }
  }
  return { url: target.endpoint, headers: { ...JSON_HEADERS }, body }
}

const finishReasonOf = (value: unknown): FinishReason => (asString(value) as FinishReason | undefined) ?? null

export function openaiChatResponse(body: unknown, request: ChatRequest): ChatCompletion {
  const raw = asObject(body)
  const usage = openaiUsage(raw.usage)
  const choices = asArray(raw.choices).map((value, position) => {
    const choice = asObject(value)
    const message = asObject(choice.message)
    return {
      ...choice,
      index: typeof choice.index === 'number' ? choice.index : position,
      message: { ...message, role: 'assistant' as const, content: asString(message.content) ?? null },
      finish_reason: finishReasonOf(choice.finish_reason),
    }
  })
  const completion: ChatCompletion = {
    ...raw,
    id: asString(raw.id) ?? generatedId(),
    object: 'chat.completion',
    created: typeof raw.created === 'number' ? raw.created : nowSeconds(),
    model: asString(raw.model) ?? request.model,
    choices,
  }
  if (usage) completion.usage = usage
  else delete completion.usage
  return completion
}
