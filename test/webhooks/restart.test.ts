import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { createTestDatabase, DATABASES, type TestDatabase } from '../helpers/databases.js'
import { eventually, GATEWAY_TEST_ENV, putMockInstance } from '../helpers/gateway.js'
import { createUser, startTestServer, type TestServer } from '../helpers/server.js'
import { type MockProvider, startMockProvider } from '../../src/mock-provider/index.js'
import { createEndpoint, listDeliveries, submitChatJob, waitForDeliveries, waitForJob } from './helpers.js'
import { type Receiver, startReceiver } from './receiver.js'

/**
 * Deliveries live in the database, not in a process: a server that stops while they wait for
 * their next attempt leaves them to the next one, and the private-address policy of the server
 * that sends is the one that counts.
 */
for (const kind of DATABASES) {
  describe(`webhook deliveries across restarts on the ${kind} database`, () => {
    let testDatabase: TestDatabase
    let mock: MockProvider
    let receiver: Receiver
    let server: TestServer | undefined
    let key: string
    let endpointId: string
    // The same encryption key on every start: the endpoint's secret must decrypt after a restart.
    const env = {
      ...GATEWAY_TEST_ENV,
      ENCRYPTION_KEY: `webhook-restart-${randomBytes(24).toString('hex')}`,
      LLMBASE_WEBHOOK_RETRY_SCHEDULE: '300ms,1s,1s,1s,1s,1s,1s,1s',
      LLMBASE_JOBS_POLL_MS: '50',
    }

    before(async () => {
      mock = await startMockProvider()
      receiver = await startReceiver()
      testDatabase = await createTestDatabase(kind)
    })
    after(async () => {
      await server?.close()
      await receiver?.close()
      await mock?.close()
      await testDatabase?.cleanup()
    })

    it('delivers after a restart what was waiting for a retry when the server stopped', { timeout: 60_000 }, async () => {
      server = await startTestServer(kind, { testDatabase, env })
      key = (await createUser(server, 'alice')).key
      await putMockInstance({ server, mock, keys: { alice: key }, keyIds: {}, close: async () => {} }, 'alice', 'chat')
      const created = await createEndpoint(server.request, 'alice', key, { url: `${receiver.url}/hook` })
      endpointId = created.id
      receiver.secrets.set('/hook', created.secret)
      receiver.on('/hook', { status: 503 })

      const jobs: string[] = []
      for (let i = 0; i < 3; i++) jobs.push(await submitChatJob(server.request, 'alice', key))
      for (const id of jobs) await waitForJob(server.request, 'alice', key, id)
      const waiting = await waitForDeliveries(server.request, 'alice', key, endpointId, 'retrying', 3)
      assert.deepEqual(new Set(waiting.map((d) => d.job_id)), new Set(jobs))
      await server.close()
      server = undefined

      // The receiver recovers while no server runs.
      receiver.on('/hook', { status: 200 })
      server = await startTestServer(kind, { testDatabase, env })
      const delivered = await waitForDeliveries(server.request, 'alice', key, endpointId, 'succeeded', 3, 20_000)
      const tries = receiver.deliveredTo('/hook')
      assert.ok(tries.every((r) => r.verified && r.libraryVerified), 'every attempt, before and after the restart, is signed with the stored secret')
      for (const delivery of delivered) {
        assert.ok(delivery.attempts >= 2)
        const last = receiver.deliveredTo('/hook').filter((r) => r.headers['webhook-id'] === delivery.id).at(-1)
        assert.ok(last?.verified, `delivery ${delivery.id} arrived signed`)
      }
      await server.close()
      server = undefined
    })

    it('refuses at connect time a private receiver that the sending server does not allow', { timeout: 60_000 }, async () => {
      // Saved while private destinations were allowed; this server allows none (not even the mock,
      // so the job's request fails; the job's end is an event all the same).
      const strict = { ...env, LLMBASE_ALLOW_PRIVATE_ENDPOINTS: 'false', LLMBASE_WEBHOOK_RETRY_SCHEDULE: '50ms' }
      server = await startTestServer(kind, { testDatabase, env: strict })
      const before = receiver.received.length
      const jobId = await submitChatJob(server.request, 'alice', key, { max_attempts: 1 })
      const job = await eventually(async () => {
        const body = (await server!.request('GET', `/v1/jobs/alice/${jobId}`, { key })).body
        return ['succeeded', 'dead'].includes(body.state) ? body : undefined
      }, 15_000)
      const refused = await eventually(async () => {
        const deliveries = await listDeliveries(server!.request, 'alice', key, endpointId)
        return deliveries.find((d) => d.job_id === jobId && d.state === 'permanently_failed')
      }, 15_000)
      assert.equal(refused.event, `job.${job.state}`)
      assert.equal(refused.attempts, 2)
      assert.equal(refused.last_status, null)
      assert.match(refused.last_error, /private address 127\.0\.0\.1.*LLMBASE_PRIVATE_HOSTS/)
      assert.equal(receiver.received.length, before, 'no request reached the receiver')
      // Refused by policy, not by the receiver: the endpoint is disabled after the whole schedule all the same.
      const endpoint = (await server.request('GET', `/v1/webhooks/alice/${endpointId}`, { key })).body
      assert.equal(endpoint.enabled, false)
    })
  })
}
