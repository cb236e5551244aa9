import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createTestDatabase, DATABASES } from '../helpers/databases.js'
import { GATEWAY_TEST_ENV, json, mockEndpoint } from '../helpers/gateway.js'
import { createUser, startTestServer } from '../helpers/server.js'
import { startMockProvider } from '../../src/mock-provider/index.js'

// Several servers on one PostgreSQL: what one learns or counts, the others see.
for (const kind of DATABASES.filter((k) => k === 'postgres')) {
  describe('the gateway on two server processes sharing one PostgreSQL database', () => {
    it('shares the response cache, the limits and the request log', async () => {
      const mock = await startMockProvider()
      const testDatabase = await createTestDatabase(kind)
      const a = await startTestServer(kind, { env: GATEWAY_TEST_ENV, testDatabase })
      const b = await startTestServer(kind, { env: GATEWAY_TEST_ENV, testDatabase })
      try {
        const { key } = await createUser(a, 'alice')
        const put = await a.request('PUT', '/v1/llm-instances/alice/cached', {
          key,
          body: { instance_handle: 'cached', kind: 'chat', api_standard: 'openai', endpoint: mockEndpoint(mock, 'openai', 'chat', 'shared'), model: 'm', cache_ttl_seconds: 300 },
        })
        assert.equal(put.status, 201, put.text)
        const chat = (url: string) =>
          fetch(`${url}/v1/chat/completions`, {
            method: 'POST',
            headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
            body: JSON.stringify({ model: 'cached', messages: [{ role: 'user', content: 'remember me' }] }),
          })
        const first = await chat(a.url)
        assert.equal(first.headers.get('x-llmbase-cache'), 'miss')
        const answer = await json(first)
        // The shared level is written in the background: B finds it once it is there.
        let fromB: Response | undefined
        for (let i = 0; i < 40; i += 1) {
          fromB = await chat(b.url)
          if (fromB.headers.get('x-llmbase-cache') === 'hit') break
          await new Promise((resolve) => setTimeout(resolve, 50))
        }
        assert.equal(fromB?.headers.get('x-llmbase-cache'), 'hit', 'B answers from what A cached')
        assert.deepEqual((await json(fromB as Response)).choices, answer.choices)

        const limited = await a.request('PUT', '/v1/limits/alice', { body: { concurrent_requests: 1 } })
        assert.equal(limited.status, 200)
        mock.setBehaviour('slow', { delayMs: 800 })
        await a.request('PUT', '/v1/llm-instances/alice/slow', {
          key,
          body: { instance_handle: 'slow', kind: 'chat', api_standard: 'openai', endpoint: mockEndpoint(mock, 'openai', 'chat', 'slow'), model: 'm' },
        })
        await new Promise((resolve) => setTimeout(resolve, 5_100)) // B's memory of alice's (absent) limits expires
        const slow = fetch(`${a.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'slow', messages: [{ role: 'user', content: 'take your time' }] }),
        })
        await new Promise((resolve) => setTimeout(resolve, 300))
        const refused = await fetch(`${b.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'slow', messages: [{ role: 'user', content: 'me too' }] }),
        })
        assert.equal(refused.status, 429, 'the call in flight on A counts on B')
        assert.equal((await slow).status, 200)

        const log = await b.request('GET', '/v1/requests/alice?limit=50', { key })
        assert.ok(log.body.requests.length >= 3, 'B lists the calls A answered')
      } finally {
        await a.close()
        await b.close()
        await testDatabase.cleanup()
        await mock.close()
      }
    })
  })
}
