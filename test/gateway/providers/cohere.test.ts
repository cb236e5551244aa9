import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { cohereAdapter, ProviderResponseError } from '../../../src/gateway/providers/index.js'
import type { ChatChunk, ChatRequest } from '../../../src/gateway/providers/types.js'
import { awkwardSplits, chatToolsRequest, jsonFixture, jsonSchemaRequest, readFixture, translate, withFixedCreated } from '../fixtures/helpers.js'

const target = { endpoint: 'https://api.cohere.com/v2/chat', model: 'command-a-03-2025' }
const bodyOf = (request: ChatRequest, stream = false) => cohereAdapter.chatRequest(request, target, stream).body as Record<string, unknown>

describe('cohere chat request', () => {
  it('translates messages, tool calls and results, images, tools and the tool choice to v2', () => {
    const upstream = cohereAdapter.chatRequest(chatToolsRequest(), target, false)
    assert.equal(upstream.url, 'https://api.cohere.com/v2/chat')
    assert.deepEqual(upstream.headers, { 'content-type': 'application/json' })
    assert.deepEqual(upstream.body, jsonFixture('cohere/chat-tools.request.json'))
  })

  it('maps a JSON schema to a json_object response format with the schema', () => {
    assert.deepEqual(bodyOf(jsonSchemaRequest(), true), {
      model: 'command-a-03-2025',
      messages: [
        { role: 'system', content: 'Extract calendar events.' },
        { role: 'user', content: 'Alice and Bob meet for lunch on Friday.' },
      ],
      stream: true,
      max_tokens: 300,
      response_format: {
        type: 'json_object',
        json_schema: {
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
    assert.deepEqual(bodyOf({ ...jsonSchemaRequest(), response_format: { type: 'json_object' } }).response_format, { type: 'json_object' })
  })

  it('forces a named tool by sending only that one as required, and leaves auto out', () => {
    const named = bodyOf({ ...chatToolsRequest(), tool_choice: { type: 'function', function: { name: 'get_time' } } })
    assert.deepEqual(named.tool_choice, 'REQUIRED')
    assert.deepEqual(named.tools, [
      {
        type: 'function',
        function: {
          name: 'get_time',
          description: 'Local time in a city',
          parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
        },
      },
    ])
    assert.equal('strict_tools' in named, false)
    assert.equal(bodyOf({ ...chatToolsRequest(), tool_choice: 'none' }).tool_choice, 'NONE')
    assert.equal('tool_choice' in bodyOf({ ...chatToolsRequest(), tool_choice: 'auto' }), false)
  })
})

describe('cohere chat response', () => {
  it('reads tool calls (leaving out the tool plan) and prefers counted tokens to billed units', () => {
    const completion = cohereAdapter.chatResponse(jsonFixture('cohere/response-tools.json'), chatToolsRequest())
    assert.deepEqual(withFixedCreated([completion]), [
      {
        id: '5a50480a-cf52-46f0-af01-53d18539bd31',
        object: 'chat.completion',
        created: 0,
        model: 'travel-assistant',
        choices: [
          {
            index: 0,
            message: {
              role: 'assistant',
              content: null,
              tool_calls: [
                { id: 'get_weather_1byjy32y4hvq', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
                { id: 'get_weather_p0dage9q1nv4', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo","unit":"celsius"}' } },
              ],
            },
            finish_reason: 'tool_calls',
          },
        ],
        usage: { prompt_tokens: 1201, completion_tokens: 84, total_tokens: 1285 },
      },
    ])
  })

  it('joins text blocks, leaves thinking out and falls back to billed units', () => {
    const completion = cohereAdapter.chatResponse(jsonFixture('cohere/response-text.json'), chatToolsRequest())
    assert.deepEqual(completion.choices, [
      { index: 0, message: { role: 'assistant', content: 'Paris is warmer: 21 °C against 9 °C in Oslo.' }, finish_reason: 'stop' },
    ])
    assert.deepEqual(completion.usage, { prompt_tokens: 52, completion_tokens: 14, total_tokens: 66 })
  })

  it('maps every finish reason', () => {
    const finishOf = (finish_reason: unknown) => cohereAdapter.chatResponse({ finish_reason }, chatToolsRequest()).choices[0]?.finish_reason
    assert.deepEqual(
      ['COMPLETE', 'STOP_SEQUENCE', 'MAX_TOKENS', 'TOOL_CALL', 'ERROR_TOXIC', undefined].map(finishOf),
      ['stop', 'stop', 'length', 'tool_calls', 'content_filter', 'stop'],
    )
  })
})

describe('cohere stream', () => {
  const chunkFor = (id: string) => (delta: ChatChunk['choices'][number]['delta'], finish_reason: ChatChunk['choices'][number]['finish_reason'] = null): ChatChunk => ({
    id,
    object: 'chat.completion.chunk',
    created: 0,
    model: 'travel-assistant',
    choices: [{ index: 0, delta, finish_reason }],
  })

  it('translates streamed parallel tool calls, however the stream is split', () => {
    const chunk = chunkFor('29f14a5a-11de-4cae-9800-25e4747408ea')
    const usage = { prompt_tokens: 1201, completion_tokens: 84, total_tokens: 1285 }
    const expected: ChatChunk[] = [
      chunk({ role: 'assistant', content: '' }),
      chunk({ tool_calls: [{ index: 0, id: 'get_weather_nsz5zm3w56q3', type: 'function', function: { name: 'get_weather', arguments: '' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '{\n    "' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: 'city": "Z' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: 'ürich"\n}' } }] }),
      chunk({ tool_calls: [{ index: 1, id: 'get_weather_m3kdjd9n6s6r', type: 'function', function: { name: 'get_weather', arguments: '' } }] }),
      chunk({ tool_calls: [{ index: 1, function: { arguments: '{"city": "Oslo",' } }] }),
      chunk({ tool_calls: [{ index: 1, function: { arguments: ' "unit": "celsius"}' } }] }),
      chunk({}, 'tool_calls'),
      { ...chunk({}), choices: [], usage },
    ]
    for (const [how, chunks] of awkwardSplits(readFixture('cohere/stream-tools.sse'))) {
      const translator = cohereAdapter.chatStream(chatToolsRequest())
      assert.deepEqual(withFixedCreated(translate(translator, chunks)), expected, how)
      assert.equal(translator.finished, true)
      assert.deepEqual(translator.usage, usage)
    }
  })

  it('translates streamed text, with billed units when no token counts come', () => {
    const chunk = chunkFor('6f1c2f0e-8b0d-4f5a-9d1e-2f3a4b5c6d7e')
    const usage = { prompt_tokens: 52, completion_tokens: 9, total_tokens: 61 }
    const expected: ChatChunk[] = [
      chunk({ role: 'assistant', content: '' }),
      chunk({ content: 'Paris is warmer:' }),
      chunk({ content: ' 21 °C against' }),
      chunk({ content: ' 9 °C.' }),
      chunk({}, 'length'),
      { ...chunk({}), choices: [], usage },
    ]
    for (const [how, chunks] of awkwardSplits(readFixture('cohere/stream-text.sse'))) {
      const translator = cohereAdapter.chatStream(chatToolsRequest())
      assert.deepEqual(withFixedCreated(translate(translator, chunks)), expected, how)
      assert.equal(translator.finished, true)
    }
  })

  it('is not finished without message-end', () => {
    const translator = cohereAdapter.chatStream(chatToolsRequest())
    const transcript = readFixture('cohere/stream-text.sse')
    translate(translator, [transcript.slice(0, transcript.indexOf('event: message-end'))])
    assert.equal(translator.finished, false)
    assert.equal(translator.usage, null)
  })

  it('reports a generation that failed midway', () => {
    const translator = cohereAdapter.chatStream(chatToolsRequest())
    assert.throws(
      () => translator.push({ event: 'message-end', data: '{"type":"message-end","delta":{"finish_reason":"ERROR","error":"internal server error"}}' }),
      ProviderResponseError,
    )
  })
})

describe('cohere embeddings', () => {
  const embedTarget = { endpoint: 'https://api.cohere.com/v2/embed', model: 'embed-v4.0' }

  it('embeds texts as search documents, with the output dimension when the target has one', () => {
    assert.deepEqual(cohereAdapter.embeddingsRequest(['hello', 'goodbye'], { ...embedTarget, dimensions: 1024 }), {
      url: 'https://api.cohere.com/v2/embed',
      headers: { 'content-type': 'application/json' },
      body: { model: 'embed-v4.0', texts: ['hello', 'goodbye'], input_type: 'search_document', embedding_types: ['float'], output_dimension: 1024 },
    })
    assert.deepEqual(cohereAdapter.embeddingsRequest(['a'], embedTarget).body, {
      model: 'embed-v4.0',
      texts: ['a'],
      input_type: 'search_document',
      embedding_types: ['float'],
    })
    assert.equal(cohereAdapter.embeddingsBatchLimit, 96)
  })

  it('reads float vectors and billed input tokens', () => {
    assert.deepEqual(cohereAdapter.embeddingsResponse(jsonFixture('cohere/embed-response.json'), 2), {
      vectors: [
        [0.016296387, -0.008354187, -0.04699707],
        [-0.03125, 0.0625, 0.5],
      ],
      usage: { prompt_tokens: 2, total_tokens: 2 },
    })
  })
})

describe('cohere errors', () => {
  it('reads the message and takes the type from the status', () => {
    assert.deepEqual(cohereAdapter.error(400, { id: 'a1', message: "invalid request: model 'command-z' not found" }), {
      message: "invalid request: model 'command-z' not found",
      type: 'invalid_request_error',
      code: null,
    })
    assert.deepEqual(cohereAdapter.error(429, { message: 'You are using a Trial key, which is limited to 10 API calls / minute.' }).type, 'rate_limit_error')
    assert.deepEqual(cohereAdapter.error(498, { message: 'invalid api token' }).type, 'authentication_error')
    assert.deepEqual(cohereAdapter.error(500, null), { message: 'provider answered with HTTP 500', type: 'api_error', code: null })
  })
})
