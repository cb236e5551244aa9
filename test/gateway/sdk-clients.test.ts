import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import Anthropic from '@anthropic-ai/sdk'
import OpenAI from 'openai'
import { DATABASES } from '../helpers/databases.js'
import { type GatewayFixture, putMockInstance, startGateway } from '../helpers/gateway.js'

/**
 * The official OpenAI and Anthropic SDKs, pointed at the gateway as their users point them:
 * the calls their users make first work, and what the SDKs read from answers (ids, errors,
 * request ids) is where they look for it.
 */
for (const kind of DATABASES) {
  describe(`the OpenAI and Anthropic SDKs against the gateway on the ${kind} database`, () => {
    let fx: GatewayFixture
    let openai: OpenAI
    let anthropic: Anthropic
    before(async () => {
      fx = await startGateway(kind, ['alice', 'bob'])
      await putMockInstance(fx, 'alice', 'chat')
      await putMockInstance(fx, 'alice', 'claude', { format: 'anthropic' })
      await putMockInstance(fx, 'bob', 'private')
      // No retries: an error should reach the test as it came.
      openai = new OpenAI({ baseURL: `${fx.server.url}/v1`, apiKey: fx.keys.alice as string, maxRetries: 0 })
      anthropic = new Anthropic({ baseURL: fx.server.url, apiKey: fx.keys.alice as string, maxRetries: 0 })
    })
    after(async () => fx?.close())

    it('lists models and retrieves one by id (models.retrieve), own and shared alike', async () => {
      const ids: string[] = []
      for await (const model of openai.models.list()) ids.push(model.id)
      assert.deepEqual(ids.sort(), ['chat', 'claude'])
      const one = await openai.models.retrieve('chat')
      assert.equal(one.id, 'chat')
      assert.equal(one.owned_by, 'alice')
      assert.equal((await openai.models.retrieve('alice/claude')).id, 'claude', 'the qualified name finds an own instance too')
    })

    it("answers a model the caller may not use with the SDK's NotFoundError, whoever owns it", async () => {
      for (const id of ['nope', 'bob/private']) {
        const error = await openai.models.retrieve(id).then(() => null, (e: unknown) => e)
        assert.ok(error instanceof OpenAI.NotFoundError, `${id}: ${String(error)}`)
        assert.equal(error.code, 'model_not_found')
        assert.ok(error.requestID, 'the SDK found the request id')
      }
    })

    it('makes a chat completion and reads its request id', async () => {
      const { data, request_id } = await openai.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }).withResponse()
      assert.equal(data.object, 'chat.completion')
      assert.ok(data.choices[0]?.message.content)
      assert.ok(request_id)
    })

    it('creates a message, counts tokens, and reads the request id from request-id', async () => {
      const { data, request_id } = await anthropic.messages.create({ model: 'claude', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] }).withResponse()
      assert.equal(data.type, 'message')
      assert.ok(request_id, 'the Anthropic SDK reads request-id')
      const counted = await anthropic.messages.countTokens({ model: 'claude', system: 'Be brief.', messages: [{ role: 'user', content: 'How many tokens is this sentence?' }] })
      assert.ok(counted.input_tokens > 0)
      const longer = await anthropic.messages.countTokens({ model: 'claude', messages: [{ role: 'user', content: 'How many tokens is this sentence? '.repeat(50) }] })
      assert.ok(longer.input_tokens > counted.input_tokens * 10, 'the count grows with the text')
    })

    it("answers errors in the Anthropic SDK's shape, with the request id", async () => {
      const error = await anthropic.messages.countTokens({ model: 'bob/private', messages: [{ role: 'user', content: 'hi' }] }).then(() => null, (e: unknown) => e)
      assert.ok(error instanceof Anthropic.NotFoundError, String(error))
      assert.equal(error.error && (error.error as { type?: string }).type, 'error')
      assert.ok(error.requestID, 'the SDK found the request id')
      const unknown = await anthropic.messages.batches.list().then(() => null, (e: unknown) => e)
      assert.ok(unknown instanceof Anthropic.NotFoundError, 'an unknown route answers in the envelope too')
    })
  })
}
