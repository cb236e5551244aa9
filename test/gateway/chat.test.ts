import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { DATABASES } from '../helpers/databases.js'
import { eventually, type GatewayFixture, json, putMockInstance, readSse, startGateway } from '../helpers/gateway.js'

const FORMATS = ['openai', 'anthropic', 'cohere', 'gemini'] as const

for (const kind of DATABASES) {
  describe(`gateway chat completions on the ${kind} database`, () => {
    let fx: GatewayFixture
    before(async () => {
      fx = await startGateway(kind, ['alice', 'bob', 'carol'])
      for (const format of FORMATS) await putMockInstance(fx, 'alice', `chat-${format}`, { format })
    })
    after(() => fx?.close())

    const chat = (body: Record<string, unknown>, user = 'alice', headers: Record<string, string> = {}) =>
      fetch(`${fx.server.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${fx.keys[user]}`, 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      })
    const logged = (requestId: string) =>
      eventually(async () => {
        const response = await fx.server.request('GET', '/v1/requests/alice?limit=50', { key: fx.keys.alice })
        return response.body.requests.find((row: { request_id: string }) => row.request_id === requestId)
      })

    for (const format of FORMATS) {
      it(`answers through a ${format} instance, not streamed, with usage and a logged row`, async () => {
        const response = await chat({ model: `chat-${format}`, messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'say hello please' }] })
        const body = await json(response)
        assert.equal(response.status, 200, JSON.stringify(body))
        assert.equal(body.object, 'chat.completion')
        assert.equal(body.model, `chat-${format}`)
        assert.match(body.choices[0].message.content, new RegExp(`Hello from mock ${format}: say hello please`))
        assert.equal(body.choices[0].finish_reason, 'stop')
        // The mock counts words: 5 in the prompt; the answer's words in the completion.
        assert.equal(body.usage.prompt_tokens, 5)
        assert.ok(body.usage.completion_tokens > 0)
        const upstream = fx.mock.received.at(-1)
        assert.equal(upstream?.format, format)
        const row = await logged(response.headers.get('x-request-id') as string)
        assert.equal(row.status, 200)
        assert.equal(row.prompt_tokens, 5)
        assert.equal(row.instance, `alice/chat-${format}`)
      })

      it(`streams through a ${format} instance with usage counted though the client did not ask`, async () => {
        const response = await chat({ model: `chat-${format}`, stream: true, messages: [{ role: 'user', content: 'stream this answer' }] })
        assert.equal(response.status, 200)
        assert.match(response.headers.get('content-type') ?? '', /text\/event-stream/)
        const events = await readSse(response)
        assert.equal(events.at(-1)?.data, '[DONE]')
        const chunks = events.slice(0, -1).map((event) => JSON.parse(event.data))
        assert.ok(chunks.every((chunk) => chunk.object === 'chat.completion.chunk' && chunk.usage === undefined), 'no usage chunk when not asked')
        const text = chunks.map((chunk) => chunk.choices[0]?.delta?.content ?? '').join('')
        assert.match(text, new RegExp(`Hello from mock ${format}: stream this answer`))
        assert.equal(chunks.at(-1).choices[0].finish_reason, 'stop')
        const row = await logged(response.headers.get('x-request-id') as string)
        assert.equal(row.stream, true)
        assert.equal(row.prompt_tokens, 3)
        assert.ok(row.completion_tokens > 0)
        assert.ok(row.ttft_ms !== null)
      })
    }
  })
}
