import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ChunksToAnthropicEvents, chatToMessage, messagesToChat } from '../../../src/gateway/providers/anthropic/ingress.js'
import { anthropicAdapter } from '../../../src/gateway/providers/index.js'
import type { ChatChunk, ChatCompletion } from '../../../src/gateway/providers/types.js'
import { formatSse } from '../../../src/gateway/sse.js'
import { awkwardSplits, chatToolsRequest, jsonFixture, translate } from '../fixtures/helpers.js'

describe('messagesToChat', () => {
  it('reads system blocks, images, documents, tool use and results, tools, choices and output format', () => {
    assert.deepEqual(messagesToChat(jsonFixture('ingress/messages-request.json')), jsonFixture('ingress/chat-request.expected.json'))
  })

  it('reads a plain system string, each tool choice and the beta output format', () => {
    const base = { model: 'claude-haiku-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }
    assert.deepEqual(messagesToChat({ ...base, system: 'Be brief.' }), {
      model: 'claude-haiku-4-5',
      max_tokens: 10,
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'hi' },
      ],
    })
    const tools = [{ name: 'get_time', input_schema: { type: 'object' } }]
    const choiceOf = (tool_choice: unknown) => messagesToChat({ ...base, tools, tool_choice }).tool_choice
    assert.equal(choiceOf({ type: 'auto' }), 'auto')
    assert.equal(choiceOf({ type: 'none' }), 'none')
    assert.deepEqual(choiceOf({ type: 'tool', name: 'get_time' }), { type: 'function', function: { name: 'get_time' } })
    const serverToolsOnly = messagesToChat({ ...base, tools: [{ type: 'web_search_20250305', name: 'web_search' }], tool_choice: { type: 'any' } })
    assert.equal('tools' in serverToolsOnly || 'tool_choice' in serverToolsOnly, false)
    assert.deepEqual(messagesToChat({ ...base, output_format: { type: 'json_schema', schema: { type: 'object' } } }).response_format, {
      type: 'json_schema',
      json_schema: { name: 'response', schema: { type: 'object' }, strict: true },
    })
  })

  it('gives the Anthropic adapter back what the client sent, less what the chat shape cannot hold', () => {
    const body = anthropicAdapter.chatRequest(messagesToChat(jsonFixture('ingress/messages-request.json')), { endpoint: 'https://api.anthropic.com/v1/messages', model: 'claude-sonnet-4-6' }, true)
      .body as Record<string, unknown>
    assert.deepEqual(body.messages, [
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is the weather where this photo was taken, and in Oslo?' },
          { type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: '/9j/4AAQSkZJRg==' } },
          { type: 'image', source: { type: 'url', url: 'https://example.com/photos/harbour.png' } },
          { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0=' } },
        ],
      },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'Let me check both.' },
          { type: 'tool_use', id: 'toolu_paris', name: 'get_weather', input: { city: 'Paris' } },
          { type: 'tool_use', id: 'toolu_oslo', name: 'get_weather', input: { city: 'Oslo', unit: 'celsius' } },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'toolu_paris', content: '{"temperature":21,"sky":"clear"}' },
          { type: 'tool_result', tool_use_id: 'toolu_oslo', content: 'light rain\n9 °C' },
          { type: 'text', text: 'Thanks. Which one is warmer?' },
        ],
      },
      { role: 'assistant', content: [{ type: 'text', text: 'Paris, by 12 degrees.' }] },
      { role: 'user', content: [{ type: 'text', text: 'And tomorrow?' }] },
    ])
    assert.deepEqual(body.tool_choice, { type: 'any', disable_parallel_tool_use: true })
    assert.deepEqual(body.stop_sequences, ['END', 'STOP'])
  })
})

describe('chatToMessage', () => {
  const completion: ChatCompletion = {
    id: 'chatcmpl-7QyqpwdfhqwajicIEznoc6Q47XAyW',
    object: 'chat.completion',
    created: 1735689600,
    model: 'gpt-4.1-2025-04-14',
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: 'Checking both.',
          tool_calls: [
            { id: 'call_paris', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
            { id: 'call_oslo', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo","unit":"celsius"}' } },
          ],
        },
        finish_reason: 'tool_calls',
      },
    ],
    usage: { prompt_tokens: 3484, completion_tokens: 96, total_tokens: 3580, cached_tokens: 2048, cache_write_tokens: 1024 },
  }

  it('writes an Anthropic message with content blocks, stop reason and usage apart from cache tokens', () => {
    assert.deepEqual(chatToMessage(completion, 'claude-sonnet-4-6'), {
      id: 'chatcmpl-7QyqpwdfhqwajicIEznoc6Q47XAyW',
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-6',
      content: [
        { type: 'text', text: 'Checking both.' },
        { type: 'tool_use', id: 'call_paris', name: 'get_weather', input: { city: 'Paris' } },
        { type: 'tool_use', id: 'call_oslo', name: 'get_weather', input: { city: 'Oslo', unit: 'celsius' } },
      ],
      stop_reason: 'tool_use',
      stop_sequence: null,
      usage: { input_tokens: 412, output_tokens: 96, cache_read_input_tokens: 2048, cache_creation_input_tokens: 1024 },
    })
  })

  it('maps finish reasons and degrades on a completion without choices or usage', () => {
    const stopOf = (finish_reason: ChatCompletion['choices'][number]['finish_reason']) =>
      chatToMessage({ ...completion, choices: [{ index: 0, message: { role: 'assistant', content: 'x' }, finish_reason }] }, 'm').stop_reason
    assert.deepEqual((['stop', 'length', 'tool_calls', 'content_filter', null] as const).map(stopOf), ['end_turn', 'max_tokens', 'tool_use', 'refusal', 'end_turn'])
    const { usage: _, ...withoutUsage } = completion
    assert.deepEqual(chatToMessage({ ...withoutUsage, choices: [] }, 'm'), {
      id: completion.id,
      type: 'message',
      role: 'assistant',
      model: 'm',
      content: [],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: 0, output_tokens: 0, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 },
    })
  })
})

