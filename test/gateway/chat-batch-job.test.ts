import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { DATABASES } from '../helpers/databases.js'
import { eventually, type GatewayFixture, putMockInstance, startGateway } from '../helpers/gateway.js'
import { JOBS_TEST_ENV, submitJob, waitForJob } from '../helpers/job-client.js'

const ask = (text: string) => ({ messages: [{ role: 'user', content: text }] })

for (const kind of DATABASES) {
  describe(`chat.batch jobs on the ${kind} database`, () => {
    let fx: GatewayFixture

    before(async () => {
      // One upstream attempt per call, so that a scripted failure is the request's outcome.
      fx = await startGateway(kind, ['alice', 'bob'], { ...JOBS_TEST_ENV, LLMBASE_GATEWAY_MAX_ATTEMPTS: '1' })
      await putMockInstance(fx, 'alice', 'chat')
      await putMockInstance(fx, 'alice', 'flaky', { tag: 'flaky' })
      await putMockInstance(fx, 'alice', 'embed', { kind: 'embedding' })
      await putMockInstance(fx, 'bob', 'slow', { tag: 'slow' })
    })
    after(async () => fx?.close())

    const key = (user: string) => fx.keys[user] as string
    const submit = (user: string, payload: unknown, asKey = key(user)) => submitJob(fx.server, user, asKey, { type: 'chat.batch', payload })
    const wait = (user: string, id: string) => waitForJob(fx.server, user, key(user), id)
    const flakyCalls = () => fx.mock.received.filter((r) => r.tag === 'flaky')
    const jobCount = async (user: string) => (await fx.server.request('GET', `/v1/jobs/${user}?limit=200`, { key: key(user) })).body.length as number

    it('answers every request through the gateway and stores the answers with their custom_ids and summed usage', async () => {
      const submitted = await submit('alice', {
        model: 'chat',
        requests: [
          { custom_id: 'kant', body: { ...ask('Who wrote the Critique of Pure Reason?'), temperature: 0 } },
          { body: ask('Who wrote the Phenomenology of Spirit?') },
          { custom_id: 'fichte', body: { ...ask('Who wrote the Science of Knowledge?'), max_tokens: 50 } },
        ],
      })
      assert.equal(submitted.status, 201, submitted.text)
      assert.deepEqual(submitted.body.progress, { done: 0, total: 3 })
      assert.equal(submitted.body.payload.concurrency, 4, 'the default is filled in')
      const job = await wait('alice', submitted.body.id)
      assert.equal(job.state, 'succeeded', JSON.stringify(job.errors))
      assert.deepEqual(job.progress, { done: 3, total: 3 })
      const { results, succeeded, failed, usage } = job.result
      assert.equal(succeeded, 3)
      assert.equal(failed, 0)
      assert.deepEqual(results.map((r: { custom_id: string | null; index: number; status: string }) => [r.custom_id, r.index, r.status]), [
        ['kant', 0, 'succeeded'],
        [null, 1, 'succeeded'],
        ['fichte', 2, 'succeeded'],
      ])
      for (const result of results) {
        assert.equal(result.response.object, 'chat.completion')
        assert.equal(result.response.model, 'chat')
        assert.equal(typeof result.response.choices[0].message.content, 'string')
        assert.equal(result.error, undefined)
      }
      const sum = (field: string) => results.reduce((total: number, r: { response: { usage: Record<string, number> } }) => total + (r.response.usage[field] as number), 0)
      assert.deepEqual(usage, { prompt_tokens: sum('prompt_tokens'), completion_tokens: sum('completion_tokens'), total_tokens: sum('total_tokens') })
      assert.ok(usage.total_tokens > 0)
      const sent = fx.mock.received.filter((r) => r.operation === 'chat' && JSON.stringify(r.body).includes('Critique of Pure Reason'))
      assert.equal((sent[0]?.body as { temperature?: number }).temperature, 0, 'other parameters go through')

      const logged = await eventually(async () => {
        const response = await fx.server.request('GET', '/v1/requests/alice?operation=chat&limit=50', { key: key('alice') })
        const rows = response.body.requests.filter((row: { request_id: string }) => row.request_id === `job:${job.id}`)
        return rows.length === 3 ? rows : undefined
      })
      assert.ok(logged.every((row: { status: number; instance: string; model: string }) => row.status === 200 && row.instance === 'alice/chat' && row.model === 'chat'))
    })

    it('records a failed request with its error and completes the others', async () => {
      fx.mock.enqueue('flaky', {}, { status: 400 }, { status: 500 })
      const submitted = await submit('alice', {
        model: 'alice/flaky',
        concurrency: 1,
        requests: ['one', 'two', 'three', 'four'].map((word) => ({ custom_id: word, body: ask(`say ${word}`) })),
      })
      assert.equal(submitted.status, 201, submitted.text)
      const job = await wait('alice', submitted.body.id)
      assert.equal(job.state, 'succeeded', JSON.stringify(job.errors))
      assert.equal(job.attempts, 1)
      assert.equal(job.result.succeeded, 2)
      assert.equal(job.result.failed, 2)
      const [one, two, three, four] = job.result.results
      assert.equal(one.status, 'succeeded')
      assert.equal(two.status, 'failed')
      assert.equal(two.response, undefined)
      assert.deepEqual(Object.keys(two.error).sort(), ['code', 'message', 'status'])
      assert.equal(two.error.code, 'bad_request')
      assert.equal(two.error.status, 400)
      assert.match(two.error.message, /the provider refused the request \(status 400\)/)
      assert.equal(three.error.code, 'upstream_error')
      assert.equal(three.error.status, 502)
      assert.equal(four.status, 'succeeded')
    })

    it('succeeds with every request failed when no failure could pass on another attempt', async () => {
      fx.mock.enqueue('flaky', { status: 400 })
      const submitted = await submit('alice', { model: 'flaky', requests: [{ custom_id: 'bad', body: ask('refuse me') }] })
      const job = await wait('alice', submitted.body.id)
      assert.equal(job.state, 'succeeded')
      assert.equal(job.attempts, 1)
      assert.deepEqual(job.errors, [])
      assert.equal(job.result.succeeded, 0)
      assert.equal(job.result.failed, 1)
      assert.equal(job.result.results[0].error.code, 'bad_request')
      assert.deepEqual(job.result.usage, { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 })
    })

    it('retries the job when every request failed for a reason that may pass, running only those again', async () => {
      // 'a' fails for good (400); 'b' and 'c' hit a provider outage (500) and succeed on the retry.
      fx.mock.enqueue('flaky', { status: 400 }, { status: 500 }, { status: 500 })
      const before = flakyCalls().length
      const submitted = await submit('alice', {
        model: 'flaky',
        concurrency: 1,
        requests: ['a', 'b', 'c'].map((word) => ({ custom_id: word, body: ask(`say ${word}`) })),
      })
      const job = await wait('alice', submitted.body.id)
      assert.equal(job.state, 'succeeded', JSON.stringify(job.errors))
      assert.equal(job.attempts, 2)
      assert.equal(job.errors.length, 1)
      assert.equal(job.errors[0].code, 'upstream_error')
      assert.match(job.errors[0].message, /^all 3 requests failed; 2 may succeed later, such as request 1: /)
      assert.deepEqual(job.result.results.map((r: { custom_id: string; status: string }) => [r.custom_id, r.status]), [
        ['a', 'failed'],
        ['b', 'succeeded'],
        ['c', 'succeeded'],
      ])
      const calls = flakyCalls().slice(before).map((call) => JSON.stringify(call.body))
      assert.equal(calls.length, 5, 'three requests, then the two that may pass')
      assert.ok(!calls.slice(3).some((body) => body.includes('say a')), 'the request that failed for good is not sent again')
    })

    it("waits out the owner's rate limits instead of recording the requests as failed", async () => {
      const limited = await fx.server.request('PUT', '/v1/limits/bob', { body: { concurrent_requests: 1 } })
      assert.equal(limited.status, 200, limited.text)
      fx.mock.enqueue('slow', ...Array.from({ length: 3 }, () => ({ delayMs: 200 })))
      const submitted = await submit('bob', { model: 'slow', concurrency: 3, requests: ['a', 'b', 'c'].map((word) => ({ body: ask(`say ${word}`) })) })
      assert.equal(submitted.status, 201, submitted.text)
      const job = await wait('bob', submitted.body.id)
      assert.equal(job.state, 'succeeded', JSON.stringify(job.errors))
      assert.equal(job.result.succeeded, 3, JSON.stringify(job.result.results.map((r: { error?: unknown }) => r.error)))
      // The limit did refuse requests on the way.
      await eventually(async () => {
        const refusals = await fx.server.request('GET', '/v1/requests/bob?status=429', { key: key('bob') })
        return refusals.body.requests.length >= 2 ? true : undefined
      })
      await fx.server.request('DELETE', '/v1/limits/bob')
    })

    it('refuses a model the owner may not use as a chat model at submission, and enqueues nothing', async () => {
      const count = await jobCount('bob')
      const cases: Array<[string, number, string, string]> = [
        ['nope', 404, 'model_not_found', 'the model nope does not exist or you do not have access to it; GET /v1/models lists what you may use'],
        ['alice/chat', 404, 'model_not_found', 'the model alice/chat does not exist or you do not have access to it; GET /v1/models lists what you may use'],
      ]
      for (const [model, status, code, detail] of cases) {
        const response = await submit('bob', { model, requests: [{ body: ask('hello') }] })
        assert.equal(response.status, status, response.text)
        assert.equal(response.body.code, code)
        assert.equal(response.body.detail, detail)
      }
      const forBob = await submit('bob', { model: 'alice/chat', requests: [{ body: ask('hello') }] }, fx.server.adminKey)
      assert.equal(forBob.status, 404, 'the job would run as bob, who may not use the model')
      assert.equal(await jobCount('bob'), count)
      const embedding = await submit('alice', { model: 'embed', requests: [{ body: ask('hello') }] })
      assert.equal(embedding.status, 400, embedding.text)
      assert.match(embedding.body.detail, /is an embedding model/)
    })

    it('refuses payloads that do not fit, with their locations', async () => {
      const count = await jobCount('alice')
      const cases: Array<[unknown, string]> = [
        [{ model: 'chat', requests: [] }, 'body.payload.requests'],
        [{ requests: [{ body: ask('x') }] }, 'body.payload'],
        [{ model: 'chat', requests: [{ body: {} }] }, 'body.payload.requests[0].body'],
        [{ model: 'chat', requests: [{ body: { ...ask('x'), model: 'other' } }] }, 'body.payload.requests[0].body.model'],
        [{ model: 'chat', requests: [{ body: { ...ask('x'), stream: true } }] }, 'body.payload.requests[0].body.stream'],
        [{ model: 'chat', requests: [{ body: ask('x') }], concurrency: 17 }, 'body.payload.concurrency'],
        [{ model: 'chat', requests: [{ custom_id: 'same', body: ask('x') }, { custom_id: 'same', body: ask('y') }] }, 'body.payload.requests[1].custom_id'],
      ]
      const messages: Record<string, string> = {}
      for (const [payload, location] of cases) {
        const response = await submit('alice', payload)
        assert.equal(response.status, 422, `${JSON.stringify(payload)}: ${response.text}`)
        const issue = response.body.errors.find((e: { location: string }) => e.location === location)
        assert.ok(issue, `${location} in ${JSON.stringify(response.body.errors)}`)
        messages[location] = issue.message
      }
      assert.equal(messages['body.payload.requests[0].body.model'], 'is set for the whole job: give it once, as payload.model')
      assert.equal(messages['body.payload.requests[0].body.stream'], 'must be false or absent: a job stores whole answers')
      assert.equal(messages['body.payload.requests[1].custom_id'], 'must be unique in the job')
      assert.equal(await jobCount('alice'), count)
    })
  })
}
