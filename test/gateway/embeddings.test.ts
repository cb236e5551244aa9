import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { DATABASES } from '../helpers/databases.js'
import { eventually, type GatewayFixture, json, putMockInstance, startGateway } from '../helpers/gateway.js'

for (const kind of DATABASES) {
  describe(`gateway embeddings on the ${kind} database`, () => {
    let fx: GatewayFixture
    before(async () => {
      fx = await startGateway(kind, ['alice'])
      for (const format of ['openai', 'cohere', 'gemini'] as const) {
        await putMockInstance(fx, 'alice', `embed-${format}`, { format, kind: 'embedding', tag: format })
      }
      await putMockInstance(fx, 'alice', 'embed-anthropic', { format: 'anthropic', kind: 'embedding' })
      await putMockInstance(fx, 'alice', 'chatty')
    })
    after(() => fx?.close())

    const embed = (body: Record<string, unknown>) =>
      fetch(`${fx.server.url}/v1/embeddings`, {
        method: 'POST',
        headers: { authorization: `Bearer ${fx.keys.alice}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })

    for (const format of ['openai', 'cohere', 'gemini'] as const) {
      it(`embeds through a ${format} instance in OpenAI's shape, with the instance's dimensions`, async () => {
        const response = await embed({ model: `embed-${format}`, input: ['first text here', 'second'] })
        const body = await json(response)
        assert.equal(response.status, 200, JSON.stringify(body))
        assert.equal(body.object, 'list')
        assert.equal(body.data.length, 2)
        assert.deepEqual(body.data.map((d: { index: number }) => d.index), [0, 1])
        assert.equal(body.data[0].embedding.length, 8)
        assert.notDeepEqual(body.data[0].embedding, body.data[1].embedding)
        const single = await json(await embed({ model: `embed-${format}`, input: 'second' }))
        assert.deepEqual(single.data[0].embedding, body.data[1].embedding, 'the same text gives the same vector')
      })
    }

    it('splits a long input into batches the provider takes, keeping the order', async () => {
      const texts = Array.from({ length: 250 }, (_, i) => `text number ${i}`)
      fx.mock.reset()
      const body = await json(await embed({ model: 'embed-cohere', input: texts }))
      assert.equal(body.data.length, 250)
      assert.equal(fx.mock.received.filter((r) => r.tag === 'cohere').length, 3, '96 texts per Cohere call')
      const last = await json(await embed({ model: 'embed-cohere', input: texts[249] }))
      assert.deepEqual(body.data[249].embedding, last.data[0].embedding)
      assert.equal(body.usage.prompt_tokens, 750)
    })

    it('answers base64 when asked, as little-endian float32', async () => {
      const floats = await json(await embed({ model: 'embed-openai', input: 'x y' }))
      const encoded = await json(await embed({ model: 'embed-openai', input: 'x y', encoding_format: 'base64' }))
      const decoded = Array.from(new Float32Array(Uint8Array.from(Buffer.from(encoded.data[0].embedding, 'base64')).buffer))
      floats.data[0].embedding.forEach((value: number, i: number) => assert.ok(Math.abs(value - (decoded[i] as number)) < 1e-6))
    })

    it('refuses a chat model, a provider without embeddings and token arrays, clearly', async () => {
      const chat = await embed({ model: 'chatty', input: 'x' })
      assert.equal(chat.status, 400)
      assert.match((await json(chat)).error.message, /chat model/)
      const anthropic = await embed({ model: 'embed-anthropic', input: 'x' })
      assert.equal(anthropic.status, 400)
      assert.match((await json(anthropic)).error.message, /no embeddings API/)
      const tokens = await embed({ model: 'embed-openai', input: [[1, 2, 3]] })
      assert.equal(tokens.status, 422)
    })

    it('logs embedding calls with their usage', async () => {
      const response = await embed({ model: 'embed-gemini', input: ['a b c'] })
      const id = response.headers.get('x-request-id')
      const row = await eventually(async () => {
        const list = await fx.server.request('GET', '/v1/requests/alice?operation=embeddings&limit=100', { key: fx.keys.alice })
        return list.body.requests.find((r: { request_id: string }) => r.request_id === id)
      })
      assert.equal(row.operation, 'embeddings')
      assert.equal(row.instance, 'alice/embed-gemini')
      assert.equal(row.status, 200)
    })
  })
}
