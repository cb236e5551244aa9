import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { geminiAdapter, ProviderResponseError } from '../../../src/gateway/providers/index.js'
import type { ChatChunk, ChatRequest } from '../../../src/gateway/providers/types.js'
import { awkwardSplits, chatToolsRequest, jsonFixture, jsonSchemaRequest, readFixture, translate, withFixedCreated } from '../fixtures/helpers.js'

const endpoint = 'https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent'
const target = { endpoint, model: 'gemini-2.5-flash' }
const bodyOf = (request: ChatRequest) => geminiAdapter.chatRequest(request, target, false).body as Record<string, unknown>

describe('gemini chat request', () => {
  it('translates system, multimodal parts, function calls and responses, tools and the tool choice', () => {
    const upstream = geminiAdapter.chatRequest(chatToolsRequest(), target, false)
    assert.equal(upstream.url, endpoint)
    assert.deepEqual(upstream.headers, { 'content-type': 'application/json' })
    assert.deepEqual(upstream.body, jsonFixture('gemini/chat-tools.request.json'))
  })

  it('streams from streamGenerateContent with alt=sse, keeping a query already there', () => {
    assert.equal(
      geminiAdapter.chatRequest(jsonSchemaRequest(), target, true).url,
      'https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse',
    )
    assert.equal(
      geminiAdapter.chatRequest(jsonSchemaRequest(), { ...target, endpoint: `${endpoint}?key=abc` }, true).url,
      'https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent?key=abc&alt=sse',
    )
  })

  it('maps a JSON schema to a JSON response with its JSON Schema', () => {
    assert.deepEqual(geminiAdapter.chatRequest(jsonSchemaRequest(), target, true).body, {
      systemInstruction: { parts: [{ text: 'Extract calendar events.' }] },
      contents: [{ role: 'user', parts: [{ text: 'Alice and Bob meet for lunch on Friday.' }] }],
      generationConfig: {
        maxOutputTokens: 300,
        responseMimeType: 'application/json',
        responseJsonSchema: {
          type: 'object',
          properties: {
            title: { type: 'string' },
            day: { type: 'string' },
            participants: { type: 'array', items: { type: 'string' } },
          },
          required: ['title', 'day', 'participants'],
          additionalProperties: false,
        },
      },
    })
  })

  it('maps each tool choice', () => {
    const configOf = (tool_choice: ChatRequest['tool_choice']) => bodyOf({ ...chatToolsRequest(), tool_choice }).toolConfig
    assert.deepEqual(configOf('auto'), { functionCallingConfig: { mode: 'AUTO' } })
    assert.deepEqual(configOf('none'), { functionCallingConfig: { mode: 'NONE' } })
    assert.deepEqual(configOf({ type: 'function', function: { name: 'get_time' } }), {
      functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['get_time'] },
    })
    assert.equal(configOf(undefined), undefined)
  })

  it('names each function response after the nearest earlier call with its id', () => {
    // Ids Gemini's translation invented repeat across turns: call_0 is a different function each time.
    const request: ChatRequest = {
      model: 'x',
      messages: [
        { role: 'user', content: 'Time in Oslo?' },
        { role: 'assistant', content: 'Looking.', tool_calls: [{ id: 'call_0', type: 'function', function: { name: 'get_time', arguments: '{"city":"Oslo"}' } }] },
        { role: 'tool', tool_call_id: 'call_0', content: '["12:00"]' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_0', type: 'function', function: { name: 'get_weather', arguments: 'not json' } }] },
        { role: 'tool', tool_call_id: 'call_0', content: [{ type: 'text', text: 'sunny' }] },
      ],
    }
    assert.deepEqual(bodyOf(request).contents, [
      { role: 'user', parts: [{ text: 'Time in Oslo?' }] },
      { role: 'model', parts: [{ text: 'Looking.' }, { functionCall: { name: 'get_time', args: { city: 'Oslo' } } }] },
      { role: 'user', parts: [{ functionResponse: { name: 'get_time', response: { output: ['12:00'] } } }] },
      { role: 'model', parts: [{ functionCall: { name: 'get_weather', args: {} } }] },
      { role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { output: 'sunny' } } }] },
    ])
  })
})

