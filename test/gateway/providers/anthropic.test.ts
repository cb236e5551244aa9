import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { anthropicAdapter, ProviderResponseError } from '../../../src/gateway/providers/index.js'
import type { ChatChunk, ChatRequest } from '../../../src/gateway/providers/types.js'
import { awkwardSplits, chatToolsRequest, jsonFixture, jsonSchemaRequest, readFixture, translate, withFixedCreated } from '../fixtures/helpers.js'

const target = { endpoint: 'https://api.anthropic.com/v1/messages', model: 'claude-sonnet-4-6' }
const headers = { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' }
const bodyOf = (request: ChatRequest, stream = false) => anthropicAdapter.chatRequest(request, target, stream).body

describe('anthropic chat request', () => {
  it('translates system, multimodal content, parallel tool calls and results, tools and choices', () => {
    const upstream = anthropicAdapter.chatRequest(chatToolsRequest(), target, false)
    assert.equal(upstream.url, target.endpoint)
    assert.deepEqual(upstream.headers, headers)
    assert.deepEqual(upstream.body, jsonFixture('anthropic/chat-tools.request.json'))
  })

  it('maps a JSON schema to structured output, and defaults max_tokens', () => {
    const { max_tokens: _, ...request } = jsonSchemaRequest()
    assert.deepEqual(bodyOf(request, true), {
      model: 'claude-sonnet-4-6',
      max_tokens: 4096,
      system: 'Extract calendar events.',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Alice and Bob meet for lunch on Friday.' }] }],
      stream: true,
      output_config: {
        format: {
          type: 'json_schema',
          schema: {
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
      },
    })
  })

  it('maps each tool choice', () => {
    const base: ChatRequest = { ...chatToolsRequest(), parallel_tool_calls: undefined }
    const choiceOf = (request: ChatRequest) => (bodyOf(request) as { tool_choice?: unknown }).tool_choice
    assert.deepEqual(choiceOf({ ...base, tool_choice: 'auto' }), { type: 'auto' })
    assert.deepEqual(choiceOf({ ...base, tool_choice: 'none' }), { type: 'none' })
    assert.deepEqual(choiceOf({ ...base, tool_choice: 'required' }), { type: 'any' })
    assert.deepEqual(choiceOf({ ...base, tool_choice: { type: 'function', function: { name: 'get_time' } } }), { type: 'tool', name: 'get_time' })
    assert.deepEqual(choiceOf({ ...base, tool_choice: undefined }), undefined)
    assert.deepEqual(choiceOf({ ...base, tool_choice: undefined, parallel_tool_calls: false }), { type: 'auto', disable_parallel_tool_use: true })
    assert.deepEqual(choiceOf({ ...base, tools: undefined, tool_choice: 'auto' }), undefined)
  })

  it('merges consecutive messages of one role, keeps cache breakpoints and sends top_p without temperature', () => {
    const request: ChatRequest = {
      model: 'x',
      top_p: 0.5,
      max_tokens: 100,
      messages: [
        { role: 'system', content: [{ type: 'text', text: 'Long policy.', cache_control: { type: 'ephemeral' } } as never] },
        { role: 'user', content: 'one' },
        { role: 'user', content: [{ type: 'text', text: 'two' }, { type: 'text', text: '' }] },
        { role: 'assistant', content: 'three' },
        { role: 'assistant', content: '' },
      ],
    }
    assert.deepEqual(bodyOf(request), {
      model: 'claude-sonnet-4-6',
      max_tokens: 100,
      top_p: 0.5,
      system: [{ type: 'text', text: 'Long policy.', cache_control: { type: 'ephemeral' } }],
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'one' }, { type: 'text', text: 'two' }] },
        { role: 'assistant', content: [{ type: 'text', text: 'three' }] },
      ],
    })
  })
})

