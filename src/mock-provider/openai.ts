// OpenAI Chat Completions and Embeddings, as api.openai.com speaks them.
import { type JsonObject, objectAt, objectsIn, stringAt, textsIn } from './json.js'
import type { ProviderHandler, Reply, RequestContext } from './routes.js'
import { dataEvent, type SseFrame } from './sse.js'
import { type Answer, argumentFragments, type Conversation, countWords, hashVector, planAnswer, requestedDimensions, splitEvenly } from './text.js'

function errorBody(status: number, message: string): unknown {
  const [type, code] =
    status === 401 ? ['invalid_request_error', 'invalid_api_key']
    : status === 429 ? ['requests', 'rate_limit_exceeded']
    : status >= 500 ? ['server_error', null]
    : ['invalid_request_error', null]
  return { error: { message, type, param: null, code } }
}

const badRequest = (message: string): Reply => ({ kind: 'json', status: 400, body: errorBody(400, message) })

function readConversation(body: JsonObject): Conversation {
  const messages = objectsIn(body.messages)
  const lastUser = messages.findLast((message) => message.role === 'user' && textsIn(message.content).length > 0)
  const responseType = objectAt(body.response_format).type
  return {
    texts: messages.flatMap((message) => textsIn(message.content)),
    lastUserText: textsIn(lastUser?.content).join(' '),
    endsWithToolResults: ['tool', 'function'].includes(String(messages.at(-1)?.role)),
    toolNames: objectsIn(body.tools).flatMap((tool) => {
      const name = objectAt(tool.function).name
      return typeof name === 'string' ? [name] : []
    }),
    wantsJson: responseType === 'json_object' || responseType === 'json_schema',
  }
}

function usageOf(answer: Answer) {
  return {
    prompt_tokens: answer.promptTokens,
    completion_tokens: answer.completionTokens,
    total_tokens: answer.promptTokens + answer.completionTokens,
    prompt_tokens_details: { cached_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0 },
  }
}

const callId = (index: number) => `call_${index}`

function chat({ body, settings, serial }: RequestContext): Reply {
  if (typeof body.model !== 'string') return badRequest('you must provide a model parameter')
  if (!Array.isArray(body.messages) || body.messages.length === 0) return badRequest("'messages' must be a non-empty array")
  const answer = planAnswer('openai', readConversation(body), settings)
  const head = { id: `chatcmpl-mock${serial}`, created: Math.floor(Date.now() / 1000), model: body.model }
  const finishReason = answer.toolCalls.length > 0 ? 'tool_calls' : 'stop'
  if (body.stream !== true) {
    const toolCalls = answer.toolCalls.map((call, index) => ({ id: callId(index), type: 'function', function: call }))
    const message = toolCalls.length > 0
      ? { role: 'assistant', content: null, tool_calls: toolCalls, refusal: null }
      : { role: 'assistant', content: answer.text, refusal: null }
    const choice = { index: 0, message, logprobs: null, finish_reason: finishReason }
    return { kind: 'json', status: 200, body: { ...head, object: 'chat.completion', choices: [choice], usage: usageOf(answer) } }
  }

  // With include_usage every chunk carries `usage: null` and one more chunk, with no choices, the totals.
  const includeUsage = objectAt(body.stream_options).include_usage === true
  const chunk = (delta: JsonObject, finish: string | null, content = false) =>
    dataEvent({
      ...head,
      object: 'chat.completion.chunk',
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      ...(includeUsage ? { usage: null } : {}),
    }, content)
  const frames: SseFrame[] = []
  if (answer.toolCalls.length === 0) {
    frames.push(chunk({ role: 'assistant', content: '', refusal: null }, null))
    for (const piece of splitEvenly(answer.text, settings.streamChunks)) frames.push(chunk({ content: piece }, null, true))
  } else {
    frames.push(chunk({ role: 'assistant', content: null, refusal: null }, null))
    answer.toolCalls.forEach((call, index) => {
      const start = { index, id: callId(index), type: 'function', function: { name: call.name, arguments: '' } }
      frames.push(chunk({ tool_calls: [start] }, null))
      for (const fragment of argumentFragments(answer, call, settings)) {
        frames.push(chunk({ tool_calls: [{ index, function: { arguments: fragment } }] }, null, true))
      }
    })
  }
  frames.push(chunk({}, finishReason))
  if (includeUsage) frames.push(dataEvent({ ...head, object: 'chat.completion.chunk', choices: [], usage: usageOf(answer) }))
  frames.push({ wire: 'data: [DONE]\n\n', content: false })
  return { kind: 'stream', frames }
}

/** `input` may be one text, several, or token ids (one list or several). */
function inputTexts(input: unknown): string[] {
  if (typeof input === 'string') return [input]
  if (!Array.isArray(input) || input.length === 0) return []
  if (input.every((item) => typeof item === 'number')) return [input.join(' ')]
  return input.map((item) => (Array.isArray(item) ? item.join(' ') : stringAt(item, '')))
}

function embeddings({ body }: RequestContext): Reply {
  if (typeof body.model !== 'string') return badRequest('you must provide a model parameter')
  const texts = inputTexts(body.input)
  if (texts.length === 0) return badRequest("'input' must be a non-empty string or array")
  const dimensions = requestedDimensions(body.dimensions)
  const asBase64 = body.encoding_format === 'base64'
  const data = texts.map((text, index) => {
    const vector = hashVector(text, dimensions)
    const embedding = asBase64 ? Buffer.from(new Float32Array(vector).buffer).toString('base64') : vector
    return { object: 'embedding', index, embedding }
  })
  const promptTokens = texts.reduce((sum, text) => sum + countWords(text), 0)
  return {
    kind: 'json',
    status: 200,
    body: { object: 'list', data, model: body.model, usage: { prompt_tokens: promptTokens, total_tokens: promptTokens } },
  }
}

export const openai: ProviderHandler = { chat, embeddings, errorBody }

