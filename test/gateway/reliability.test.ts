import assert from 'node:assert/strict'
import { after, before, beforeEach, describe, it } from 'node:test'
import { DATABASES } from '../helpers/databases.js'
import { eventually, type GatewayFixture, json, putMockInstance, readSse, startGateway } from '../helpers/gateway.js'
import { startMockProvider } from '../../src/mock-provider/index.js'

for (const kind of DATABASES) {
  describe(`gateway retries, failover and cooldown on the ${kind} database`, () => {
    let fx: GatewayFixture
    before(async () => {
      fx = await startGateway(kind, ['alice'], { LLMBASE_GATEWAY_FIRST_BYTE_TIMEOUT_MS: '400', LLMBASE_GATEWAY_IDLE_TIMEOUT_MS: '400' })
      await putMockInstance(fx, 'alice', 'primary', { tag: 'primary' })
      await putMockInstance(fx, 'alice', 'backup', { format: 'anthropic', tag: 'backup' })
      await putMockInstance(fx, 'alice', 'lonely', { tag: 'lonely' })
      const route = await fx.server.request('PUT', '/v1/routes/alice/resilient', {
        key: fx.keys.alice,
        body: { route_handle: 'resilient', strategy: 'fallback', targets: [{ instance: 'primary' }, { instance: 'backup' }] },
      })
      assert.equal(route.status, 201, route.text)
    })
    beforeEach(async () => {
      fx.mock.reset()
      // Cooldowns from one test must not leak into the next: wait them out.
      await new Promise((resolve) => setTimeout(resolve, 250))
    })
    after(() => fx?.close())

    const chat = (model: string, extra: Record<string, unknown> = {}, signal?: AbortSignal) =>
      fetch(`${fx.server.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${fx.keys.alice}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hello there' }], ...extra }),
        signal,
      })
    const call = async (id: string) =>
      eventually(async () => {
        const response = await fx.server.request('GET', '/v1/requests/alice?limit=100', { key: fx.keys.alice })
        const row = response.body.requests.find((r: { request_id: string }) => r.request_id === id)
        if (!row) return undefined
        return (await fx.server.request('GET', `/v1/requests/alice/${row.id}`, { key: fx.keys.alice })).body
      })
    const tagged = (tag: string) => fx.mock.received.filter((r) => r.tag === tag)

    it('waits out a short Retry-After on a 429 and then succeeds, logging both attempts', async () => {
      fx.mock.enqueue('lonely', { status: 429, retryAfter: 1 })
      const started = Date.now()
      const response = await chat('lonely')
      assert.equal(response.status, 200, await response.clone().text())
      assert.ok(Date.now() - started >= 950, 'Retry-After: 1 was honoured')
      assert.equal(tagged('lonely').length, 2)
      const logged = await call(response.headers.get('x-request-id') as string)
      assert.equal(logged.attempts.length, 2)
      assert.equal(logged.attempts[0].status, 429)
      assert.equal(logged.attempts[0].error_code, 'rate_limited')
      assert.equal(logged.attempts[1].status, 200)
    })

    it('passes a 429 whose Retry-After is longer than it waits to the client, with the header', async () => {
      await putMockInstance(fx, 'alice', 'throttled', { tag: 'throttled' })
      fx.mock.enqueue('throttled', { status: 429, retryAfter: 30 })
      const response = await chat('throttled')
      assert.equal(response.status, 429)
      assert.equal(response.headers.get('retry-after'), '30')
      const body = await json(response)
      assert.equal(body.error.type, 'rate_limit_error')
      assert.equal(body.error.code, 'rate_limited')
      assert.equal(tagged('throttled').length, 1)
      // The instance now cools down for the 30 seconds the provider asked for: the next call
      // is answered at once, without spending a request on the provider.
      const next = await chat('throttled')
      assert.equal(next.status, 503)
      assert.equal((await json(next)).error.code, 'upstream_unavailable')
      assert.ok(Number(next.headers.get('retry-after')) > 20)
      assert.equal(tagged('throttled').length, 1)
    })

    it('fails over to the next instance of a route at once on a 5xx', async () => {
      fx.mock.enqueue('primary', { status: 503 })
      const response = await chat('resilient')
      const body = await json(response)
      assert.equal(response.status, 200)
      assert.match(body.choices[0].message.content, /Hello from mock anthropic/)
      const logged = await call(response.headers.get('x-request-id') as string)
      assert.deepEqual(logged.attempts.map((a: { instance: string; status: number }) => [a.instance, a.status]), [['alice/primary', 503], ['alice/backup', 200]])
      assert.equal(logged.instance_id !== null, true)
    })

    it('turns a provider 400 into a 400 without retrying', async () => {
      fx.mock.enqueue('lonely', { status: 400 })
      const response = await chat('lonely')
      assert.equal(response.status, 400)
      const body = await json(response)
      assert.equal(body.error.type, 'invalid_request_error')
      assert.match(body.error.message, /provider refused the request/)
      assert.equal(tagged('lonely').length, 1)
    })

    it('gives a 504 when the provider does not start answering in time, after the attempts', async () => {
      fx.mock.setBehaviour('lonely', { delayMs: 2000 })
      const response = await chat('lonely')
      assert.equal(response.status, 504)
      const body = await json(response)
      assert.equal(body.error.code, 'upstream_timeout')
      fx.mock.setBehaviour('lonely', null)
    })

    it('fails over a stream whose provider errs before the first byte, and sends a real status when all fail', async () => {
      fx.mock.enqueue('primary', { status: 500 })
      const ok = await chat('resilient', { stream: true })
      assert.equal(ok.status, 200)
      const events = await readSse(ok)
      assert.equal(events.at(-1)?.data, '[DONE]')
      fx.mock.enqueue('lonely', { status: 400 })
      const failed = await chat('lonely', { stream: true })
      assert.equal(failed.status, 400, 'an upstream error before the first byte is a real HTTP status')
      assert.match(failed.headers.get('content-type') ?? '', /json/)
    })

    it('ends a stream cut by the provider with a typed error event and logs it', async () => {
      fx.mock.enqueue('lonely', { dropAfterChunks: 2 })
      const response = await chat('lonely', { stream: true })
      assert.equal(response.status, 200)
      const events = await readSse(response)
      const last = JSON.parse(events.at(-1)?.data ?? '{}')
      assert.equal(last.error.code, 'upstream_error')
      assert.ok(!events.some((event) => event.data === '[DONE]'))
      const logged = await call(response.headers.get('x-request-id') as string)
      assert.equal(logged.error_code, 'upstream_error')
      assert.equal(tagged('lonely').length, 1, 'no failover after the first byte')
    })

    it('ends a stream whose provider falls silent for longer than the idle timeout with a timeout event', async () => {
      // Chunks 1.5 s apart against an idle timeout of 400 ms.
      const sleepy = await startMockProvider({ streamChunks: 3, chunkIntervalMs: 1500 })
      try {
        await fx.server.request('PUT', '/v1/llm-instances/alice/sleepy', {
          key: fx.keys.alice,
          body: { instance_handle: 'sleepy', kind: 'chat', api_standard: 'openai', endpoint: `${sleepy.url}/openai/v1/chat/completions`, model: 'm' },
        })
        const response = await chat('sleepy', { stream: true })
        assert.equal(response.status, 200)
        const events = await readSse(response)
        const last = JSON.parse(events.at(-1)?.data ?? '{}')
        assert.equal(last.error.code, 'upstream_timeout')
        assert.match(last.error.message, /stopped sending/)
      } finally {
        await sleepy.close()
      }
    })

    it('pages through the request log newest first', async () => {
      for (let i = 0; i < 5; i += 1) assert.equal((await chat('lonely')).status, 200)
      const seen: string[] = []
      let before: string | null = null
      await eventually(async () => {
        const list = await fx.server.request('GET', '/v1/requests/alice?limit=100&model=lonely&status=200', { key: fx.keys.alice })
        return list.body.requests.length >= 5 ? true : undefined
      })
      for (let page = 0; page < 10; page += 1) {
        const query: string = `/v1/requests/alice?limit=2&model=lonely${before ? `&before=${encodeURIComponent(before)}` : ''}`
        const list = await fx.server.request('GET', query, { key: fx.keys.alice })
        assert.equal(list.status, 200)
        seen.push(...list.body.requests.map((r: { id: string }) => r.id))
        const times = list.body.requests.map((r: { created_at: string }) => r.created_at)
        assert.deepEqual(times, [...times].sort().reverse(), 'newest first')
        before = list.body.next_before
        if (!before) break
      }
      assert.ok(seen.length >= 5)
      assert.equal(new Set(seen).size, seen.length, 'no call on two pages')
      const bad = await fx.server.request('GET', '/v1/requests/alice?limit=0', { key: fx.keys.alice })
      assert.equal(bad.status, 422)
    })

    it('cancels the upstream call when the client goes away mid-stream', async () => {
      // A provider that would stream for five seconds: 50 chunks 100 ms apart.
      const slow = await startMockProvider({ streamChunks: 50, chunkIntervalMs: 100 })
      try {
        await fx.server.request('PUT', '/v1/llm-instances/alice/slowstream', {
          key: fx.keys.alice,
          body: { instance_handle: 'slowstream', kind: 'chat', api_standard: 'openai', endpoint: `${slow.url}/openai/v1/chat/completions`, model: 'm' },
        })
        const controller = new AbortController()
        const response = await chat('slowstream', { stream: true }, controller.signal)
        assert.equal(response.status, 200)
        const reader = (response.body as ReadableStream<Uint8Array>).getReader()
        await reader.read()
        controller.abort()
        const logged = await eventually(async () => {
          const list = await fx.server.request('GET', '/v1/requests/alice?limit=100', { key: fx.keys.alice })
          return list.body.requests.find((r: { request_id: string }) => r.request_id === response.headers.get('x-request-id'))
        })
        assert.ok(logged.latency_ms < 4500, `the call ended with the client (${logged.latency_ms} ms), not with the provider's five-second stream`)
        assert.equal(logged.error_code, 'client_closed')
      } finally {
        await slow.close()
      }
    })
  })

  describe(`gateway cooldown on the ${kind} database`, () => {
    // A cooldown far longer than the test: whether the cooling instance is skipped must not
    // depend on how fast a busy machine gets from the third failure to the next call.
    let fx: GatewayFixture
    before(async () => {
      fx = await startGateway(kind, ['alice'], { LLMBASE_GATEWAY_COOLDOWN_MS: '600000' })
      await putMockInstance(fx, 'alice', 'primary', { tag: 'primary' })
      await putMockInstance(fx, 'alice', 'backup', { format: 'anthropic', tag: 'backup' })
      await fx.server.request('PUT', '/v1/routes/alice/resilient', {
        key: fx.keys.alice,
        body: { route_handle: 'resilient', strategy: 'fallback', targets: [{ instance: 'primary' }, { instance: 'backup' }] },
      })
    })
    after(() => fx?.close())

    it('puts an instance that keeps failing in cooldown and routes around it', async () => {
      const chat = () =>
        fetch(`${fx.server.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${fx.keys.alice}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'resilient', messages: [{ role: 'user', content: 'hello there' }] }),
        })
      const tagged = (tag: string) => fx.mock.received.filter((r) => r.tag === tag)
      fx.mock.setBehaviour('primary', { status: 500 })
      for (let i = 0; i < 3; i += 1) assert.equal((await chat()).status, 200)
      const before = tagged('primary').length
      const response = await chat()
      assert.equal(response.status, 200)
      assert.equal(tagged('primary').length, before, 'the cooling instance was not called')
      const health = await fx.server.request('GET', '/v1/llm-instances/alice/primary/health', { key: fx.keys.alice })
      assert.equal(health.status, 200)
      assert.equal(health.body.state, 'cooling_down')
      assert.ok(health.body.failures >= 3)
      assert.equal(health.body.last_status, 500)
    })
  })
}