describe('gemini chat response', () => {
  it('reads text (without thoughts), function calls with made-up ids, the finish reason and usage', () => {
    const completion = geminiAdapter.chatResponse(jsonFixture('gemini/response-tools.json'), chatToolsRequest())
    assert.deepEqual(withFixedCreated([completion]), [
      {
        id: 'mYZkaJ3hN8-xkdUP7q6J4AY',
        object: 'chat.completion',
        created: 0,
        model: 'gemini-2.5-flash',
        choices: [
          {
            index: 0,
            message: {
              role: 'assistant',
              content: 'Let me look both up.',
              tool_calls: [
                { id: 'call_0', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
                { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo","unit":"celsius"}' } },
              ],
            },
            finish_reason: 'tool_calls',
          },
        ],
        usage: { prompt_tokens: 1530, completion_tokens: 172, total_tokens: 1702, cached_tokens: 1024, reasoning_tokens: 124 },
      },
    ])
  })

  it('maps finish reasons', () => {
    const finishOf = (finishReason: string) =>
      geminiAdapter.chatResponse({ candidates: [{ content: { parts: [{ text: 'x' }] }, finishReason }] }, chatToolsRequest()).choices[0]?.finish_reason
    assert.deepEqual(
      ['STOP', 'MAX_TOKENS', 'SAFETY', 'RECITATION', 'PROHIBITED_CONTENT', 'MALFORMED_FUNCTION_CALL', 'OTHER'].map(finishOf),
      ['stop', 'length', 'content_filter', 'content_filter', 'content_filter', 'stop', 'stop'],
    )
  })

  it('answers a blocked prompt with an empty, filtered choice, and takes Vertex AI creation times', () => {
    const completion = geminiAdapter.chatResponse(
      { promptFeedback: { blockReason: 'SAFETY' }, usageMetadata: { promptTokenCount: 12, totalTokenCount: 12 }, createTime: '2025-01-01T00:00:00.500Z' },
      chatToolsRequest(),
    )
    assert.equal(completion.created, 1735689600)
    assert.equal(completion.model, 'travel-assistant')
    assert.deepEqual(completion.choices, [{ index: 0, message: { role: 'assistant', content: null }, finish_reason: 'content_filter' }])
    assert.deepEqual(completion.usage, { prompt_tokens: 12, completion_tokens: 0, total_tokens: 12 })
    assert.deepEqual(geminiAdapter.chatResponse('nonsense', chatToolsRequest()).choices, [])
  })
})

describe('gemini stream', () => {
  const chunk = (delta: ChatChunk['choices'][number]['delta'], finish_reason: ChatChunk['choices'][number]['finish_reason'] = null): ChatChunk => ({
    id: 'o4ZkaNPBLqbkkdUPu5yJkQ4',
    object: 'chat.completion.chunk',
    created: 0,
    model: 'gemini-2.5-flash',
    choices: [{ index: 0, delta, finish_reason }],
  })
  const usage = { prompt_tokens: 95, completion_tokens: 85, total_tokens: 180, cached_tokens: 64, reasoning_tokens: 45 }
  const expected: ChatChunk[] = [
    chunk({ role: 'assistant' }),
    chunk({ content: 'Checking Zürich' }),
    chunk({ content: ' and Oslo.', tool_calls: [{ index: 0, id: 'call_0', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Zürich"}' } }] }),
    chunk({ tool_calls: [{ index: 1, id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo","unit":"celsius"}' } }] }, 'tool_calls'),
    { ...chunk({}), choices: [], usage },
  ]

  it('translates each response piece, numbering calls across events, however the stream is split', () => {
    for (const [how, chunks] of awkwardSplits(readFixture('gemini/stream-tools.sse'))) {
      const translator = geminiAdapter.chatStream(chatToolsRequest())
      assert.deepEqual(withFixedCreated(translate(translator, chunks)), expected, how)
      assert.equal(translator.finished, true)
      assert.deepEqual(translator.usage, usage)
    }
  })

  it('is not finished before a candidate has a finish reason', () => {
    const transcript = readFixture('gemini/stream-tools.sse')
    const translator = geminiAdapter.chatStream(chatToolsRequest())
    translate(translator, [transcript.slice(0, transcript.lastIndexOf('data:'))])
    assert.equal(translator.finished, false)
  })

  it('reports an error sent inside the stream', () => {
    const translator = geminiAdapter.chatStream(chatToolsRequest())
    assert.throws(
      () => translator.push({ data: '{"error":{"code":503,"message":"The model is overloaded. Please try again later.","status":"UNAVAILABLE"}}' }),
      (error: unknown) => {
        assert.ok(error instanceof ProviderResponseError)
        assert.deepEqual(error.providerError, { message: 'The model is overloaded. Please try again later.', type: 'api_error', code: 'UNAVAILABLE' })
        return true
      },
    )
  })
})

describe('gemini embeddings', () => {
  it('calls batchEmbedContents whichever embedding operation the endpoint names', () => {
    const base = 'https://generativelanguage.googleapis.com/v1beta/models/gemini-embedding-001'
    const request = geminiAdapter.embeddingsRequest(['hello', 'goodbye'], { endpoint: `${base}:embedContent`, model: 'gemini-embedding-001', dimensions: 768 })
    assert.deepEqual(request, {
      url: `${base}:batchEmbedContents`,
      headers: { 'content-type': 'application/json' },
      body: {
        requests: [
          { model: 'models/gemini-embedding-001', content: { parts: [{ text: 'hello' }] }, outputDimensionality: 768 },
          { model: 'models/gemini-embedding-001', content: { parts: [{ text: 'goodbye' }] }, outputDimensionality: 768 },
        ],
      },
    })
    const batch = geminiAdapter.embeddingsRequest(['a'], { endpoint: `${base}:batchEmbedContents`, model: 'models/gemini-embedding-001' })
    assert.equal(batch.url, `${base}:batchEmbedContents`)
    assert.deepEqual(batch.body, { requests: [{ model: 'models/gemini-embedding-001', content: { parts: [{ text: 'a' }] } }] })
    assert.equal(geminiAdapter.embeddingsRequest(['a'], { endpoint: `${base}:embedContent?key=k`, model: 'm' }).url, `${base}:batchEmbedContents?key=k`)
    assert.equal(geminiAdapter.embeddingsBatchLimit, 100)
  })

  it('reads the vectors, with zero usage since Gemini reports none', () => {
    assert.deepEqual(geminiAdapter.embeddingsResponse(jsonFixture('gemini/embed-response.json'), 2), {
      vectors: [
        [0.013168523, -0.008711934, -0.046782676],
        [-0.25, 0.5, 0.75],
      ],
      usage: { prompt_tokens: 0, total_tokens: 0 },
    })
  })
})

describe('gemini errors', () => {
  it('reads Google error statuses into OpenAI types', () => {
    assert.deepEqual(
      geminiAdapter.error(400, { error: { code: 400, message: 'API key not valid. Please pass a valid API key.', status: 'INVALID_ARGUMENT' } }),
      { message: 'API key not valid. Please pass a valid API key.', type: 'invalid_request_error', code: 'INVALID_ARGUMENT' },
    )
    assert.deepEqual(
      geminiAdapter.error(429, [{ error: { code: 429, message: 'Resource has been exhausted (e.g. check quota).', status: 'RESOURCE_EXHAUSTED' } }]),
      { message: 'Resource has been exhausted (e.g. check quota).', type: 'rate_limit_error', code: 'RESOURCE_EXHAUSTED' },
    )
    assert.deepEqual(geminiAdapter.error(403, { error: { code: 403, message: 'Permission denied', status: 'PERMISSION_DENIED' } }).type, 'permission_error')
    assert.deepEqual(geminiAdapter.error(500, {}), { message: 'provider answered with HTTP 500', type: 'api_error', code: null })
  })
})
