// Anthropic Messages, as api.anthropic.com speaks it. Anthropic has no embeddings API.
import { allTextsIn, type JsonObject, objectsIn, textsIn } from './json.js'
import type { ProviderHandler, Reply, RequestContext } from './routes.js'
import { namedEvent, type SseFrame } from './sse.js'
import { type Answer, argumentFragments, type Conversation, planAnswer, splitEvenly } from './text.js'

const errorTypes = new Map<number, string>([
  [400, 'invalid_request_error'],
  [401, 'authentication_error'],
  [403, 'permission_error'],
  [404, 'not_found_error'],
  [413, 'request_too_large'],
  [429, 'rate_limit_error'],
  [529, 'overloaded_error'],
])

function errorBody(status: number, message: string): unknown {
  const type = errorTypes.get(status) ?? (status >= 500 ? 'api_error' : 'invalid_request_error')
  return { type: 'error', error: { type, message } }
}

const badRequest = (message: string): Reply => ({ kind: 'json', status: 400, body: errorBody(400, message) })

function readConversation(body: JsonObject): Conversation {
  const messages = objectsIn(body.messages)
  const lastUser = messages.findLast((message) => message.role === 'user' && textsIn(message.content).length > 0)
  const lastMessage = messages.at(-1)
  return {
    texts: [...allTextsIn(body.system), ...messages.flatMap((message) => allTextsIn(message.content))],
    lastUserText: textsIn(lastUser?.content).join(' '),
    endsWithToolResults:
      lastMessage?.role === 'user' && objectsIn(lastMessage.content).some((block) => block.type === 'tool_result'),
    toolNames: objectsIn(body.tools).flatMap((tool) => (typeof tool.name === 'string' ? [tool.name] : [])),
    wantsJson: false,
  }
}

const toolUseId = (index: number) => `toolu_${index}`

function usageOf(answer: Answer, outputTokens: number) {
  return {
    input_tokens: answer.promptTokens,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    output_tokens: outputTokens,
  }
}

function chat({ body, settings, serial }: RequestContext): Reply {
  if (typeof body.model !== 'string') return badRequest('model: Field required')
  if (typeof body.max_tokens !== 'number') return badRequest('max_tokens: Field required')
  if (!Array.isArray(body.messages) || body.messages.length === 0) return badRequest('messages: at least one message is required')
  const answer = planAnswer('anthropic', readConversation(body), settings)
  const message = {
    id: `msg_mock${serial}`,
    type: 'message',
    role: 'assistant',
    model: body.model,
  }
  const stopReason = answer.toolCalls.length > 0 ? 'tool_use' : 'end_turn'
  if (body.stream !== true) {
    const content = answer.toolCalls.length > 0
      ? answer.toolCalls.map((call, index) => ({ type: 'tool_use', id: toolUseId(index), name: call.name, input: JSON.parse(call.arguments) }))
      : [{ type: 'text', text: answer.text }]
    const reply = { ...message, content, stop_reason: stopReason, stop_sequence: null, usage: usageOf(answer, answer.completionTokens) }
    return { kind: 'json', status: 200, body: reply }
  }

  // message_start reports a token or so of output already; message_delta's count is the total, not an increment.
  const frames: SseFrame[] = [
    namedEvent('message_start', {
      type: 'message_start',
      message: { ...message, content: [], stop_reason: null, stop_sequence: null, usage: usageOf(answer, 1) },
    }),
  ]
  const block = (index: number, contentBlock: JsonObject, deltas: JsonObject[]) => {
    frames.push(namedEvent('content_block_start', { type: 'content_block_start', index, content_block: contentBlock }))
    if (index === 0) frames.push(namedEvent('ping', { type: 'ping' }))
    for (const delta of deltas) frames.push(namedEvent('content_block_delta', { type: 'content_block_delta', index, delta }, true))
    frames.push(namedEvent('content_block_stop', { type: 'content_block_stop', index }))
  }
  if (answer.toolCalls.length === 0) {
    const pieces = splitEvenly(answer.text, settings.streamChunks)
    block(0, { type: 'text', text: '' }, pieces.map((text) => ({ type: 'text_delta', text })))
  } else {
    answer.toolCalls.forEach((call, index) => {
      const fragments = argumentFragments(answer, call, settings)
      block(
        index,
        { type: 'tool_use', id: toolUseId(index), name: call.name, input: {} },
        fragments.map((partial_json) => ({ type: 'input_json_delta', partial_json })),
      )
    })
  }
  frames.push(
    namedEvent('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: stopReason, stop_sequence: null },
      usage: { output_tokens: answer.completionTokens },
    }),
    namedEvent('message_stop', { type: 'message_stop' }),
  )
  return { kind: 'stream', frames }
}

export const anthropic: ProviderHandler = { chat, errorBody }
