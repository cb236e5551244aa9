import { asArray, asObject, asString, generatedId, nowSeconds } from '../shared.js'
import type { ChatCompletion, ChatRequest, ToolCall } from '../types.js'
import { cohereFinishReason, cohereUsage } from './usage.js'

/**
 * Text blocks make the content. `tool_plan` (the model's note on why it calls tools) is left
 * out: OpenAI's message has no field for it, and it cannot be sent back.
 */
export function cohereChatResponse(body: unknown, request: ChatRequest): ChatCompletion {
  const raw = asObject(body)
  const message = asObject(raw.message)
  const texts = asArray(message.content)
    .map(asObject)
    .filter((block) => block.type === 'text')
    .map((block) => asString(block.text) ?? '')
  const toolCalls: ToolCall[] = asArray(message.tool_calls).map((value) => {
    const call = asObject(value)
    const fn = asObject(call.function)
    return {
      id: asString(call.id) ?? generatedId('call'),
      type: 'function',
      function: { name: asString(fn.name) ?? '', arguments: asString(fn.arguments) ?? '{}' },
    }
  })
  const out: ChatCompletion['choices'][number]['message'] = { role: 'assistant', content: texts.length > 0 ? texts.join('') : null }
  if (toolCalls.length > 0) out.tool_calls = toolCalls
  const completion: ChatCompletion = {
    id: asString(raw.id) ?? generatedId(),
    object: 'chat.completion',
    created: nowSeconds(),
    model: request.model,
    choices: [{ index: 0, message: out, finish_reason: cohereFinishReason(raw.finish_reason) ?? (toolCalls.length ? 'tool_calls' : 'stop') }],
  }
  const usage = cohereUsage(raw.usage)
  if (usage) completion.usage = usage
  return completion
}
