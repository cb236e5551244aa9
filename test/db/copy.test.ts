import assert from 'node:assert/strict'
import { randomBytes, randomUUID } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import pg from 'pg'
import { startEmbeddedPostgres } from '../../src/db/embedded/index.js'
import { createLogger } from '../../src/logger.js'
import { runCli } from '../helpers/cli.js'
import { createTestDatabase, DATABASES, type DatabaseKind, type TestDatabase } from '../helpers/databases.js'
import { createUser, requester, startTestServer } from '../helpers/server.js'

const ENCRYPTION_KEY = `copy-test-encryption-${randomBytes(16).toString('hex')}`
const ADMIN_KEY = `copy-test-admin-${randomBytes(16).toString('hex')}`
const RECORDS = 1200
const vector = (k: number) => [Math.sin(k), Math.cos(k), Math.sin(2 * k), Math.cos(3 * k)]

/**
 * A database to copy into: a fresh database on the PostgreSQL server (TEST_DATABASE_URL, which
 * has no pgvector: vectors land in the portable storage), or a fresh embedded database served
 * over its socket while the copy runs (pgvector storage), which a server then opens as usual.
 */
interface CopyTarget {
  database: TestDatabase
  url: string
  /** While serving, the CLI can reach it at `url`; an embedded database must be closed before a server opens it. */
  serve(): Promise<void>
  close(): Promise<void>
}

async function createCopyTarget(kind: DatabaseKind): Promise<CopyTarget> {
  const database = await createTestDatabase(kind)
  if (kind === 'postgres') return { database, url: database.env.DATABASE_URL as string, serve: async () => {}, close: async () => {} }
  let stop: (() => Promise<void>) | undefined
  const target: CopyTarget = {
    database,
    url: '',
    serve: async () => {
      const embedded = await startEmbeddedPostgres({ dataDir: database.dataDir, logger: createLogger({ level: 'silent' }) })
      target.url = `postgres://postgres@localhost/postgres?host=${embedded.socketDir}`
      stop = embedded.stop
    },
    close: async () => {
      await stop?.()
      stop = undefined
    },
  }
  return target
}

async function query(url: string, text: string) {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query(text)).rows
  } finally {
    await client.end()
  }
}

const env = { ENCRYPTION_KEY, LLMBASE_ADMIN_KEY: ADMIN_KEY }

