import { asArray, asObject, asString, generatedId, type JsonObject, nowSeconds } from '../shared.js'
import type { ChatCompletion, ChatRequest, ToolCall } from '../types.js'
import { anthropicUsage, finishReasonFromStop } from './usage.js'

/** Anthropic's `tool_use` blocks as chat tool calls (answers, and the assistant turns of a request). */
export function toolCallsOf(blocks: JsonObject[]): ToolCall[] {
  return blocks
    .filter((block) => block.type === 'tool_use')
    .map((block) => ({
      id: asString(block.id) ?? generatedId('toolu'),
      type: 'function',
      function: { name: asString(block.name) ?? '', arguments: JSON.stringify(block.input ?? {}) },
    }))
}

/** Thinking blocks stay out: OpenAI's message has no place for them. */
export function anthropicChatResponse(body: unknown, request: ChatRequest): ChatCompletion {
  const raw = asObject(body)
  const blocks = asArray(raw.content).map(asObject)
  const texts = blocks.filter((block) => block.type === 'text').map((block) => asString(block.text) ?? '')
  const toolCalls = toolCallsOf(blocks)
  const message: ChatCompletion['choices'][number]['message'] = {
    role: 'assistant',
    content: texts.length > 0 ? texts.join('') : null,
  }
  if (toolCalls.length > 0) message.tool_calls = toolCalls
  const completion: ChatCompletion = {
    id: asString(raw.id) ?? generatedId(),
    object: 'chat.completion',
    created: nowSeconds(),
    model: asString(raw.model) ?? request.model,
    choices: [{ index: 0, message, finish_reason: finishReasonFromStop(raw.stop_reason) ?? (toolCalls.length ? 'tool_calls' : 'stop') }],
  }
  const usage = anthropicUsage(raw.usage)
  if (usage) completion.usage = usage
  return completion
}
