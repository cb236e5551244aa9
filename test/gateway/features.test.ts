import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { DATABASES } from '../helpers/databases.js'
import { eventually, type GatewayFixture, json, mockEndpoint, putMockInstance, readSse, startGateway } from '../helpers/gateway.js'

const FORMATS = ['openai', 'anthropic', 'cohere', 'gemini'] as const
const TOOLS = [
  { type: 'function', function: { name: 'search', description: 'search the web', parameters: { type: 'object', properties: { query: { type: 'string' }, n: { type: 'integer' } } } } },
  { type: 'function', function: { name: 'lookup', description: 'look a word up', parameters: { type: 'object', properties: { query: { type: 'string' }, n: { type: 'integer' } } } } },
]

for (const kind of DATABASES) {
  describe(`gateway features on the ${kind} database`, () => {
    let fx: GatewayFixture
    before(async () => {
      fx = await startGateway(kind, ['alice', 'bob', 'carol'])
      for (const format of FORMATS) await putMockInstance(fx, 'alice', `chat-${format}`, { format })
      await putMockInstance(fx, 'alice', 'cached', { tag: 'cached', extra: { cache_ttl_seconds: 60, prices: { input: 1000, output: 2000 } } })
      await putMockInstance(fx, 'alice', 'priced', { tag: 'priced', extra: { prices: { input: 1000, output: 2000 } } })
      const shared = await fx.server.request('POST', '/v1/llm-instances/alice/chat-openai/share', { key: fx.keys.alice, body: { share_with_handle: 'bob', role: 'reader' } })
      assert.equal(shared.status, 201, shared.text)
    })
    after(() => fx?.close())

    const post = (path: string, body: Record<string, unknown>, user = 'alice', headers: Record<string, string> = {}) =>
      fetch(`${fx.server.url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${fx.keys[user] ?? user}`, 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      })
    const chat = (body: Record<string, unknown>, user = 'alice', headers: Record<string, string> = {}) => post('/v1/chat/completions', body, user, headers)
    const loggedRow = (user: string, requestId: string) =>
      eventually(async () => {
        const response = await fx.server.request('GET', `/v1/requests/${user}?limit=200`, { key: fx.keys[user] })
        return response.body.requests.find((row: { request_id: string }) => row.request_id === requestId)
      })

    for (const format of FORMATS) {
      it(`translates parallel tool calls from ${format}, whole and streamed`, async () => {
        const body = { model: `chat-${format}`, tools: TOOLS, messages: [{ role: 'user', content: 'please call tools now' }] }
        const whole = await json(await chat(body))
        const calls = whole.choices[0].message.tool_calls
        assert.equal(whole.choices[0].finish_reason, 'tool_calls')
        assert.deepEqual(calls.map((c: { function: { name: string } }) => c.function.name), ['search', 'lookup'])
        assert.deepEqual(JSON.parse(calls[1].function.arguments), { query: 'please call tools now', n: 1 })
        assert.ok(calls.every((c: { id: string }) => typeof c.id === 'string' && c.id.length > 0))

        const streamed = await readSse(await chat({ ...body, stream: true, stream_options: { include_usage: true } }))
        assert.equal(streamed.at(-1)?.data, '[DONE]')
        const chunks = streamed.slice(0, -1).map((event) => JSON.parse(event.data))
        const args = new Map<number, string>()
        const names = new Map<number, string>()
        for (const chunk of chunks) {
          for (const call of chunk.choices[0]?.delta?.tool_calls ?? []) {
            if (call.function?.name) names.set(call.index, call.function.name)
            args.set(call.index, (args.get(call.index) ?? '') + (call.function?.arguments ?? ''))
          }
        }
        assert.deepEqual([...names.values()], ['search', 'lookup'])
        assert.deepEqual(JSON.parse(args.get(0) ?? ''), { query: 'please call tools now', n: 0 })
        const finish = chunks.flatMap((chunk) => chunk.choices.map((c: { finish_reason: string | null }) => c.finish_reason)).filter(Boolean)
        assert.deepEqual(finish, ['tool_calls'])
        const usage = chunks.at(-1)
        assert.deepEqual(usage.choices, [], 'include_usage: a last chunk with usage and no choices')
        assert.equal(usage.usage.prompt_tokens, 4)
      })
    }

    it('sends response_format, multimodal content and tool results on to the provider', async () => {
      const response = await chat({
        model: 'chat-anthropic',
        response_format: { type: 'json_schema', json_schema: { name: 'answer', schema: { type: 'object', properties: { answer: { type: 'string' } } } } },
        messages: [
          { role: 'user', content: [{ type: 'text', text: 'what is here' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } }] },
        ],
      })
      assert.equal(response.status, 200)
      const sent = fx.mock.received.at(-1)?.body as { messages: Array<{ content: Array<{ type: string; source?: { type: string; media_type: string } }> }> }
      const image = sent.messages[0]?.content.find((part) => part.type === 'image')
      assert.deepEqual(image?.source?.type, 'base64')
      assert.equal(image?.source?.media_type, 'image/png')
    })

    it('places each provider key as its API standard says, and a reader uses an instance without seeing its key', async () => {
      await chat({ model: 'chat-gemini', messages: [{ role: 'user', content: 'hi' }] })
      assert.equal(fx.mock.received.at(-1)?.headers['x-goog-api-key'], 'sk-alice-chat-gemini-secret')
      const byBob = await chat({ model: 'alice/chat-openai', messages: [{ role: 'user', content: 'hi from bob' }] }, 'bob')
      assert.equal(byBob.status, 200)
      const text = await byBob.text()
      assert.ok(!text.includes('sk-alice'), 'the key never reaches the reader')
      assert.equal(fx.mock.received.at(-1)?.headers.authorization, 'Bearer sk-alice-chat-openai-secret')
      const instance = await fx.server.request('GET', '/v1/llm-instances/alice/chat-openai', { key: fx.keys.bob })
      assert.ok(!instance.text.includes('sk-alice'))
      const models = await json(await fetch(`${fx.server.url}/v1/models`, { headers: { authorization: `Bearer ${fx.keys.bob}` } }))
      assert.deepEqual(models.data.map((m: { id: string }) => m.id), ['alice/chat-openai'])
      // Bob's calls are his: logged and counted under bob, not alice.
      const row = await loggedRow('bob', byBob.headers.get('x-request-id') as string)
      assert.equal(row.user, 'bob')
    })

    it('refuses a stranger, an unknown model and the admin key in the envelope OpenAI clients parse', async () => {
      const stranger = await chat({ model: 'alice/chat-anthropic', messages: [{ role: 'user', content: 'hi' }] }, 'carol')
      assert.equal(stranger.status, 404)
      const body = await json(stranger)
      assert.equal(body.error.code, 'model_not_found')
      assert.equal(body.error.type, 'invalid_request_error')
      assert.equal(typeof body.request_id, 'string')
      const noKey = await fetch(`${fx.server.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
      assert.equal(noKey.status, 401)
      assert.equal((await json(noKey)).error.type, 'authentication_error')
      const admin = await chat({ model: 'alice/chat-openai', messages: [{ role: 'user', content: 'hi' }] }, fx.server.adminKey)
      assert.equal(admin.status, 403)
      const invalid = await chat({ model: 'chat-openai', messages: [] })
      assert.equal(invalid.status, 422)
      assert.equal((await json(invalid)).error.type, 'invalid_request_error')
    })

    it('refuses an instance endpoint on a private address unless allowed', async () => {
      const { startTestServer } = await import('../helpers/server.js')
      const strict = await startTestServer(kind)
      try {
        const { createUser } = await import('../helpers/server.js')
        const user = await createUser(strict, 'dora')
        const refused = await strict.request('PUT', '/v1/llm-instances/dora/local', {
          key: user.key,
          body: { instance_handle: 'local', kind: 'chat', api_standard: 'openai', endpoint: mockEndpoint(fx.mock, 'openai'), model: 'm' },
        })
        assert.equal(refused.status, 400)
        assert.equal(refused.body.code, 'endpoint_not_allowed')
      } finally {
        await strict.close()
      }
    })

    it('answers a repeated call from the cache, per user, replays it as a stream, and bypasses on request', async () => {
      const body = { model: 'cached', messages: [{ role: 'user', content: 'cache me please' }] }
      const first = await chat(body)
      assert.equal(first.headers.get('x-llmbase-cache'), 'miss')
      const firstBody = await json(first)
      const calls = fx.mock.received.filter((r) => r.tag === 'cached').length
      const second = await chat(body)
      assert.equal(second.headers.get('x-llmbase-cache'), 'hit')
      assert.deepEqual((await json(second)).choices, firstBody.choices)
      const streamed = await chat({ ...body, stream: true })
      assert.equal(streamed.headers.get('x-llmbase-cache'), 'hit')
      const events = await readSse(streamed)
      const text = events.slice(0, -1).map((e) => JSON.parse(e.data).choices[0]?.delta?.content ?? '').join('')
      assert.equal(text, firstBody.choices[0].message.content)
      assert.equal(fx.mock.received.filter((r) => r.tag === 'cached').length, calls, 'no provider call for hits')
      const bypass = await chat(body, 'alice', { 'cache-control': 'no-cache' })
      assert.equal(bypass.headers.get('x-llmbase-cache'), 'bypass')
      assert.equal(fx.mock.received.filter((r) => r.tag === 'cached').length, calls + 1)
      const different = await chat({ ...body, temperature: 0.5 })
      assert.equal(different.headers.get('x-llmbase-cache'), 'miss', 'another parameter is another answer')
      // Another user never gets alice's cached answer.
      await fx.server.request('POST', '/v1/llm-instances/alice/cached/share', { key: fx.keys.alice, body: { share_with_handle: 'bob', role: 'reader' } })
      const bobs = await chat({ ...body, model: 'alice/cached' }, 'bob')
      assert.equal(bobs.headers.get('x-llmbase-cache'), 'miss')
      const hit = await loggedRow('alice', second.headers.get('x-request-id') as string)
      assert.equal(hit.cache, 'hit')
      assert.equal(hit.cost_usd, 0)
    })

    it('records cost from the instance prices for streamed and whole calls, and sums it in usage', async () => {
      const whole = await chat({ model: 'priced', messages: [{ role: 'user', content: 'one two three' }] })
      const wholeBody = await json(whole)
      const streamed = await chat({ model: 'priced', stream: true, messages: [{ role: 'user', content: 'one two three' }] })
      await readSse(streamed)
      const expected = (3 * 1000 + wholeBody.usage.completion_tokens * 2000) / 1_000_000
      for (const response of [whole, streamed]) {
        const row = await loggedRow('alice', response.headers.get('x-request-id') as string)
        assert.equal(row.prompt_tokens, 3)
        assert.ok(Math.abs(row.cost_usd - expected) < 1e-9, `${row.cost_usd} vs ${expected}`)
      }
      const usage = await fx.server.request('GET', '/v1/usage/alice?group_by=model', { key: fx.keys.alice })
      assert.equal(usage.status, 200)
      const priced = usage.body.rows.find((r: { key: string }) => r.key === 'priced')
      assert.equal(priced.requests, 2)
      assert.ok(Math.abs(priced.cost_usd - 2 * expected) < 1e-9)
      assert.ok(usage.body.totals.requests >= 2)
      const others = await fx.server.request('GET', '/v1/usage/alice', { key: fx.keys.carol })
      assert.equal(others.status, 404)
      const everyone = await fx.server.request('GET', '/v1/usage?group_by=user', { key: fx.server.adminKey })
      assert.ok(everyone.body.rows.some((r: { key: string }) => r.key === 'alice'))
      assert.equal((await fx.server.request('GET', '/v1/usage', { key: fx.keys.alice })).status, 403)
    })

    it('speaks Anthropic Messages in and out, whole and streamed, through any provider', async () => {
      const body = { model: 'chat-openai', max_tokens: 100, system: 'be brief', messages: [{ role: 'user', content: 'hello claude client' }] }
      const whole = await json(await post('/v1/messages', body))
      assert.equal(whole.type, 'message')
      assert.equal(whole.role, 'assistant')
      assert.match(whole.content[0].text, /Hello from mock openai: hello claude client/)
      assert.equal(whole.stop_reason, 'end_turn')
      assert.equal(whole.usage.input_tokens, 5)
      const events = await readSse(await post('/v1/messages', { ...body, stream: true }))
      assert.deepEqual([...new Set(events.map((e) => e.event))], ['message_start', 'content_block_start', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop'])
      const delta = JSON.parse(events.find((e) => e.event === 'message_delta')?.data ?? '{}')
      assert.equal(delta.usage.output_tokens > 0, true)
      const withAnthropicHeader = await fetch(`${fx.server.url}/v1/messages`, {
        method: 'POST',
        headers: { 'x-api-key': fx.keys.alice as string, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
      assert.equal(withAnthropicHeader.status, 200, 'an Anthropic SDK sends its key as x-api-key')
      const missing = await post('/v1/messages', { ...body, model: 'nope' })
      assert.equal(missing.status, 404)
      const error = await json(missing)
      assert.equal(error.type, 'error')
      assert.equal(error.error.type, 'not_found_error')
    })
  })
}
