import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { DATABASES } from '../helpers/databases.js'
import { eventually, type GatewayFixture, putMockInstance, startGateway } from '../helpers/gateway.js'
import { createEndpoint, listDeliveries, sleep, submitChatJob, waitForDeliveries, waitForJob } from './helpers.js'
import { type Receiver, startReceiver } from './receiver.js'

// Four attempts, 100 ms apart (±10 %): the whole schedule runs in well under a second.
const ENV = { LLMBASE_WEBHOOK_RETRY_SCHEDULE: '100ms,100ms,100ms', LLMBASE_JOBS_POLL_MS: '50', LLMBASE_WEBHOOK_TIMEOUT_MS: '600' }

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

for (const kind of DATABASES) {
  describe(`webhook deliveries on the ${kind} database`, () => {
    let fx: GatewayFixture
    let receiver: Receiver
    const USERS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank']
    const key = (user: string) => fx.keys[user] as string
    const request = (...args: Parameters<GatewayFixture['server']['request']>) => fx.server.request(...args)
    const endpoint = async (user: string, path: string, extra: Record<string, unknown> = {}) => {
      const created = await createEndpoint(request, user, key(user), { url: `${receiver.url}${path}`, ...extra })
      receiver.secrets.set(path, created.secret)
      return created
    }
    const detail = async (user: string, endpointId: string, deliveryId: string) =>
      (await request('GET', `/v1/webhooks/${user}/${endpointId}/deliveries/${deliveryId}`, { key: key(user) })).body
    const readEndpoint = async (user: string, id: string) => (await request('GET', `/v1/webhooks/${user}/${id}`, { key: key(user) })).body

    before(async () => {
      receiver = await startReceiver()
      fx = await startGateway(kind, USERS, ENV)
      for (const user of USERS) await putMockInstance(fx, user, 'chat')
    })
    after(async () => {
      await fx?.close()
      await receiver?.close()
    })

    it('sends one signed delivery per subscribed endpoint when a job succeeds', async () => {
      const a = await endpoint('alice', '/a')
      const b = await endpoint('alice', '/b', { events: ['job.succeeded'] })
      await endpoint('alice', '/c', { events: ['job.dead'] })
      const d = await endpoint('alice', '/d', { events: [] })
      await endpoint('alice', '/e', { events: [] })
      const jobId = await submitChatJob(request, 'alice', key('alice'), { webhook_url: `${receiver.url}/d` })
      await waitForJob(request, 'alice', key('alice'), jobId)
      await eventually(async () => (['/a', '/b', '/d'].every((p) => receiver.deliveredTo(p).length >= 1) ? true : undefined))
      await sleep(400)
      assert.deepEqual(['/a', '/b', '/c', '/d', '/e'].map((p) => receiver.deliveredTo(p).length), [1, 1, 0, 1, 0])

      for (const [path, created] of [['/a', a], ['/b', b], ['/d', d]] as const) {
        const got = receiver.deliveredTo(path)[0]
        assert.ok(got)
        assert.equal(got.verified, true, `${path}: node:crypto verifies the signature`)
        assert.equal(got.libraryVerified, true, `${path}: standardwebhooks verifies the signature`)
        assert.equal(got.headers['content-type'], 'application/json')
        assert.equal(got.headers['user-agent'], 'llmbase')
        assert.match(String(got.headers['webhook-signature']), /^v1,[A-Za-z0-9+/]{43}=$/)
        assert.ok(Math.abs(Number(got.headers['webhook-timestamp']) - Date.now() / 1000) < 30)
        const body = JSON.parse(got.body)
        assert.equal(body.type, 'job.succeeded')
        assert.ok(!Number.isNaN(Date.parse(body.timestamp)))
        assert.equal(body.data.id, jobId)
        assert.equal(body.data.type, 'chat.batch')
        assert.equal(body.data.state, 'succeeded')

        const [delivery] = await waitForDeliveries(request, 'alice', key('alice'), created.id, 'succeeded')
        assert.equal(delivery.id, got.headers['webhook-id'])
        assert.equal(delivery.event, 'job.succeeded')
        assert.equal(delivery.job_id, jobId)
        assert.equal(delivery.attempts, 1)
        assert.equal(delivery.last_status, 200)
        assert.equal(delivery.last_error, null)
        assert.ok(delivery.delivered_at)
        const full = await detail('alice', created.id, delivery.id)
        assert.equal(full.body, got.body, 'the stored body is the exact bytes sent')
        assert.equal(full.attempt_log.length, 1)
        assert.deepEqual({ ...full.attempt_log[0], started_at: undefined, duration_ms: undefined }, {
          attempt: 1, started_at: undefined, duration_ms: undefined, status: 200, error: null, response_excerpt: 'ok',
        })
        assert.ok(!JSON.stringify(full).includes(created.secret.slice(6)), 'the secret is in no delivery')
      }
      // The endpoint's success leaves no failure on record.
      assert.equal((await readEndpoint('alice', a.id)).failing_since, null)

      // A second job for a delivery recorded as succeeded (a duplicate) sends nothing.
      const [sent] = await listDeliveries(request, 'alice', key('alice'), a.id)
      const { rows } = await fx.server.running.database.pool.query(
        `insert into jobs (owner_id, type, payload, max_attempts)
         select owner_id, 'webhook.deliver', jsonb_build_object('delivery_id', id), 4 from webhook_deliveries where id = $1
         returning id`,
        [sent.id],
      )
      const duplicate = await waitForJob(request, 'alice', key('alice'), rows[0].id)
      assert.deepEqual(duplicate.result, { skipped: 'the delivery has already succeeded' })
      assert.equal(receiver.deliveredTo('/a').length, 1)
    })

    it("leaves deliveries out of the user's job list unless asked for", async () => {
      // alice's deliveries from the test above are jobs of the server's own (webhook.deliver).
      const types = async (query: string) =>
        ((await request('GET', `/v1/jobs/alice${query}`, { key: key('alice') })).body as Array<{ type: string }>).map((j) => j.type)
      const mine = await types('?limit=200')
      assert.ok(mine.includes('chat.batch'))
      assert.equal(mine.filter((t) => t === 'webhook.deliver').length, 0)
      const everything = await types('?limit=200&internal=true')
      assert.ok(everything.filter((t) => t === 'webhook.deliver').length >= 3, 'three endpoints were delivered to')
      assert.equal(everything.length - mine.length, everything.filter((t) => t === 'webhook.deliver').length)
      const named = await types('?limit=200&type=webhook.deliver')
      assert.deepEqual(new Set(named), new Set(['webhook.deliver']))
    })

    it('retries a failing receiver on schedule, records every attempt, then fails the delivery and disables the endpoint', async () => {
      receiver.on('/fail', { status: 500, body: `a${'é'.repeat(700)}` })
      const failing = await endpoint('bob', '/fail')
      const jobId = await submitChatJob(request, 'bob', key('bob'))
      await waitForJob(request, 'bob', key('bob'), jobId)
      const [delivery] = await waitForDeliveries(request, 'bob', key('bob'), failing.id, 'permanently_failed')
      assert.equal(delivery.attempts, 4)
      assert.equal(delivery.last_status, 500)
      assert.equal(delivery.last_error, 'HTTP 500')
      assert.equal(delivery.delivered_at, null)

      const tries = receiver.deliveredTo('/fail')
      assert.equal(tries.length, 4)
      assert.ok(tries.every((t) => t.headers['webhook-id'] === delivery.id && t.verified && t.libraryVerified))
      for (let i = 1; i < tries.length; i++) {
        const gap = (tries[i]?.at ?? 0) - (tries[i - 1]?.at ?? 0)
        assert.ok(gap >= 85, `attempt ${i + 1} came ${gap} ms after the one before (schedule: 100 ms ± 10 %)`)
      }
      const full = await detail('bob', failing.id, delivery.id)
      assert.deepEqual(full.attempt_log.map((a: { attempt: number }) => a.attempt), [1, 2, 3, 4])
      for (const attempt of full.attempt_log) {
        assert.equal(attempt.status, 500)
        assert.equal(attempt.error, 'HTTP 500')
        assert.ok(attempt.duration_ms >= 0)
        // The first KiB, cut before a character that would not fit whole.
        assert.ok(Buffer.byteLength(attempt.response_excerpt) <= 1024)
        assert.equal(attempt.response_excerpt, `a${'é'.repeat(511)}`)
      }

      const disabled = await readEndpoint('bob', failing.id)
      assert.equal(disabled.enabled, false)
      assert.ok(disabled.disabled_at)
      assert.match(disabled.disabled_reason, /failed all 4 attempts/)
      assert.equal(disabled.failing_since, full.attempt_log[0].started_at)

      // Nothing is sent to a disabled endpoint: a replay is refused until it is re-enabled.
      const replayPath = `/v1/webhooks/bob/${failing.id}/deliveries/${delivery.id}/replay`
      const refused = await request('POST', replayPath, { key: key('bob') })
      assert.equal(refused.status, 409)
      assert.equal(refused.body.code, 'conflict')
      assert.match(refused.body.detail, /disabled/)

      receiver.on('/fail', { status: 204 })
      const enabled = await request('PATCH', `/v1/webhooks/bob/${failing.id}`, { key: key('bob'), body: { enabled: true } })
      assert.equal(enabled.body.enabled, true)
      assert.equal(enabled.body.failing_since, null)
      const replayed = await request('POST', replayPath, { key: key('bob') })
      assert.equal(replayed.status, 200, replayed.text)
      assert.equal(replayed.body.id, delivery.id)
      assert.equal(replayed.body.state, 'pending')
      const [done] = await waitForDeliveries(request, 'bob', key('bob'), failing.id, 'succeeded')
      assert.equal(done.attempts, 5, 'attempts count on across a replay')
      assert.equal(done.last_status, 204)
      const again = receiver.deliveredTo('/fail')
      assert.equal(again.length, 5)
      assert.equal(again[4]?.headers['webhook-id'], delivery.id, 'the same webhook-id, so the receiver can deduplicate')
      assert.ok(again[4]?.verified && again[4]?.libraryVerified)
      const log = (await detail('bob', failing.id, delivery.id)).attempt_log
      assert.deepEqual(log.map((a: { attempt: number; status: number }) => [a.attempt, a.status]), [[1, 500], [2, 500], [3, 500], [4, 500], [5, 204]])

      // Replaying a succeeded delivery sends it once more.
      assert.equal((await request('POST', replayPath, { key: key('bob') })).status, 200)
      await eventually(async () => (receiver.deliveredTo('/fail').length === 6 ? true : undefined))
      assert.equal((await waitForDeliveries(request, 'bob', key('bob'), failing.id, 'succeeded'))[0].attempts, 6)
      assert.deepEqual(await listDeliveries(request, 'bob', key('bob'), failing.id, '?state=permanently_failed'), [])
    })

    it('disables an endpoint at once when it answers 410 Gone, and sends it nothing more', async () => {
      receiver.on('/gone', { status: 410 })
      const gone = await endpoint('carol', '/gone')
      const first = await submitChatJob(request, 'carol', key('carol'))
      await waitForJob(request, 'carol', key('carol'), first)
      const [delivery] = await waitForDeliveries(request, 'carol', key('carol'), gone.id, 'permanently_failed')
      assert.equal(delivery.attempts, 1)
      assert.equal(delivery.last_status, 410)
      const disabled = await readEndpoint('carol', gone.id)
      assert.equal(disabled.enabled, false)
      assert.match(disabled.disabled_reason, /410 Gone/)

      const second = await submitChatJob(request, 'carol', key('carol'))
      await waitForJob(request, 'carol', key('carol'), second)
      await sleep(400)
      assert.equal(receiver.deliveredTo('/gone').length, 1)
      assert.equal((await listDeliveries(request, 'carol', key('carol'), gone.id)).length, 1)
    })

    it("waits out a receiver's Retry-After when it is longer than the schedule, and follows no redirect", async () => {
      let slowCalls = 0
      receiver.on('/busy', () => (++slowCalls === 1 ? { status: 503, headers: { 'retry-after': '1' } } : { status: 200 }))
      receiver.on('/moved', { status: 302, headers: { location: `${receiver.url}/target` } })
      const busy = await endpoint('dave', '/busy')
      const moved = await endpoint('dave', '/moved')
      const jobId = await submitChatJob(request, 'dave', key('dave'))
      await waitForJob(request, 'dave', key('dave'), jobId)

      const [delivered] = await waitForDeliveries(request, 'dave', key('dave'), busy.id, 'succeeded')
      assert.equal(delivered.attempts, 2)
      const tries = receiver.deliveredTo('/busy')
      const gap = (tries[1]?.at ?? 0) - (tries[0]?.at ?? 0)
      assert.ok(gap >= 950, `the second attempt came ${gap} ms after a Retry-After of 1 s`)

      const [redirected] = await waitForDeliveries(request, 'dave', key('dave'), moved.id, 'permanently_failed')
      assert.equal(redirected.last_status, 302)
      assert.match(redirected.last_error, /redirects are not followed/)
      assert.equal(receiver.deliveredTo('/target').length, 0)
    })

    it('fails a delivery without a request when its endpoint was disabled before the attempt', async () => {
      const paused = await endpoint('erin', '/paused')
      // The first attempt fails; before answering, the owner disables the endpoint.
      receiver.on('/paused', async () => {
        const response = await request('PATCH', `/v1/webhooks/erin/${paused.id}`, { key: key('erin'), body: { enabled: false } })
        assert.equal(response.status, 200)
        return { status: 500 }
      })
      const jobId = await submitChatJob(request, 'erin', key('erin'))
      await waitForJob(request, 'erin', key('erin'), jobId)
      const [delivery] = await waitForDeliveries(request, 'erin', key('erin'), paused.id, 'permanently_failed')
      assert.equal(delivery.attempts, 1)
      assert.match(delivery.last_error, /disabled; nothing was sent/)
      assert.equal(receiver.deliveredTo('/paused').length, 1)
      const log = (await detail('erin', paused.id, delivery.id)).attempt_log
      assert.equal(log.length, 1)
    })

    it('records why an attempt got no answer: a refused connection, a receiver slower than the timeout', async () => {
      receiver.on('/slow', async () => {
        // Far slower than the 600 ms timeout, so that an attempt's duration tells which ended it.
        await sleep(5_000)
        return { status: 200 }
      })
      const slow = await endpoint('frank', '/slow')
      const refused = await createEndpoint(request, 'frank', key('frank'), { url: `http://127.0.0.1:${await closedPort()}/hook` })
      const jobId = await submitChatJob(request, 'frank', key('frank'))
      await waitForJob(request, 'frank', key('frank'), jobId)

      const [unreachable] = await waitForDeliveries(request, 'frank', key('frank'), refused.id, 'permanently_failed')
      assert.equal(unreachable.last_status, null)
      assert.equal(unreachable.last_error, 'could not connect (ECONNREFUSED)')
      const [late] = await waitForDeliveries(request, 'frank', key('frank'), slow.id, 'permanently_failed', 1, 20_000)
      assert.equal(late.attempts, 4)
      assert.match(late.last_error, /^timeout: .* \(600 ms\)$/)
      for (const attempt of (await detail('frank', slow.id, late.id)).attempt_log) {
        assert.equal(attempt.status, null)
        assert.ok(attempt.duration_ms >= 550 && attempt.duration_ms < 4_000, `an attempt took ${attempt.duration_ms} ms`)
        assert.equal(attempt.response_excerpt, null)
      }
    })
  })
}
