import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { adapterFor, openaiAdapter, ProviderResponseError } from '../../../src/gateway/providers/index.js'
import type { ChatChunk } from '../../../src/gateway/providers/types.js'
import { awkwardSplits, chatToolsRequest, dataObjects, jsonFixture, jsonSchemaRequest, readFixture, translate } from '../fixtures/helpers.js'

const target = { endpoint: 'https://api.openai.com/v1/chat/completions', model: 'gpt-4.1' }

describe('adapterFor', () => {
  it('gives the OpenAI adapter to every standard but the three with their own protocols', () => {
    assert.equal(adapterFor('anthropic').name, 'anthropic')
    assert.equal(adapterFor('cohere').name, 'cohere')
    assert.equal(adapterFor('gemini').name, 'gemini')
    for (const standard of ['openai', 'ollama', 'my-vllm', 'azure-openai']) assert.equal(adapterFor(standard).name, 'openai')
  })
})

describe('openai chat request', () => {
  it('passes the request through with the target model, unknown fields kept', () => {
    const request = chatToolsRequest()
    const upstream = openaiAdapter.chatRequest(request, target, false)
    assert.equal(upstream.url, target.endpoint)
    assert.deepEqual(upstream.headers, { 'content-type': 'application/json' })
    assert.deepEqual(upstream.body, { ...chatToolsRequest(), model: 'gpt-4.1' })
    assert.equal(request.model, 'travel-assistant', 'the request is not changed in place')
  })

  it('always asks for usage on streams, even when the client said no', () => {
    const body = openaiAdapter.chatRequest(jsonSchemaRequest(), target, true).body as Record<string, unknown>
    assert.deepEqual(body, {
      model: 'gpt-4.1',
      messages: [
        { role: 'system', content: 'Extract calendar events.' },
        { role: 'user', content: 'Alice and Bob meet for lunch on Friday.' },
      ],
      response_format: jsonSchemaRequest().response_format,
      max_tokens: 300,
      stream: true,
      stream_options: { include_usage: true },
    })
  })

  it('sends no stream fields when the call does not stream', () => {
    const body = openaiAdapter.chatRequest(jsonSchemaRequest(), target, false).body as Record<string, unknown>
    assert.equal('stream' in body, false)
    assert.equal('stream_options' in body, false)
  })
})

describe('openai chat response', () => {
  it('keeps the body and lifts cached and reasoning counts into the usage', () => {
    const completion = openaiAdapter.chatResponse(jsonFixture('openai/response.json'), chatToolsRequest())
    assert.deepEqual(completion, {
      id: 'chatcmpl-BpQ3x2vUeR7aJ0kM',
      object: 'chat.completion',
      created: 1735689600,
      model: 'gpt-4.1-2025-04-14',
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: null,
            tool_calls: [{ id: 'call_paris', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }],
            refusal: null,
            annotations: [],
          },
          logprobs: null,
          finish_reason: 'tool_calls',
        },
      ],
      usage: {
        prompt_tokens: 182,
        completion_tokens: 17,
        total_tokens: 199,
        cached_tokens: 128,
        prompt_tokens_details: { cached_tokens: 128, audio_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
      },
      service_tier: 'default',
      system_fingerprint: 'fp_a1b2c3d4e5',
    })
  })

  it('degrades on a thin body from a compatible server', () => {
    const completion = openaiAdapter.chatResponse({ choices: [{ message: { content: 'hi' } }] }, chatToolsRequest())
    assert.match(completion.id, /^chatcmpl-/)
    assert.equal(completion.model, 'travel-assistant')
    assert.deepEqual(completion.choices, [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: null }])
    assert.equal(completion.usage, undefined)
    assert.deepEqual(openaiAdapter.chatResponse(null, chatToolsRequest()).choices, [])
  })
})