describe('llmbase db copy', () => {
  let source: TestDatabase
  const keys: Record<string, string> = {}
  /** What the source answered, to compare the copies with. */
  const seen: Record<string, unknown> = {}
  const cleanups: Array<() => Promise<void>> = []

  before(async () => {
    source = await createTestDatabase('embedded')
    cleanups.push(source.cleanup)
    const server = await startTestServer('embedded', { testDatabase: source, env: { ENCRYPTION_KEY, LLMBASE_WORKER_CONCURRENCY: '0', LLMBASE_ALLOW_PRIVATE_ENDPOINTS: 'true' } })
    try {
      keys.alice = (await createUser(server, 'alice')).key
      keys.bob = (await createUser(server, 'bob')).key
      const alice = requester(server.url, keys.alice)
      keys.aliceCi = (await alice('POST', '/v1/users/alice/keys', { body: { label: 'ci' } })).body.key
      const instance = await alice('PUT', '/v1/llm-instances/alice/four', {
        body: { instance_handle: 'four', endpoint: 'https://api.example.org/v1/embeddings', model: 'm', dimensions: 4, api_key: 'sk-copy-secret' },
      })
      assert.equal(instance.status, 201, instance.text)
      assert.equal((await alice('PUT', '/v1/projects/alice/letters', { body: { project_handle: 'letters', instance_handle: 'four' } })).status, 201)
      assert.equal((await alice('POST', '/v1/projects/alice/letters/share', { body: { share_with_handle: 'bob', role: 'reader' } })).status, 201)
      for (let start = 0; start < RECORDS; start += 400) {
        const embeddings = Array.from({ length: 400 }, (_, i) => ({ text_id: `r${String(start + i).padStart(4, '0')}`, vector: vector(start + i), text: `text ${start + i}`, metadata: { k: start + i } }))
        assert.equal((await alice('POST', '/v1/embeddings/alice/letters', { body: { embeddings } })).status, 201)
      }
      const job = await alice('POST', '/v1/jobs/alice', { body: { type: 'embed', payload: { project: 'letters', items: [{ text_id: 'j1', text: 'hello' }] } } })
      assert.equal(job.status, 201, job.text)
      assert.equal((await alice('POST', '/v1/webhooks/alice', { body: { url: 'https://hooks.example.com/llmbase' } })).status, 201)
      // A gateway call without a provider: one row of the request log, as the log writer makes it.
      const { rows } = await server.running.database.pool.query("select id from users where handle = 'alice'")
      await server.running.database.pool.query(
        `insert into llm_requests (id, request_id, user_id, operation, model, stream, status, cache, attempts, prompt_tokens, completion_tokens, total_tokens, cost_usd, latency_ms, created_at)
         values ($1, 'req-1', $2, 'chat', 'four', false, 200, 'off', 1, 10, 5, 15, 0.0000123456, 12.345678, now())`,
        [randomUUID(), rows[0].id],
      )
      seen.export = (await alice('GET', '/v1/embeddings/alice/letters/export')).text
      seen.similars = (await alice('POST', '/v1/similars/alice/letters?threshold=0&include=text,metadata', { body: { vector: vector(7) } })).body
      seen.jobs = (await alice('GET', '/v1/jobs/alice')).body
      seen.webhooks = (await alice('GET', '/v1/webhooks/alice')).body
      seen.requests = (await alice('GET', '/v1/requests/alice')).body
      seen.project = (await alice('GET', '/v1/projects/alice/letters')).body
    } finally {
      await server.close()
    }
  })
  after(() => Promise.all(cleanups.map((cleanup) => cleanup())))

  const copy = (to: string) => runCli(['db', 'copy', '--to', to], { LLMBASE_DATA_DIR: source.dataDir, ...env })

  it('describes the command and its exit codes in --help', async () => {
    const help = await runCli(['db', 'copy', '--help'])
    assert.equal(help.code, 0)
    for (const option of ['--to', '--database-url', '--data-dir']) assert.ok(help.stdout.includes(option), option)
    assert.match(help.stdout.replace(/\s+/g, ' '), /Exit code 0 when every table has as many rows in the target as in the source, 1 otherwise or on any failure/)
  })

  // Without TEST_DATABASE_URL the copy goes to an embedded database only (served over its socket).
  for (const kind of DATABASES) {
    describe(`into a fresh ${kind} database`, () => {
      let target: CopyTarget

      before(async () => {
        target = await createCopyTarget(kind)
        cleanups.push(target.database.cleanup)
      })

      it('copies everything: old keys work, the provider key still decrypts, records and search are identical, ids go on', async () => {
        await target.serve()
        const result = await copy(target.url)
        await target.close()
        assert.equal(result.code, 0, result.stderr)
        for (const [table, rows] of [['users', 3], ['api_keys', 3], ['embeddings', RECORDS], ['jobs', 1], ['webhook_endpoints', 1], ['llm_requests', 1], ['project_shares', 1]] as const) {
          assert.match(result.stdout, new RegExp(`^${table} +${rows} +${rows}  ok$`, 'm'), table)
        }
        assert.match(result.stdout, /^vector_indexes +\d+ +- {2}not copied/m)
        assert.match(result.stdout, /^Copied: every table has as many rows in the target as in the source\.$/m)
        assert.match(result.stderr, /copying embeddings/)

        const checked = await runCli(['keys', 'check'], { ...target.database.env, ...env })
        assert.equal(checked.code, 0, checked.stdout + checked.stderr)
        assert.match(checked.stdout, /^2 of 2 stored provider keys and webhook secrets decrypt/m)

        const server = await startTestServer(kind, { testDatabase: target.database, env: { ENCRYPTION_KEY, LLMBASE_WORKER_CONCURRENCY: '0' } })
        try {
          const alice = requester(server.url, keys.alice as string)
          assert.equal((await alice('GET', '/v1/users/alice')).status, 200)
          assert.equal((await requester(server.url, keys.aliceCi as string)('GET', '/v1/users/alice')).status, 200, 'the second key too')
          const instance = await alice('GET', '/v1/llm-instances/alice/four')
          assert.equal(instance.body.has_api_key, true)
          assert.equal(instance.body.api_key_status, 'ok')
          assert.equal((await alice('GET', '/v1/embeddings/alice/letters/export')).text, seen.export)
          assert.deepEqual((await alice('POST', '/v1/similars/alice/letters?threshold=0&include=text,metadata', { body: { vector: vector(7) } })).body, seen.similars)
          assert.deepEqual((await alice('GET', '/v1/jobs/alice')).body, seen.jobs)
          assert.deepEqual((await alice('GET', '/v1/webhooks/alice')).body, seen.webhooks)
          assert.deepEqual((await alice('GET', '/v1/requests/alice')).body, seen.requests)
          const project = (await alice('GET', '/v1/projects/alice/letters')).body
          const { search_index: _a, ...copied } = project
          const { search_index: _b, ...original } = seen.project as Record<string, unknown>
          assert.deepEqual(copied, original)
          assert.equal((await requester(server.url, keys.bob as string)('GET', '/v1/projects/alice/letters')).body.role, 'reader')

          // New rows get ids after the copied ones.
          const carol = await createUser(server, 'carol')
          const carolApi = requester(server.url, carol.key)
          const created = await carolApi('PUT', '/v1/llm-instances/carol/two', { body: { instance_handle: 'two', endpoint: 'https://api.example.org/v1/embeddings', model: 'm', dimensions: 4 } })
          assert.equal(created.status, 201, created.text)
          assert.ok(created.body.instance_id > instance.body.instance_id)
          const added = await alice('POST', '/v1/embeddings/alice/letters', { body: { embeddings: [{ text_id: 'new', vector: [1, 0, 0, 0] }] } })
          assert.equal(added.status, 201, added.text)
          assert.equal((await alice('GET', '/v1/projects/alice/letters')).body.number_of_embeddings, RECORDS + 1)
        } finally {
          await server.close()
        }
      })

      it('refuses a target that holds data, naming it, and changes nothing', async () => {
        await target.serve()
        try {
          const before = await query(target.url, 'select (select count(*)::int from users) as users, (select count(*)::int from embeddings) as records')
          const result = await copy(target.url)
          assert.equal(result.code, 1)
          assert.match(result.stderr, /^llmbase: the target database already holds data \(.*embeddings: 1201 rows.*users: 3 rows.*\); llmbase db copy writes only into an empty database, and changed nothing$/m)
          assert.deepEqual(await query(target.url, 'select (select count(*)::int from users) as users, (select count(*)::int from embeddings) as records'), before)
        } finally {
          await target.close()
        }
      })

      it('writes nothing when it fails midway, says why, and a retry into the cleaned target works', async () => {
        const fresh = await createCopyTarget(kind)
        cleanups.push(fresh.database.cleanup)
        await fresh.serve()
        try {
          assert.equal((await runCli(['migrate', 'up', '--database-url', fresh.url], env)).code, 0)
          await query(fresh.url, "alter table embeddings add constraint copy_test_poison check (text_id <> 'r0700')")
          const failed = await copy(fresh.url)
          assert.equal(failed.code, 1)
          assert.match(failed.stderr, /^llmbase: copying table embeddings failed after \d+ of 1200 rows: .*copy_test_poison.*it holds nothing of this copy/m)
          assert.deepEqual(await query(fresh.url, 'select (select count(*)::int from users) as users, (select count(*)::int from embeddings) as records, (select count(*)::int from jobs) as jobs'), [
            { users: 1, records: 0, jobs: 0 },
          ])
          await query(fresh.url, 'alter table embeddings drop constraint copy_test_poison')
          const retried = await copy(fresh.url)
          assert.equal(retried.code, 0, retried.stderr)
          assert.deepEqual(await query(fresh.url, 'select (select count(*)::int from users) as users, (select count(*)::int from embeddings) as records'), [{ users: 3, records: RECORDS }])
        } finally {
          await fresh.close()
        }
      })
    })
  }
})
