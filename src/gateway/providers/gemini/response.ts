import { asArray, asObject, asString, generatedId, nowSeconds } from '../shared.js'
import type { ChatCompletion, ChatRequest } from '../types.js'
import { geminiFinishReason, geminiUsage, promptBlocked, readCandidate, toolCallOf } from './candidates.js'

/** Vertex AI's answers carry a creation time; the Gemini API's do not. */
export function createdOf(body: Record<string, unknown>): number {
  const time = Date.parse(asString(body.createTime) ?? '')
  return Number.isNaN(time) ? nowSeconds() : Math.floor(time / 1000)
}

export function geminiChatResponse(body: unknown, request: ChatRequest): ChatCompletion {
  const raw = asObject(body)
  const choices: ChatCompletion['choices'] = asArray(raw.candidates).map((value, position) => {
    const candidate = readCandidate(value, position)
    const message: ChatCompletion['choices'][number]['message'] = {
      role: 'assistant',
      content: candidate.text.length > 0 || candidate.calls.length === 0 ? candidate.text : null,
    }
    if (candidate.calls.length > 0) message.tool_calls = candidate.calls.map(toolCallOf)
    const finishReason = geminiFinishReason(candidate.finishReason ?? 'STOP', candidate.calls.length > 0)
    return { index: candidate.index, message, finish_reason: finishReason }
  })
  if (choices.length === 0 && promptBlocked(raw)) {
    choices.push({ index: 0, message: { role: 'assistant', content: null }, finish_reason: 'content_filter' })
  }
  const completion: ChatCompletion = {
    id: asString(raw.responseId) ?? generatedId(),
    object: 'chat.completion',
    created: createdOf(raw),
    model: asString(raw.modelVersion) ?? request.model,
    choices,
  }
  const usage = geminiUsage(raw.usageMetadata)
  if (usage) completion.usage = usage
  return completion
}