describe('ChunksToAnthropicEvents', () => {
  const chunk = (delta: ChatChunk['choices'][number]['delta'], finish_reason: ChatChunk['choices'][number]['finish_reason'] = null): ChatChunk => ({
    id: 'chatcmpl-BpQ4kYw',
    object: 'chat.completion.chunk',
    created: 1735689601,
    model: 'gpt-4.1-2025-04-14',
    choices: [{ index: 0, delta, finish_reason }],
  })
  const usage = { prompt_tokens: 2272, completion_tokens: 89, total_tokens: 2361, cached_tokens: 1800 }
  const chunks: ChatChunk[] = [
    chunk({ role: 'assistant', content: '' }),
    chunk({ content: 'Checking Zürich' }),
    chunk({ content: ' and Oslo.' }),
    chunk({ tool_calls: [{ index: 0, id: 'call_zrh', type: 'function', function: { name: 'get_weather', arguments: '' } }] }),
    chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city": "Z' } }] }),
    chunk({ tool_calls: [{ index: 0, function: { arguments: 'ürich"}' } }] }),
    chunk({ tool_calls: [{ index: 1, id: 'call_osl', type: 'function', function: { name: 'get_weather', arguments: '{"city":' } }] }),
    chunk({ tool_calls: [{ index: 1, function: { arguments: ' "Oslo"}' } }] }),
    chunk({}, 'tool_calls'),
    { ...chunk({}), choices: [], usage },
  ]
  const event = (type: string, payload: Record<string, unknown>) => ({ event: type, data: { type, ...payload } })
  const expected = [
    event('message_start', {
      message: {
        id: 'chatcmpl-BpQ4kYw',
        type: 'message',
        role: 'assistant',
        model: 'claude-sonnet-4-6',
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: 0, output_tokens: 0, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 },
      },
    }),
    event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
    event('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Checking Zürich' } }),
    event('content_block_delta', { index: 0, delta: { type: 'text_delta', text: ' and Oslo.' } }),
    event('content_block_stop', { index: 0 }),
    event('content_block_start', { index: 1, content_block: { type: 'tool_use', id: 'call_zrh', name: 'get_weather', input: {} } }),
    event('content_block_delta', { index: 1, delta: { type: 'input_json_delta', partial_json: '{"city": "Z' } }),
    event('content_block_delta', { index: 1, delta: { type: 'input_json_delta', partial_json: 'ürich"}' } }),
    event('content_block_stop', { index: 1 }),
    event('content_block_start', { index: 2, content_block: { type: 'tool_use', id: 'call_osl', name: 'get_weather', input: {} } }),
    event('content_block_delta', { index: 2, delta: { type: 'input_json_delta', partial_json: '{"city":' } }),
    event('content_block_delta', { index: 2, delta: { type: 'input_json_delta', partial_json: ' "Oslo"}' } }),
    event('content_block_stop', { index: 2 }),
    event('message_delta', {
      delta: { stop_reason: 'tool_use', stop_sequence: null },
      usage: { input_tokens: 472, output_tokens: 89, cache_read_input_tokens: 1800, cache_creation_input_tokens: 0 },
    }),
    event('message_stop', {}),
  ]

  const run = () => {
    const writer = new ChunksToAnthropicEvents('claude-sonnet-4-6')
    return [...chunks.flatMap((c) => writer.push(c)), ...writer.end(usage)]
  }

  it('writes a complete Anthropic event sequence for text and parallel tool calls', () => {
    assert.deepEqual(
      run().map((e) => ({ event: e.event, data: JSON.parse(e.data) })),
      expected,
    )
  })

  it('writes a valid sequence for a stream that produced nothing', () => {
    const writer = new ChunksToAnthropicEvents('m')
    const events = writer.end(null).map((e) => ({ event: e.event, data: JSON.parse(e.data) as Record<string, unknown> }))
    assert.deepEqual(events.map((e) => e.event), ['message_start', 'message_delta', 'message_stop'])
    assert.deepEqual(events[1]?.data, {
      type: 'message_delta',
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: { input_tokens: 0, output_tokens: 0, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 },
    })
  })

  it('reads back through the Anthropic stream translator as the same answer', () => {
    const wire = run().map((e) => formatSse(e.data, e.event)).join('')
    for (const [how, pieces] of awkwardSplits(wire)) {
      const translator = anthropicAdapter.chatStream(chatToolsRequest())
      const back = translate(translator, pieces)
      const text = back.map((c) => c.choices[0]?.delta.content ?? '').join('')
      const calls = back.flatMap((c) => c.choices[0]?.delta.tool_calls ?? [])
      assert.equal(text, 'Checking Zürich and Oslo.', how)
      assert.deepEqual(calls.filter((c) => c.id).map((c) => [c.index, c.id, c.function?.name]), [[0, 'call_zrh', 'get_weather'], [1, 'call_osl', 'get_weather']], how)
      assert.equal(calls.filter((c) => c.index === 1).map((c) => c.function?.arguments).join(''), '{"city": "Oslo"}', how)
      assert.equal(back.find((c) => c.choices[0]?.finish_reason)?.choices[0]?.finish_reason, 'tool_calls', how)
      assert.deepEqual(translator.usage, usage, how)
      assert.equal(translator.finished, true, how)
    }
  })
})
