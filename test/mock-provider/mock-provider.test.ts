import assert from 'node:assert/strict'
import { after, before, beforeEach, describe, it } from 'node:test'
import { type MockProvider, type ProviderFormat, startMockProvider } from '../../src/mock-provider/index.js'

// Wire bodies come in many shapes; `any` keeps the assertions on them short.
// biome-ignore lint: test code
type Json = any

interface WireEvent {
  event?: string
  data: string
}

let mock: MockProvider

before(async () => {
  mock = await startMockProvider()
})
after(() => mock.close())
beforeEach(() => mock.reset())

const at = (tag: string | undefined, path: string) => (tag ? `/x/${tag}${path}` : path)

function post(path: string, body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Response> {
  return fetch(`${mock.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal,
  })
}

function parseSse(text: string): WireEvent[] {
  return text
    .split(/\r?\n\r?\n/)
    .filter((block) => block.trim() !== '')
    .map((block) => {
      const event: WireEvent = { data: '' }
      const data: string[] = []
      for (const line of block.split(/\r?\n/)) {
        if (line.startsWith('event: ')) event.event = line.slice('event: '.length)
        else if (line.startsWith('data: ')) data.push(line.slice('data: '.length))
      }
      event.data = data.join('\n')
      return event
    })
}

/** Reads a body to its end, noting whether the connection was cut before the body was complete. */
async function readUntilCut(res: Response): Promise<{ text: string; cut: boolean }> {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader()
  const decoder = new TextDecoder()
  let text = ''
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) return { text, cut: false }
      text += decoder.decode(value, { stream: true })
    }
  } catch {
    return { text, cut: true }
  }
}

const payloads = (events: WireEvent[]): Json[] => events.map((event) => JSON.parse(event.data))
const toolDefinitions = (names: string[]) => names.map((name) => ({ type: 'function', function: { name, parameters: { type: 'object' } } }))

/** What the scripted-behaviour tests need to know about each wire format. */
interface Profile {
  format: ProviderFormat
  chatPath(tag?: string): string
  streamPath(tag?: string): string
  chatBody(userText: string, stream: boolean): unknown
  answerText(body: Json): string
  contentEvents(events: WireEvent[]): WireEvent[]
  hasEndMarker(events: WireEvent[]): boolean
  expectError(body: Json, status: number): void
}

const profiles: Profile[] = [
  {
    format: 'openai',
    chatPath: (tag) => at(tag, '/openai/v1/chat/completions'),
    streamPath: (tag) => at(tag, '/openai/v1/chat/completions'),
    chatBody: (text, stream) => ({ model: 'gpt-test', messages: [{ role: 'user', content: text }], stream }),
    answerText: (body) => body.choices[0].message.content,
    contentEvents: (events) =>
      events.filter((event) => event.data !== '[DONE]' && typeof JSON.parse(event.data).choices[0]?.delta.content === 'string' && !JSON.parse(event.data).choices[0].delta.role),
    hasEndMarker: (events) => events.some((event) => event.data === '[DONE]'),
    expectError: (body, status) => {
      assert.equal(typeof body.error.message, 'string')
      assert.equal(body.error.type, status === 429 ? 'requests' : status >= 500 ? 'server_error' : 'invalid_request_error')
      assert.ok('code' in body.error)
    },
  },
  {
    format: 'anthropic',
    chatPath: (tag) => at(tag, '/anthropic/v1/messages'),
    streamPath: (tag) => at(tag, '/anthropic/v1/messages'),
    chatBody: (text, stream) => ({ model: 'claude-test', max_tokens: 100, messages: [{ role: 'user', content: text }], stream }),
    answerText: (body) => body.content[0].text,
    contentEvents: (events) => events.filter((event) => event.event === 'content_block_delta'),
    hasEndMarker: (events) => events.some((event) => event.event === 'message_stop'),
    expectError: (body, status) => {
      assert.equal(body.type, 'error')
      assert.equal(body.error.type, status === 429 ? 'rate_limit_error' : status >= 500 ? 'api_error' : 'invalid_request_error')
      assert.equal(typeof body.error.message, 'string')
    },
  },
  {
    format: 'cohere',
    chatPath: (tag) => at(tag, '/cohere/v2/chat'),
    streamPath: (tag) => at(tag, '/cohere/v2/chat'),
    chatBody: (text, stream) => ({ model: 'command-test', messages: [{ role: 'user', content: text }], stream }),
    answerText: (body) => body.message.content[0].text,
    contentEvents: (events) => events.filter((event) => event.event === 'content-delta'),
    hasEndMarker: (events) => events.some((event) => event.event === 'message-end'),
    expectError: (body) => {
      assert.deepEqual(Object.keys(body), ['message'])
      assert.equal(typeof body.message, 'string')
    },
  },
  {
    format: 'gemini',
    chatPath: (tag) => at(tag, '/gemini/v1beta/models/gemini-test:generateContent'),
    streamPath: (tag) => at(tag, '/gemini/v1beta/models/gemini-test:streamGenerateContent?alt=sse'),
    chatBody: (text) => ({ contents: [{ role: 'user', parts: [{ text }] }] }),
    answerText: (body) => body.candidates[0].content.parts[0].text,
    contentEvents: (events) => events,
    hasEndMarker: (events) => events.some((event) => JSON.parse(event.data).candidates[0].finishReason === 'STOP'),
    expectError: (body, status) => {
      assert.equal(body.error.code, status)
      assert.equal(body.error.status, status === 429 ? 'RESOURCE_EXHAUSTED' : status === 500 ? 'INTERNAL' : 'INVALID_ARGUMENT')
      assert.equal(typeof body.error.message, 'string')
    },
  },
]

for (const profile of profiles) {
  describe(`${profile.format}: scripted behaviours`, () => {
    it('answers an enqueued 429 with Retry-After, then normally', async () => {
      mock.enqueue('flaky', { status: 429, retryAfter: 3 })
      const limited = await post(profile.chatPath('flaky'), profile.chatBody('hi', false))
      assert.equal(limited.status, 429)
      assert.equal(limited.headers.get('retry-after'), '3')
      profile.expectError(await limited.json(), 429)
      const next = await post(profile.chatPath('flaky'), profile.chatBody('hi', false))
      assert.equal(next.status, 200)
      assert.equal(profile.answerText(await next.json()), `Hello from mock ${profile.format}: hi`)
    })

    it('keeps a standing 500 on its tag only, until cleared', async () => {
      mock.setBehaviour('down', { status: 500 })
      for (let i = 0; i < 2; i++) {
        const failed = await post(profile.chatPath('down'), profile.chatBody('hi', false))
        assert.equal(failed.status, 500)
        profile.expectError(await failed.json(), 500)
      }
      assert.equal((await post(profile.chatPath(), profile.chatBody('hi', false))).status, 200)
      assert.equal((await post(profile.chatPath('other'), profile.chatBody('hi', false))).status, 200)
      mock.setBehaviour('down', null)
      assert.equal((await post(profile.chatPath('down'), profile.chatBody('hi', false))).status, 200)
    })

    it('cuts a stream after dropAfterChunks content chunks, without an end marker', async () => {
      mock.enqueue('cut', { dropAfterChunks: 2 })
      const res = await post(profile.streamPath('cut'), profile.chatBody('one two three', true))
      assert.equal(res.status, 200)
      const { text, cut } = await readUntilCut(res)
      assert.ok(cut, 'the connection ends before the body is complete')
      const events = parseSse(text)
      assert.equal(profile.contentEvents(events).length, 2)
      assert.equal(profile.hasEndMarker(events), false)

      const whole = await post(profile.streamPath('cut'), profile.chatBody('one two three', true))
      const complete = await readUntilCut(whole)
      assert.equal(complete.cut, false)
      assert.equal(profile.hasEndMarker(parseSse(complete.text)), true)
    })

    it('waits delayMs before answering', async () => {
      mock.enqueue(null, { delayMs: 120 })
      const started = performance.now()
      const res = await post(profile.chatPath(), profile.chatBody('hi', false))
      assert.equal(res.status, 200)
      await res.arrayBuffer()
      assert.ok(performance.now() - started >= 110, 'the answer came after the delay')
    })

    it('answers a body that is not JSON with 400 and a key of reject-me with 401', async () => {
      const broken = await post(profile.chatPath(), '{"model": ')
      assert.equal(broken.status, 400)
      profile.expectError(await broken.json(), 400)
      const headers = { authorization: 'Bearer reject-me', 'x-api-key': 'reject-me', 'x-goog-api-key': 'reject-me' }
      const rejected = await post(profile.chatPath(), profile.chatBody('hi', false), headers)
      assert.equal(rejected.status, 401)
      await rejected.arrayBuffer()
      assert.equal(mock.received.length, 2, 'both requests are recorded')
    })
  })
}

describe('openai wire format', () => {
  const path = '/openai/v1/chat/completions'

  it('answers a chat with the last user text and word-count usage', async () => {
    const res = await post(path, {
      model: 'gpt-test',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: [{ type: 'text', text: 'say hi' }] },
      ],
    }, { authorization: 'Bearer sk-test' })
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/)
    const body: Json = await res.json()
    assert.equal(body.object, 'chat.completion')
    assert.equal(body.model, 'gpt-test')
    assert.match(body.id, /^chatcmpl-/)
    assert.deepEqual(body.choices[0].message, { role: 'assistant', content: 'Hello from mock openai: say hi', refusal: null })
    assert.equal(body.choices[0].finish_reason, 'stop')
    assert.equal(body.usage.prompt_tokens, 4)
    assert.equal(body.usage.completion_tokens, 6)
    assert.equal(body.usage.total_tokens, 10)

    const [request] = mock.received
    assert.equal(request?.headers.authorization, 'Bearer sk-test')
    assert.deepEqual([request?.tag, request?.format, request?.operation, request?.method, request?.path], [null, 'openai', 'chat', 'POST', path])
    assert.equal((request?.body as Json).model, 'gpt-test')
  })

  it('streams chunks, then the usage chunk when asked for, then [DONE]', async () => {
    const res = await post(path, {
      model: 'gpt-test',
      messages: [{ role: 'user', content: 'stream this please' }],
      stream: true,
      stream_options: { include_usage: true },
    })
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/)
    const events = parseSse(await res.text())
    assert.equal(events.at(-1)?.data, '[DONE]')
    const chunks = payloads(events.slice(0, -1))
    for (const chunk of chunks) {
      assert.equal(chunk.object, 'chat.completion.chunk')
      assert.equal(chunk.id, chunks[0].id)
    }
    assert.equal(chunks[0].choices[0].delta.role, 'assistant')
    const pieces = chunks.slice(1, -2).map((chunk) => chunk.choices[0].delta.content)
    assert.equal(pieces.length, 4)
    assert.equal(pieces.join(''), 'Hello from mock openai: stream this please')
    assert.equal(chunks.at(-2).choices[0].finish_reason, 'stop')
    assert.deepEqual(chunks.at(-1).choices, [])
    assert.deepEqual([chunks.at(-1).usage.prompt_tokens, chunks.at(-1).usage.completion_tokens], [3, 7])
    assert.ok(chunks.slice(0, -1).every((chunk) => chunk.usage === null))

    const plain = parseSse(await (await post(path, { model: 'm', messages: [{ role: 'user', content: 'x' }], stream: true })).text())
    assert.ok(payloads(plain.slice(0, -1)).every((chunk) => !('usage' in chunk) && chunk.choices.length === 1))
  })

  it('streams parallel tool calls with fragmented arguments', async () => {
    const res = await post(path, {
      model: 'gpt-test',
      messages: [{ role: 'user', content: 'please call tools' }],
      tools: toolDefinitions(['search', 'lookup']),
      stream: true,
    })
    const chunks = payloads(parseSse(await res.text()).slice(0, -1))
    const calls: Array<{ id: string; name: string; args: string; fragments: number }> = []
    for (const chunk of chunks) {
      for (const delta of chunk.choices[0]?.delta.tool_calls ?? []) {
        const call = (calls[delta.index] ??= { id: '', name: '', args: '', fragments: 0 })
        if (delta.id) call.id = delta.id
        if (delta.function?.name) call.name = delta.function.name
        if (delta.function?.arguments) {
          call.args += delta.function.arguments
          call.fragments++
        }
      }
    }
    assert.deepEqual(calls.map((call) => [call.id, call.name]), [['call_0', 'search'], ['call_1', 'lookup']])
    calls.forEach((call, n) => {
      assert.deepEqual(JSON.parse(call.args), { query: 'please call tools', n })
      assert.ok(call.fragments >= 2)
    })
    assert.equal(chunks.at(-1).choices[0].finish_reason, 'tool_calls')
  })

  it('answers tool results in text, and JSON when asked for', async () => {
    const toolTurn = await post(path, {
      model: 'gpt-test',
      tools: toolDefinitions(['search']),
      messages: [
        { role: 'user', content: 'call tools' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_0', type: 'function', function: { name: 'search', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 'call_0', content: 'found it' },
      ],
    })
    const answered: Json = await toolTurn.json()
    assert.equal(answered.choices[0].message.content, 'Hello from mock openai: call tools')

    const json = await post(path, { model: 'm', messages: [{ role: 'user', content: 'x y' }], response_format: { type: 'json_object' } })
    assert.deepEqual(JSON.parse(((await json.json()) as Json).choices[0].message.content), { answer: 'x y' })
  })

  it('embeds each input into a unit vector of the requested length', async () => {
    const res = await post('/openai/v1/embeddings', { model: 'embed-test', input: ['a b', 'c', 'a b'], dimensions: 8 })
    const body: Json = await res.json()
    assert.equal(body.object, 'list')
    assert.equal(body.data.length, 3)
    for (const item of body.data) {
      assert.equal(item.embedding.length, 8)
      assert.ok(Math.abs(Math.hypot(...item.embedding) - 1) < 1e-9)
    }
    assert.deepEqual(body.data[0].embedding, body.data[2].embedding)
    assert.notDeepEqual(body.data[0].embedding, body.data[1].embedding)
    assert.deepEqual(body.usage, { prompt_tokens: 5, total_tokens: 5 })

    const plain: Json = await (await post('/openai/v1/embeddings', { model: 'embed-test', input: 'one' })).json()
    assert.equal(plain.data[0].embedding.length, 16)
  })

  it('answers an unknown path with 404', async () => {
    const res = await post('/openai/v1/completions', { model: 'm' })
    assert.equal(res.status, 404)
    assert.equal(typeof ((await res.json()) as Json).error.message, 'string')
    assert.equal(mock.received.length, 0)
  })
})

describe('anthropic wire format', () => {
  const path = '/anthropic/v1/messages'

  it('answers a message with text content and usage', async () => {
    const res = await post(path, {
      model: 'claude-test',
      max_tokens: 50,
      system: 'be brief',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'say hi' }] }],
    }, { 'x-api-key': 'sk-ant' })
    const body: Json = await res.json()
    assert.deepEqual([body.type, body.role, body.model, body.stop_reason], ['message', 'assistant', 'claude-test', 'end_turn'])
    assert.deepEqual(body.content, [{ type: 'text', text: 'Hello from mock anthropic: say hi' }])
    assert.deepEqual([body.usage.input_tokens, body.usage.output_tokens], [4, 6])
    assert.equal(mock.received[0]?.headers['x-api-key'], 'sk-ant')
  })

  it('streams the Messages event sequence, ending with message_stop', async () => {
    const res = await post(path, { model: 'claude-test', max_tokens: 50, messages: [{ role: 'user', content: 'say hi' }], stream: true })
    const events = parseSse(await res.text())
    assert.deepEqual(events.map((event) => event.event), [
      'message_start',
      'content_block_start',
      'ping',
      'content_block_delta',
      'content_block_delta',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ])
    const data = payloads(events)
    data.forEach((payload, i) => assert.equal(payload.type, events[i]?.event))
    assert.equal(data[0].message.usage.input_tokens, 2)
    assert.deepEqual(data[1].content_block, { type: 'text', text: '' })
    assert.equal(data.slice(3, 7).map((payload) => payload.delta.text).join(''), 'Hello from mock anthropic: say hi')
    assert.equal(data[8].delta.stop_reason, 'end_turn')
    assert.equal(data[8].usage.output_tokens, 6)
  })

  it('streams parallel tool_use blocks with input_json_delta fragments', async () => {
    const res = await post(path, {
      model: 'claude-test',
      max_tokens: 50,
      messages: [{ role: 'user', content: 'call tools' }],
      tools: [{ name: 'search', input_schema: { type: 'object' } }, { name: 'lookup', input_schema: { type: 'object' } }],
      stream: true,
    })
    const data = payloads(parseSse(await res.text()))
    const starts = data.filter((payload) => payload.type === 'content_block_start')
    assert.deepEqual(starts.map((start) => [start.index, start.content_block.type, start.content_block.id, start.content_block.name]), [
      [0, 'tool_use', 'toolu_0', 'search'],
      [1, 'tool_use', 'toolu_1', 'lookup'],
    ])
    for (const index of [0, 1]) {
      const fragments = data.filter((payload) => payload.type === 'content_block_delta' && payload.index === index)
      assert.ok(fragments.length >= 2)
      assert.ok(fragments.every((fragment) => fragment.delta.type === 'input_json_delta'))
      assert.deepEqual(JSON.parse(fragments.map((fragment) => fragment.delta.partial_json).join('')), { query: 'call tools', n: index })
    }
    assert.equal(data.find((payload) => payload.type === 'message_delta').delta.stop_reason, 'tool_use')
  })

  it('requires max_tokens and has no embeddings route', async () => {
    const missing = await post(path, { model: 'claude-test', messages: [{ role: 'user', content: 'hi' }] })
    assert.equal(missing.status, 400)
    assert.equal(((await missing.json()) as Json).error.type, 'invalid_request_error')
    const embeddings = await post('/anthropic/v1/embeddings', { model: 'm', input: 'x' })
    assert.equal(embeddings.status, 404)
    assert.equal(((await embeddings.json()) as Json).error.type, 'not_found_error')
  })
})

describe('cohere wire format', () => {
  it('answers a v2 chat with content parts and billed units', async () => {
    const res = await post('/cohere/v2/chat', {
      model: 'command-test',
      messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'say hi' }],
    })
    const body: Json = await res.json()
    assert.deepEqual(body.message, { role: 'assistant', content: [{ type: 'text', text: 'Hello from mock cohere: say hi' }] })
    assert.equal(body.finish_reason, 'COMPLETE')
    assert.deepEqual(body.usage.billed_units, { input_tokens: 4, output_tokens: 6 })
    assert.deepEqual(body.usage.tokens, { input_tokens: 4, output_tokens: 6 })
  })

  it('streams the v2 event sequence, ending with message-end', async () => {
    const res = await post('/cohere/v2/chat', { model: 'command-test', messages: [{ role: 'user', content: 'say hi' }], stream: true })
    const events = parseSse(await res.text())
    assert.deepEqual(events.map((event) => event.event), [
      'message-start',
      'content-start',
      'content-delta',
      'content-delta',
      'content-delta',
      'content-delta',
      'content-end',
      'message-end',
    ])
    const data = payloads(events)
    data.forEach((payload, i) => assert.equal(payload.type, events[i]?.event))
    assert.equal(data.slice(2, 6).map((payload) => payload.delta.message.content.text).join(''), 'Hello from mock cohere: say hi')
    assert.equal(data[7].delta.finish_reason, 'COMPLETE')
    assert.deepEqual(data[7].delta.usage.billed_units, { input_tokens: 2, output_tokens: 6 })
  })

  it('streams a tool plan and parallel tool calls with fragmented arguments', async () => {
    const res = await post('/cohere/v2/chat', {
      model: 'command-test',
      messages: [{ role: 'user', content: 'call tools' }],
      tools: toolDefinitions(['search', 'lookup']),
      stream: true,
    })
    const data = payloads(parseSse(await res.text()))
    assert.equal(data[1].type, 'tool-plan-delta')
    for (const index of [0, 1]) {
      const ofCall = data.filter((payload) => payload.type.startsWith('tool-call-') && payload.index === index)
      assert.equal(ofCall[0].type, 'tool-call-start')
      assert.equal(ofCall.at(-1).type, 'tool-call-end')
      assert.deepEqual(ofCall[0].delta.message.tool_calls.id, `call_${index}`)
      assert.deepEqual(ofCall[0].delta.message.tool_calls.function.name, ['search', 'lookup'][index])
      const fragments = ofCall.filter((payload) => payload.type === 'tool-call-delta')
      assert.ok(fragments.length >= 2)
      const args = fragments.map((fragment) => fragment.delta.message.tool_calls.function.arguments).join('')
      assert.deepEqual(JSON.parse(args), { query: 'call tools', n: index })
    }
    assert.equal(data.at(-1).type, 'message-end')
    assert.equal(data.at(-1).delta.finish_reason, 'TOOL_CALL')
  })

  it('embeds texts into float vectors with billed input tokens', async () => {
    const res = await post('/cohere/v2/embed', {
      model: 'embed-test',
      texts: ['a b', 'c'],
      input_type: 'search_document',
      embedding_types: ['float'],
      output_dimension: 12,
    })
    const body: Json = await res.json()
    assert.equal(body.embeddings.float.length, 2)
    assert.ok(body.embeddings.float.every((vector: number[]) => vector.length === 12))
    assert.deepEqual(body.texts, ['a b', 'c'])
    assert.equal(body.meta.billed_units.input_tokens, 3)
    assert.equal(typeof body.id, 'string')
  })
})

describe('gemini wire format', () => {
  const model = '/gemini/v1beta/models/gemini-test'

  it('answers generateContent with a candidate and usageMetadata', async () => {
    const res = await post(`${model}:generateContent`, {
      systemInstruction: { parts: [{ text: 'be brief' }] },
      contents: [{ role: 'user', parts: [{ text: 'say hi' }] }],
    }, { 'x-goog-api-key': 'g-key' })
    const body: Json = await res.json()
    assert.deepEqual(body.candidates[0].content, { role: 'model', parts: [{ text: 'Hello from mock gemini: say hi' }] })
    assert.equal(body.candidates[0].finishReason, 'STOP')
    assert.equal(body.candidates[0].index, 0)
    assert.deepEqual(body.usageMetadata, { promptTokenCount: 4, candidatesTokenCount: 6, totalTokenCount: 10 })
    assert.equal(mock.received[0]?.headers['x-goog-api-key'], 'g-key')
  })

  it('streams data chunks of the same shape, the last with finishReason and the final counts', async () => {
    const res = await post(`${model}:streamGenerateContent?alt=sse`, { contents: [{ role: 'user', parts: [{ text: 'say hi' }] }] })
    const text = await res.text()
    assert.ok(text.endsWith('\r\n\r\n'))
    const chunks = payloads(parseSse(text))
    assert.equal(chunks.length, 4)
    assert.equal(chunks.map((chunk) => chunk.candidates[0].content.parts[0].text).join(''), 'Hello from mock gemini: say hi')
    assert.ok(chunks.slice(0, -1).every((chunk) => chunk.candidates[0].finishReason === undefined && chunk.usageMetadata.promptTokenCount === 2))
    assert.equal(chunks.at(-1).candidates[0].finishReason, 'STOP')
    assert.deepEqual(chunks.at(-1).usageMetadata, { promptTokenCount: 2, candidatesTokenCount: 6, totalTokenCount: 8 })
  })

  it('answers with functionCall parts, streamed one call a chunk', async () => {
    const request = {
      contents: [{ role: 'user', parts: [{ text: 'call tools' }] }],
      tools: [{ functionDeclarations: [{ name: 'search' }, { name: 'lookup' }] }],
    }
    const whole: Json = await (await post(`${model}:generateContent`, request)).json()
    assert.deepEqual(whole.candidates[0].content.parts, [
      { functionCall: { name: 'search', args: { query: 'call tools', n: 0 } } },
      { functionCall: { name: 'lookup', args: { query: 'call tools', n: 1 } } },
    ])
    assert.equal(whole.candidates[0].finishReason, 'STOP')

    const chunks = payloads(parseSse(await (await post(`${model}:streamGenerateContent?alt=sse`, request)).text()))
    assert.deepEqual(chunks.map((chunk) => chunk.candidates[0].content.parts[0].functionCall.name), ['search', 'lookup'])
    assert.equal(chunks.at(-1).candidates[0].finishReason, 'STOP')
  })

  it('embeds a batch and a single content', async () => {
    const batch: Json = await (
      await post(`${model}:batchEmbedContents`, {
        requests: [
          { model: 'models/gemini-test', content: { parts: [{ text: 'a b' }] }, outputDimensionality: 6 },
          { model: 'models/gemini-test', content: { parts: [{ text: 'c' }] }, outputDimensionality: 6 },
        ],
      })
    ).json()
    assert.equal(batch.embeddings.length, 2)
    assert.ok(batch.embeddings.every((embedding: Json) => embedding.values.length === 6))
    const single: Json = await (await post(`${model}:embedContent`, { content: { parts: [{ text: 'a b' }] } })).json()
    assert.equal(single.embedding.values.length, 16)
  })

  it('rejects a key of reject-me given in the query', async () => {
    const res = await post(`${model}:generateContent?key=reject-me`, { contents: [{ role: 'user', parts: [{ text: 'hi' }] }] })
    assert.equal(res.status, 401)
    assert.equal(((await res.json()) as Json).error.status, 'UNAUTHENTICATED')
  })
})

describe('mock provider options and lifecycle', () => {
  it('sizes answers, paces streams and adds latency as configured', async () => {
    const paced = await startMockProvider({ responseBytes: 200, streamChunks: 10, chunkIntervalMs: 10, latencyMs: 30 })
    try {
      const request = (stream: boolean) =>
        fetch(`${paced.url}/openai/v1/chat/completions`, {
          method: 'POST',
          body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hello' }], stream }),
        })
      let started = performance.now()
      const whole: Json = await (await request(false)).json()
      assert.ok(performance.now() - started >= 25)
      assert.equal(whole.choices[0].message.content.length, 200)
      assert.ok(whole.choices[0].message.content.startsWith('Hello from mock openai: hello Hello'))

      started = performance.now()
      const events = parseSse(await (await request(true)).text())
      assert.ok(performance.now() - started >= 25 + 9 * 10 - 10, 'nine pauses between ten chunks')
      assert.equal(events.length, 1 + 10 + 1 + 1)
    } finally {
      await paced.close()
    }
  })

  it('survives a client leaving mid-stream and keeps serving', async () => {
    const slow = await startMockProvider({ streamChunks: 50, chunkIntervalMs: 20 })
    try {
      const controller = new AbortController()
      const res = await fetch(`${slow.url}/anthropic/v1/messages`, {
        method: 'POST',
        body: JSON.stringify({ model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }], stream: true }),
        signal: controller.signal,
      })
      const reader = (res.body as ReadableStream<Uint8Array>).getReader()
      await reader.read()
      controller.abort()
      await new Promise((resolve) => setTimeout(resolve, 50))
      const next = await fetch(`${slow.url}/cohere/v2/chat`, {
        method: 'POST',
        body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }),
      })
      assert.equal(next.status, 200)
      await next.arrayBuffer()
    } finally {
      await slow.close()
    }
  })

  it('closes promptly with a request hanging', async () => {
    const hanging = await startMockProvider()
    hanging.enqueue(null, { hang: true })
    const pending = fetch(`${hanging.url}/openai/v1/embeddings`, { method: 'POST', body: JSON.stringify({ model: 'm', input: 'x' }) })
    while (hanging.received.length === 0) await new Promise((resolve) => setTimeout(resolve, 5))
    // Without closing the hanging connection, close() would wait forever and the test time out.
    await hanging.close()
    await assert.rejects(pending)
  })

  it('routes tags, consumes queued steps in order and resets everything', async () => {
    mock.enqueue('a', { status: 503, retryAfter: 1 }, { status: 500 })
    mock.setBehaviour('b', { status: 502 })
    const statusOf = async (tag: string) => {
      const res = await post(at(tag, '/cohere/v2/embed'), { model: 'm', texts: ['x'] })
      await res.arrayBuffer()
      return res.status
    }
    assert.deepEqual([await statusOf('a'), await statusOf('a'), await statusOf('a'), await statusOf('b')], [503, 500, 200, 502])
    assert.deepEqual(mock.received.map((request) => [request.tag, request.path]), [
      ['a', '/x/a/cohere/v2/embed'],
      ['a', '/x/a/cohere/v2/embed'],
      ['a', '/x/a/cohere/v2/embed'],
      ['b', '/x/b/cohere/v2/embed'],
    ])
    const { received } = mock
    mock.enqueue('a', { status: 500 })
    mock.reset()
    assert.equal(received.length, 0)
    assert.deepEqual([await statusOf('a'), await statusOf('b')], [200, 200])
  })
})