describe('openai stream', () => {
  const transcript = readFixture('openai/stream-tools.sse')
  // The chunks are OpenAI's own: passed on as sent, only the usage gains the flat counts.
  const upstream = dataObjects(transcript) as ChatChunk[]
  const expected: ChatChunk[] = upstream.map((chunk, i) =>
    i === upstream.length - 1 ? { ...chunk, usage: { ...chunk.usage!, cached_tokens: 192 } } : chunk,
  )

  it('passes chunks through, reads the usage and the end marker, however the stream is split', () => {
    for (const [how, chunks] of awkwardSplits(transcript)) {
      const translator = openaiAdapter.chatStream(chatToolsRequest())
      assert.deepEqual(translate(translator, chunks), expected, how)
      assert.equal(translator.finished, true)
      assert.deepEqual(translator.usage, {
        prompt_tokens: 214,
        completion_tokens: 58,
        total_tokens: 272,
        cached_tokens: 192,
        prompt_tokens_details: { cached_tokens: 192, audio_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
      })
    }
  })

  it('carries the parallel tool calls with their split arguments', () => {
    const args = new Map<number, string>()
    for (const chunk of translate(openaiAdapter.chatStream(chatToolsRequest()), [transcript])) {
      for (const call of chunk.choices[0]?.delta.tool_calls ?? []) args.set(call.index, (args.get(call.index) ?? '') + (call.function?.arguments ?? ''))
    }
    assert.deepEqual([...args], [[0, '{"city": "Zürich"}'], [1, '{"city": "Oslo", "unit": "celsius"}']])
  })

  it('is not finished when the stream stops without [DONE]', () => {
    const translator = openaiAdapter.chatStream(chatToolsRequest())
    translate(translator, [transcript.replace('data: [DONE]\n\n', '')])
    assert.equal(translator.finished, false)
  })

  it('reports an error sent inside the stream', () => {
    const translator = openaiAdapter.chatStream(chatToolsRequest())
    assert.throws(
      () => translator.push({ data: '{"error":{"message":"The server had an error","type":"server_error","code":null}}' }),
      (error: unknown) => {
        assert.ok(error instanceof ProviderResponseError)
        assert.deepEqual(error.providerError, { message: 'The server had an error', type: 'server_error', code: null })
        return true
      },
    )
  })
})

describe('openai embeddings', () => {
  it('asks with dimensions only when the target has them', () => {
    const embeddingTarget = { endpoint: 'https://api.openai.com/v1/embeddings', model: 'text-embedding-3-small' }
    assert.deepEqual(openaiAdapter.embeddingsRequest(['a', 'b'], embeddingTarget), {
      url: 'https://api.openai.com/v1/embeddings',
      headers: { 'content-type': 'application/json' },
      body: { model: 'text-embedding-3-small', input: ['a', 'b'] },
    })
    assert.deepEqual(openaiAdapter.embeddingsRequest(['a'], { ...embeddingTarget, dimensions: 512 }).body, {
      model: 'text-embedding-3-small',
      input: ['a'],
      dimensions: 512,
    })
    assert.deepEqual(openaiAdapter.embeddingsRequest(['a'], { ...embeddingTarget, dimensions: null }).body, {
      model: 'text-embedding-3-small',
      input: ['a'],
    })
    assert.equal(openaiAdapter.embeddingsBatchLimit, 2048)
  })

  it('reads the vectors in index order', () => {
    assert.deepEqual(openaiAdapter.embeddingsResponse(jsonFixture('openai/embeddings-response.json'), 2), {
      vectors: [
        [0.0023064255, -0.009327292, 0.015797347],
        [0.25, -0.5, 0.125],
      ],
      usage: { prompt_tokens: 9, total_tokens: 9 },
    })
  })

  it('refuses a body with fewer vectors than texts', () => {
    assert.throws(() => openaiAdapter.embeddingsResponse(jsonFixture('openai/embeddings-response.json'), 3), ProviderResponseError)
  })
})

describe('openai errors', () => {
  it('reads the error envelope', () => {
    assert.deepEqual(
      openaiAdapter.error(429, { error: { message: 'Rate limit reached for gpt-4.1', type: 'requests', code: 'rate_limit_exceeded', param: null } }),
      { message: 'Rate limit reached for gpt-4.1', type: 'requests', code: 'rate_limit_exceeded' },
    )
    assert.deepEqual(openaiAdapter.error(401, { error: { message: 'Incorrect API key provided', type: 'invalid_request_error', code: 'invalid_api_key' } }), {
      message: 'Incorrect API key provided',
      type: 'invalid_request_error',
      code: 'invalid_api_key',
    })
  })

  it('reads the shapes compatible servers send, and bodies that are not JSON', () => {
    assert.deepEqual(openaiAdapter.error(404, { error: 'model "llama9" not found, try pulling it first' }), {
      message: 'model "llama9" not found, try pulling it first',
      type: 'not_found_error',
      code: null,
    })
    assert.deepEqual(openaiAdapter.error(502, '<html>Bad Gateway</html>'), { message: '<html>Bad Gateway</html>', type: 'api_error', code: null })
    assert.deepEqual(openaiAdapter.error(503, undefined), { message: 'provider answered with HTTP 503', type: 'api_error', code: null })
  })
})
