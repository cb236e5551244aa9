// Cohere's v2 Chat and Embed, as api.cohere.com speaks them.
import { type JsonObject, objectAt, objectsIn, textsIn } from './json.js'
import type { ProviderHandler, Reply, RequestContext } from './routes.js'
import { namedEvent, type SseFrame } from './sse.js'
import { type Answer, argumentFragments, type Conversation, countWords, hashVector, planAnswer, requestedDimensions, splitEvenly } from './text.js'

const errorBody = (_status: number, message: string): unknown => ({ message })

const badRequest = (message: string): Reply => ({ kind: 'json', status: 400, body: errorBody(400, message) })

const TOOL_PLAN = 'I will call the tools.'

function readConversation(body: JsonObject): Conversation {
  const messages = objectsIn(body.messages)
  const lastUser = messages.findLast((message) => message.role === 'user' && textsIn(message.content).length > 0)
  return {
    texts: messages.flatMap((message) => textsIn(message.content)),
    lastUserText: textsIn(lastUser?.content).join(' '),
    endsWithToolResults: messages.at(-1)?.role === 'tool',
    toolNames: objectsIn(body.tools).flatMap((tool) => {
      const name = objectAt(tool.function).name
      return typeof name === 'string' ? [name] : []
    }),
    wantsJson: objectAt(body.response_format).type === 'json_object',
  }
}

function usageOf(answer: Answer) {
  const counts = { input_tokens: answer.promptTokens, output_tokens: answer.completionTokens }
  return { billed_units: counts, tokens: counts }
}

const callId = (index: number) => `call_${index}`

function chat({ body, settings, serial }: RequestContext): Reply {
  if (typeof body.model !== 'string') return badRequest('model is required')
  if (!Array.isArray(body.messages) || body.messages.length === 0) return badRequest('messages must not be empty')
  const answer = planAnswer('cohere', readConversation(body), settings)
  const id = `mock-${serial}`
  const finishReason = answer.toolCalls.length > 0 ? 'TOOL_CALL' : 'COMPLETE'
  if (body.stream !== true) {
    const message = answer.toolCalls.length > 0
      ? {
          role: 'assistant',
          tool_plan: TOOL_PLAN,
          tool_calls: answer.toolCalls.map((call, index) => ({ id: callId(index), type: 'function', function: call })),
        }
      : { role: 'assistant', content: [{ type: 'text', text: answer.text }] }
    return { kind: 'json', status: 200, body: { id, message, finish_reason: finishReason, usage: usageOf(answer) } }
  }

  // Each event's payload repeats its name as `type`, so clients may read either.
  const event = (type: string, payload: JsonObject, content = false) => namedEvent(type, { type, ...payload }, content)
  const frames: SseFrame[] = [
    event('message-start', {
      id,
      delta: { message: { role: 'assistant', content: [], tool_plan: '', tool_calls: [], citations: [] } },
    }),
  ]
  if (answer.toolCalls.length === 0) {
    frames.push(event('content-start', { index: 0, delta: { message: { content: { type: 'text', text: '' } } } }))
    for (const text of splitEvenly(answer.text, settings.streamChunks)) {
      frames.push(event('content-delta', { index: 0, delta: { message: { content: { text } } } }, true))
    }
    frames.push(event('content-end', { index: 0 }))
  } else {
    frames.push(event('tool-plan-delta', { delta: { message: { tool_plan: TOOL_PLAN } } }))
    answer.toolCalls.forEach((call, index) => {
      const start = { id: callId(index), type: 'function', function: { name: call.name, arguments: '' } }
      frames.push(event('tool-call-start', { index, delta: { message: { tool_calls: start } } }))
      for (const fragment of argumentFragments(answer, call, settings)) {
        frames.push(event('tool-call-delta', { index, delta: { message: { tool_calls: { function: { arguments: fragment } } } } }, true))
      }
      frames.push(event('tool-call-end', { index }))
    })
  }
  frames.push(event('message-end', { delta: { finish_reason: finishReason, usage: usageOf(answer) } }))
  return { kind: 'stream', frames }
}

/** v2 takes `texts`, or `inputs` whose content parts hold the text. */
function inputTexts(body: JsonObject): string[] {
  if (Array.isArray(body.texts)) return body.texts.map((text) => (typeof text === 'string' ? text : ''))
  return objectsIn(body.inputs).map((input) => textsIn(input.content).join(' '))
}

function embeddings({ body, serial }: RequestContext): Reply {
  if (typeof body.model !== 'string') return badRequest('model is required')
  const texts = inputTexts(body)
  if (texts.length === 0) return badRequest('texts must not be empty')
  const dimensions = requestedDimensions(body.output_dimension)
  const inputTokens = texts.reduce((sum, text) => sum + countWords(text), 0)
  return {
    kind: 'json',
    status: 200,
    body: {
      id: `mock-${serial}`,
      embeddings: { float: texts.map((text) => hashVector(text, dimensions)) },
      texts,
      meta: { api_version: { version: '2' }, billed_units: { input_tokens: inputTokens } },
      response_type: 'embeddings_by_type',
    },
  }
}

export const cohere: ProviderHandler = { chat, embeddings, errorBody }