describe('anthropic chat response', () => {
  it('joins text, turns tool_use into tool calls, maps the stop reason and counts cache tokens in the prompt', () => {
    const completion = anthropicAdapter.chatResponse(jsonFixture('anthropic/response-tools.json'), chatToolsRequest())
    assert.deepEqual(withFixedCreated([completion]), [
      {
        id: 'msg_01Aq9w938a90dw8q',
        object: 'chat.completion',
        created: 0,
        model: 'claude-sonnet-4-6',
        choices: [
          {
            index: 0,
            message: {
              role: 'assistant',
              content: "I'll check both cities.",
              tool_calls: [
                { id: 'toolu_01A09q90qw90lq917835lq9', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
                { id: 'toolu_01B18r81rx81mr826724mr8', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo","unit":"celsius"}' } },
              ],
            },
            finish_reason: 'tool_calls',
          },
        ],
        usage: { prompt_tokens: 3484, completion_tokens: 96, total_tokens: 3580, cached_tokens: 2048, cache_write_tokens: 1024 },
      },
    ])
  })

  it('maps every stop reason', () => {
    const finishOf = (stop_reason: unknown) =>
      anthropicAdapter.chatResponse({ content: [{ type: 'text', text: 'x' }], stop_reason }, chatToolsRequest()).choices[0]?.finish_reason
    assert.deepEqual(
      ['end_turn', 'stop_sequence', 'max_tokens', 'tool_use', 'refusal', 'pause_turn', undefined].map(finishOf),
      ['stop', 'stop', 'length', 'tool_calls', 'content_filter', 'stop', 'stop'],
    )
  })

  it('degrades on an empty body', () => {
    const completion = anthropicAdapter.chatResponse({}, chatToolsRequest())
    assert.equal(completion.model, 'travel-assistant')
    assert.deepEqual(completion.choices, [{ index: 0, message: { role: 'assistant', content: null }, finish_reason: 'stop' }])
    assert.equal(completion.usage, undefined)
  })
})

describe('anthropic stream', () => {
  const transcript = readFixture('anthropic/stream-tools.sse')
  const chunk = (delta: ChatChunk['choices'][number]['delta'], finish_reason: ChatChunk['choices'][number]['finish_reason'] = null): ChatChunk => ({
    id: 'msg_014p7gG3wDgGV9EUtLvnow3U',
    object: 'chat.completion.chunk',
    created: 0,
    model: 'claude-sonnet-4-6',
    choices: [{ index: 0, delta, finish_reason }],
  })
  const usage = { prompt_tokens: 2272, completion_tokens: 89, total_tokens: 2361, cached_tokens: 1800 }
  const expected: ChatChunk[] = [
    chunk({ role: 'assistant', content: '' }),
    chunk({ content: 'Checking Zürich' }),
    chunk({ content: ' and Oslo.' }),
    chunk({ tool_calls: [{ index: 0, id: 'toolu_01T1x1fJ34qAmk2tNTrN7Up6', type: 'function', function: { name: 'get_weather', arguments: '' } }] }),
    chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city": "Z' } }] }),
    chunk({ tool_calls: [{ index: 0, function: { arguments: 'ürich"}' } }] }),
    chunk({ tool_calls: [{ index: 1, id: 'toolu_01V2y2gK45rBnl3uOUsO8Vq7', type: 'function', function: { name: 'get_weather', arguments: '' } }] }),
    chunk({ tool_calls: [{ index: 1, function: { arguments: '{"city":' } }] }),
    chunk({ tool_calls: [{ index: 1, function: { arguments: ' "Oslo", "unit"' } }] }),
    chunk({ tool_calls: [{ index: 1, function: { arguments: ': "celsius"}' } }] }),
    chunk({}, 'tool_calls'),
    { ...chunk({}), choices: [], usage },
  ]

  it('translates text and parallel tool calls (numbered apart from thinking blocks), however the stream is split', () => {
    for (const [how, chunks] of awkwardSplits(transcript)) {
      const translator = anthropicAdapter.chatStream(chatToolsRequest())
      assert.deepEqual(withFixedCreated(translate(translator, chunks)), expected, how)
      assert.equal(translator.finished, true)
      assert.deepEqual(translator.usage, usage)
    }
  })

  it('is not finished without message_stop, and still reports the usage it saw', () => {
    const translator = anthropicAdapter.chatStream(chatToolsRequest())
    const cut = transcript.slice(0, transcript.indexOf('event: content_block_start'))
    assert.deepEqual(withFixedCreated(translate(translator, [cut])), [
      chunk({ role: 'assistant', content: '' }),
      { ...chunk({}), choices: [], usage: { prompt_tokens: 2272, completion_tokens: 2, total_tokens: 2274, cached_tokens: 1800 } },
    ])
    assert.equal(translator.finished, false)
  })

  it('reports an error event', () => {
    const translator = anthropicAdapter.chatStream(chatToolsRequest())
    assert.throws(
      () => translator.push({ event: 'error', data: '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}' }),
      (error: unknown) => {
        assert.ok(error instanceof ProviderResponseError)
        assert.deepEqual(error.providerError, { message: 'Overloaded', type: 'api_error', code: 'overloaded_error' })
        return true
      },
    )
  })
})

describe('anthropic embeddings and errors', () => {
  it('has no embeddings', () => {
    assert.equal(anthropicAdapter.embeddingsBatchLimit, 0)
    assert.throws(() => anthropicAdapter.embeddingsRequest(['a'], target), /Anthropic offers no embeddings API/)
  })

  it('reads the error envelope into OpenAI types', () => {
    assert.deepEqual(anthropicAdapter.error(400, { type: 'error', error: { type: 'invalid_request_error', message: 'max_tokens: Field required' } }), {
      message: 'max_tokens: Field required',
      type: 'invalid_request_error',
      code: 'invalid_request_error',
    })
    assert.deepEqual(anthropicAdapter.error(413, { type: 'error', error: { type: 'request_too_large', message: 'Request exceeds the maximum allowed number of bytes.' } }), {
      message: 'Request exceeds the maximum allowed number of bytes.',
      type: 'invalid_request_error',
      code: 'request_too_large',
    })
    assert.deepEqual(anthropicAdapter.error(429, { type: 'error', error: { type: 'rate_limit_error', message: 'Number of request tokens has exceeded your per-minute rate limit' } }).type, 'rate_limit_error')
    assert.deepEqual(anthropicAdapter.error(401, 'Unauthorized'), { message: 'Unauthorized', type: 'authentication_error', code: null })
  })
})
