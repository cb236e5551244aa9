import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, describe, it } from 'node:test'
import { createTestDatabase, DATABASES, type TestDatabase } from '../helpers/databases.js'
import { eventually, mockEndpoint } from '../helpers/gateway.js'
import { killGroup, type ServerProcess, spawnServer, spawnWorker } from '../helpers/cli.js'
import { requester, type Requester } from '../helpers/server.js'
import { type MockProvider, startMockProvider } from '../../src/mock-provider/index.js'

const JOBS = 6
const ITEMS = 600

/**
 * A worker killed with SIGKILL in the middle of embed jobs: every job still ends once, with
 * every record stored once, and none is left running. On a PostgreSQL server the worker is its
 * own process (`llmbase worker`) beside an API-only server; on the embedded database the
 * workers live in the server process, so the whole server is killed and started again.
 */
for (const kind of DATABASES) {
  describe(`jobs survive a killed worker on the ${kind} database`, () => {
    let testDatabase: TestDatabase
    let mock: MockProvider
    const processes: ServerProcess[] = []
    after(async () => {
      for (const p of processes) killGroup(p)
      await Promise.all(processes.map((p) => p.exited))
      await mock?.close()
      await testDatabase?.cleanup()
    })

    it('finishes every job exactly once after the worker dies mid-job', { timeout: 120_000 }, async () => {
      testDatabase = await createTestDatabase(kind)
      mock = await startMockProvider()
      // Each provider call takes a while, so that the kill lands in the middle of jobs.
      mock.setBehaviour('slow', { delayMs: 150 })
      const adminKey = `crash-admin-${randomBytes(24).toString('hex')}`
      const env = {
        ...testDatabase.env,
        LLMBASE_ADMIN_KEY: adminKey,
        ENCRYPTION_KEY: `crash-encryption-${randomBytes(24).toString('hex')}`,
        LLMBASE_ALLOW_PRIVATE_ENDPOINTS: 'true',
        LLMBASE_JOBS_LEASE_MS: '1500',
        LLMBASE_JOBS_POLL_MS: '200',
        LLMBASE_JOBS_BACKOFF_BASE_MS: '100',
        LLMBASE_WORKER_CONCURRENCY: '3',
        LLMBASE_NATIVE_BUILD_THREADS: '1',
      }
      const start = async (what: 'server' | 'worker', extra: string[] = []) => {
        const p = what === 'server' ? await spawnServer(env, { args: extra, timeoutMs: 60_000 }) : await spawnWorker(env, { timeoutMs: 60_000 })
        processes.push(p)
        return p
      }
      const separateWorker = kind === 'postgres'
      let server = await start('server', separateWorker ? ['--no-workers'] : [])
      let api: Requester = requester(server.url, adminKey)

      const user = await api('PUT', '/v1/users/carol', { body: { user_handle: 'carol', email: 'carol@example.org' } })
      assert.equal(user.status, 201, user.text)
      const instance = await api('PUT', '/v1/llm-instances/carol/embed', {
        body: { instance_handle: 'embed', kind: 'embedding', api_standard: 'openai', endpoint: mockEndpoint(mock, 'openai', 'embeddings', 'slow'), model: 'openai-embed-model', dimensions: 8, api_key: 'sk-carol' },
      })
      assert.equal(instance.status, 201, instance.text)
      const ids: string[] = []
      for (let j = 0; j < JOBS; j += 1) {
        const project = await api('PUT', `/v1/projects/carol/proj${j}`, { body: { project_handle: `proj${j}`, instance_handle: 'embed' } })
        assert.equal(project.status, 201, project.text)
        const items = Array.from({ length: ITEMS }, (_, i) => ({ text_id: `t${i}`, text: `text ${i} of project ${j}` }))
        const job = await api('POST', '/v1/jobs/carol', { body: { type: 'embed', payload: { project: `proj${j}`, items } } })
        assert.equal(job.status, 201, job.text)
        ids.push(job.body.id)
      }

      let worker = separateWorker ? await start('worker') : server
      const jobs = async () => Promise.all(ids.map(async (id) => (await api('GET', `/v1/jobs/carol/${id}`)).body))
      // Kill once some job is part-way: running, with progress recorded but not complete.
      await eventually(async () => ((await jobs()).some((j) => j.state === 'running' && j.progress.done > 0 && j.progress.done < ITEMS) ? true : undefined), 30_000)
      killGroup(worker, 'SIGKILL')
      await worker.exited
      if (separateWorker) {
        worker = await start('worker')
      } else {
        server = await start('server')
        api = requester(server.url, adminKey)
      }

      const finished = await eventually(async () => {
        const all = await jobs()
        return all.every((j) => j.state === 'succeeded') ? all : undefined
      }, 90_000)
      for (const job of finished) assert.deepEqual(job.progress, { done: ITEMS, total: ITEMS })
      // The killed jobs show it: a second attempt after an expired lease.
      assert.ok(finished.some((j) => j.attempts >= 2 && j.errors.some((e: { code: string }) => e.code === 'lease_expired')), 'some job was interrupted and resumed')
      for (let j = 0; j < JOBS; j += 1) {
        const textIds: string[] = []
        for (let offset = 0; ; offset += 200) {
          const page = await api('GET', `/v1/embeddings/carol/proj${j}?limit=200&offset=${offset}`)
          assert.equal(page.status, 200, page.text)
          textIds.push(...page.body.embeddings.map((e: { text_id: string }) => e.text_id))
          if (page.body.embeddings.length < 200) break
        }
        assert.equal(textIds.length, ITEMS, `project proj${j} holds each record once`)
        assert.equal(new Set(textIds).size, ITEMS)
      }
      const running = await api('GET', '/v1/jobs/carol?state=running')
      assert.deepEqual(running.body, [])
    })
  })
}
