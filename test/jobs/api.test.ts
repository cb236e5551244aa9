import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { DATABASES } from '../helpers/databases.js'
import { eventually, type GatewayFixture, putMockInstance, startGateway } from '../helpers/gateway.js'

const LATER = () => new Date(Date.now() + 3_600_000).toISOString()

for (const kind of DATABASES) {
  describe(`the jobs API on the ${kind} database`, () => {
    let fx: GatewayFixture
    const items = [{ text_id: 'a', text: 'alpha' }, { text_id: 'b', text: 'beta' }]
    // Due in an hour: these jobs wait in the queue while the test looks at them.
    const waitingEmbed = (extra: Record<string, unknown> = {}) => ({ type: 'embed', payload: { project: 'docs', items }, run_at: LATER(), ...extra })
    const submit = (body: unknown, key = fx.keys.alice as string | null, user = 'alice') => fx.server.request('POST', `/v1/jobs/${user}`, { key, body })
    const list = async (query = '', key = fx.keys.alice as string) => (await fx.server.request('GET', `/v1/jobs/alice${query}`, { key })).body as Array<Record<string, unknown>>

    before(async () => {
      fx = await startGateway(kind, ['alice', 'bob'])
      await putMockInstance(fx, 'alice', 'embed', { kind: 'embedding' })
      await putMockInstance(fx, 'alice', 'flaky-chat', { tag: 'down' })
      const project = await fx.server.request('PUT', '/v1/projects/alice/docs', { key: fx.keys.alice, body: { project_handle: 'docs', instance_handle: 'embed' } })
      assert.equal(project.status, 201, project.text)
    })
    after(() => fx?.close())

    it('submits a job and shows it whole, with its progress from the start', async () => {
      const response = await submit(waitingEmbed({ priority: 7, max_attempts: 2, debug: true }))
      assert.equal(response.status, 201, response.text)
      const job = response.body
      assert.equal(response.headers.get('location'), `/v1/jobs/alice/${job.id}`)
      assert.equal(job.owner, 'alice')
      assert.equal(job.type, 'embed')
      assert.equal(job.state, 'pending')
      assert.equal(job.priority, 7)
      assert.equal(job.attempts, 0)
      assert.equal(job.max_attempts, 2)
      assert.deepEqual(job.progress, { done: 0, total: 2 })
      assert.deepEqual(job.payload, { project: 'docs', items })
      assert.deepEqual(job.errors, [])
      assert.equal(job.result, null)
      assert.equal(job.debug, true)
      const fetched = await fx.server.request('GET', `/v1/jobs/alice/${job.id}`, { key: fx.keys.alice })
      assert.equal(fetched.status, 200)
      assert.deepEqual(fetched.body, job)
    })

    it('refuses bad submissions with a clear error and adds nothing', async () => {
      const before = (await list('?limit=200')).length
      const cases: Array<[unknown, number, string]> = [
        [{ type: 'translate', payload: {} }, 400, 'invalid_job'],
        [{ type: 'webhook.deliver', payload: { delivery_id: 'x' } }, 400, 'invalid_job'],
        [{ payload: {} }, 422, 'validation_failed'],
        [{ type: 'embed', payload: [] }, 422, 'validation_failed'],
        [{ ...waitingEmbed(), priority: 5000 }, 422, 'validation_failed'],
        [{ ...waitingEmbed(), run_at: 'tomorrow' }, 422, 'validation_failed'],
        [{ ...waitingEmbed(), max_attempts: 0 }, 422, 'validation_failed'],
        [{ ...waitingEmbed(), surprise: true }, 422, 'validation_failed'],
        [{ ...waitingEmbed(), webhook_url: 'https://hooks.example.com/unregistered' }, 400, 'invalid_job'],
      ]
      for (const [body, status, code] of cases) {
        const response = await submit(body)
        assert.equal(response.status, status, `${JSON.stringify(body)}: ${response.text}`)
        assert.equal(response.body.code, code)
        assert.match(response.headers.get('content-type') ?? '', /application\/problem\+json/)
        assert.doesNotMatch(response.text, /\bat [\w.]+ \(|select |insert /i, 'no stack trace or SQL')
      }
      assert.equal((await list('?limit=200')).length, before)
    })

    it('answers a repeated idempotency key with the first job', async () => {
      const first = await submit(waitingEmbed({ idempotency_key: 'nightly-2026-11-23' }))
      assert.equal(first.status, 201)
      const again = await submit(waitingEmbed({ idempotency_key: 'nightly-2026-11-23', priority: 99 }))
      assert.equal(again.status, 200)
      assert.equal(again.body.id, first.body.id)
      assert.equal(again.body.priority, 0, 'the first submission stands')
      const other = await submit(waitingEmbed({ idempotency_key: 'nightly-2026-11-23' }), fx.keys.bob as string, 'bob')
      assert.notEqual(other.status, 201, "bob cannot submit bob's job against alice's project")
    })

    it('lists jobs newest first, filtered by state and type, without payloads', async () => {
      const a = await submit(waitingEmbed())
      const b = await submit(waitingEmbed())
      const jobs = await list('?state=pending&type=embed&limit=2')
      assert.deepEqual(jobs.map((j) => j.id), [b.body.id, a.body.id])
      assert.equal('payload' in (jobs[0] ?? {}), false)
      assert.equal('result' in (jobs[0] ?? {}), false)
      assert.deepEqual(await list('?state=succeeded&type=embed'), [])
      const bad = await fx.server.request('GET', '/v1/jobs/alice?state=finished', { key: fx.keys.alice })
      assert.equal(bad.status, 422)
    })

    it('cancels a job, refuses to cancel it twice, and runs it again on retry', async () => {
      const { body: job } = await submit(waitingEmbed())
      const cancelled = await fx.server.request('POST', `/v1/jobs/alice/${job.id}/cancel`, { key: fx.keys.alice })
      assert.equal(cancelled.status, 200)
      assert.equal(cancelled.body.state, 'cancelled')
      assert.ok(cancelled.body.finished_at)
      const twice = await fx.server.request('POST', `/v1/jobs/alice/${job.id}/cancel`, { key: fx.keys.alice })
      assert.equal(twice.status, 409)
      assert.equal(twice.body.code, 'job_state_conflict')
      const retried = await fx.server.request('POST', `/v1/jobs/alice/${job.id}/retry`, { key: fx.keys.alice })
      assert.equal(retried.status, 200)
      assert.equal(retried.body.state, 'pending')
      assert.equal(retried.body.replays, 1)
      const pendingRetry = await fx.server.request('POST', `/v1/jobs/alice/${job.id}/retry`, { key: fx.keys.alice })
      assert.equal(pendingRetry.status, 409, 'a pending job is queued already')
      await fx.server.request('POST', `/v1/jobs/alice/${job.id}/cancel`, { key: fx.keys.alice })
    })

    it("keeps a user's jobs from other users, and lets an admin act for a user", async () => {
      const { body: job } = await submit(waitingEmbed())
      const asBob = await fx.server.request('GET', '/v1/jobs/alice', { key: fx.keys.bob })
      assert.equal(asBob.status, 404)
      assert.equal(asBob.body.code, 'user_not_found')
      const viaBob = await fx.server.request('GET', `/v1/jobs/bob/${job.id}`, { key: fx.keys.bob })
      assert.equal(viaBob.status, 404)
      assert.equal(viaBob.body.code, 'job_not_found')
      const cancelByBob = await fx.server.request('POST', `/v1/jobs/bob/${job.id}/cancel`, { key: fx.keys.bob })
      assert.equal(cancelByBob.status, 404)
      const anonymous = await fx.server.request('GET', '/v1/jobs/alice', { key: null })
      assert.equal(anonymous.status, 401)
      const byAdmin = await submit(waitingEmbed(), fx.server.adminKey)
      assert.equal(byAdmin.status, 201)
      assert.equal(byAdmin.body.owner, 'alice')
      const adminReads = await fx.server.request('GET', `/v1/jobs/alice/${job.id}`)
      assert.equal(adminReads.status, 200)
      const system = await submit(waitingEmbed(), fx.server.adminKey, '_system')
      assert.ok([403, 404].includes(system.status), 'nobody submits jobs as _system')
    })

    it('keeps the dead-letter queue to admins', async () => {
      const user = await fx.server.request('GET', '/v1/admin/dead-letter', { key: fx.keys.alice })
      assert.equal(user.status, 403)
      const admin = await fx.server.request('GET', '/v1/admin/dead-letter')
      assert.equal(admin.status, 200)
      assert.ok(Array.isArray(admin.body))
      const replayUser = await fx.server.request('POST', '/v1/admin/dead-letter/00000000-0000-4000-8000-000000000000/replay', { key: fx.keys.alice })
      assert.equal(replayUser.status, 403)
      const missing = await fx.server.request('POST', '/v1/admin/dead-letter/00000000-0000-4000-8000-000000000000/replay')
      assert.equal(missing.status, 404)
      assert.equal(missing.body.code, 'job_not_found')
      const notUuid = await fx.server.request('POST', '/v1/admin/dead-letter/123/replay')
      assert.equal(notUuid.status, 422)
    })

    it('sends a job whose last attempt failed to the dead-letter queue, and replays it from there', async () => {
      fx.mock.setBehaviour('down', { status: 500 })
      const submitted = await submit({ type: 'chat.batch', max_attempts: 1, payload: { model: 'flaky-chat', requests: [{ custom_id: 'q', body: { messages: [{ role: 'user', content: 'hi' }] } }] } })
      assert.equal(submitted.status, 201, submitted.text)
      const id = submitted.body.id
      const dead = await eventually(async () => {
        const job = (await fx.server.request('GET', `/v1/jobs/alice/${id}`, { key: fx.keys.alice })).body
        return job.state === 'dead' ? job : undefined
      }, 15_000)
      assert.equal(dead.attempts, 1)
      assert.equal(dead.errors.length, 1)
      assert.ok(dead.finished_at)
      const queue = await fx.server.request('GET', '/v1/admin/dead-letter?user=alice&type=chat.batch')
      const listed = queue.body.find((j: { id: string }) => j.id === id)
      assert.ok(listed, 'the dead job is in the dead-letter queue')
      assert.deepEqual(listed.errors, dead.errors)
      assert.equal(listed.owner, 'alice')
      fx.mock.setBehaviour('down', null)
      const replayed = await fx.server.request('POST', `/v1/admin/dead-letter/${id}/replay`)
      assert.equal(replayed.status, 200, replayed.text)
      assert.equal(replayed.body.state, 'pending')
      assert.equal(replayed.body.replays, 1)
      const done = await eventually(async () => {
        const job = (await fx.server.request('GET', `/v1/jobs/alice/${id}`, { key: fx.keys.alice })).body
        return job.state === 'succeeded' ? job : undefined
      }, 15_000)
      assert.equal(done.result.succeeded, 1)
      assert.equal(done.errors.length, 1, 'the history of the first run stays')
      const again = await fx.server.request('POST', `/v1/admin/dead-letter/${id}/replay`)
      assert.equal(again.status, 404, 'no longer dead')
    })
  })
}
