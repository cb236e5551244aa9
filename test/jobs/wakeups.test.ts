import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { DATABASES } from '../helpers/databases.js'
import { eventually, GATEWAY_TEST_ENV, mockEndpoint } from '../helpers/gateway.js'
import { createUser, startTestServer, type TestServer } from '../helpers/server.js'
import { type MockProvider, startMockProvider } from '../../src/mock-provider/index.js'

/**
 * On a PostgreSQL server, a job submitted to one process starts at once in another (by
 * LISTEN/NOTIFY), not at that process's next poll, which is set to ten minutes here.
 */
if (DATABASES.includes('postgres')) {
  describe('job wake-ups across processes on the postgres database', () => {
    let api: TestServer
    let workers: TestServer
    let mock: MockProvider
    let key: string
    before(async () => {
      mock = await startMockProvider()
      const shared = { ...GATEWAY_TEST_ENV, ENCRYPTION_KEY: `wake-${randomBytes(24).toString('hex')}`, LLMBASE_JOBS_POLL_MS: '600000' }
      api = await startTestServer('postgres', { env: { ...shared, LLMBASE_WORKER_CONCURRENCY: '0' } })
      workers = await startTestServer('postgres', { testDatabase: api.testDatabase, env: { ...shared, LLMBASE_WORKER_CONCURRENCY: '2' } })
      key = (await createUser(api, 'dave')).key
      const instance = await api.request('PUT', '/v1/llm-instances/dave/embed', {
        key,
        body: { instance_handle: 'embed', kind: 'embedding', api_standard: 'openai', endpoint: mockEndpoint(mock, 'openai', 'embeddings'), model: 'openai-embed-model', dimensions: 8, api_key: 'sk-dave' },
      })
      assert.equal(instance.status, 201, instance.text)
      const project = await api.request('PUT', '/v1/projects/dave/notes', { key, body: { project_handle: 'notes', instance_handle: 'embed' } })
      assert.equal(project.status, 201, project.text)
    })
    after(async () => {
      await workers?.close()
      await api?.close()
      await mock?.close()
    })

    it('starts a job submitted elsewhere long before the poll would, three times in a row', async () => {
      for (let i = 0; i < 3; i += 1) {
        const submitted = Date.now()
        const job = await api.request('POST', '/v1/jobs/dave', { key, body: { type: 'embed', payload: { project: 'notes', items: [{ text_id: `n${i}`, text: 'hello' }] } } })
        assert.equal(job.status, 201, job.text)
        const done = await eventually(async () => {
          const current = await api.request('GET', `/v1/jobs/dave/${job.body.id}`, { key })
          return current.body.state === 'succeeded' ? current.body : undefined
        }, 60_000)
        // The other process polls every ten minutes: a start within one proves the wake-up.
        assert.ok(Date.parse(done.started_at) - submitted < 60_000, `started ${Date.parse(done.started_at) - submitted} ms after submission`)
      }
    })
  })
}
