import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { after, before, describe, it } from 'node:test'
import { sql } from 'kysely'
import { encodeVector } from '../../src/vectors/codec.js'
import { distanceSql } from '../../src/vectors/pgvector/sql.js'
import { createTestDatabase, VECTOR_SETUPS } from '../helpers/databases.js'
import { createUser, startTestServer, type TestServer } from '../helpers/server.js'
import { exactNeighbours, gaussianMixture, recall } from '../helpers/vectors.js'

const COUNT = 4000
const DIMENSIONS = 64
const TENANTS = 10

// A small threshold so that a test-sized project gets its HNSW index.
const env = { LLMBASE_EXACT_SEARCH_MAX_ROWS: '1000', LLMBASE_INDEX_BUILD_DELAY_MS: '100' }

for (const { kind, engine, label, env: engineEnv } of VECTOR_SETUPS) {
  describe(`approximate search through an HNSW index, ${label}`, () => {
    let server: TestServer
    let alice: string
    const data = gaussianMixture({ count: COUNT, dimensions: DIMENSIONS, queries: 30, centroids: 20, seed: 7 })
    const id = (index: number) => `p${index}`

    before(async () => {
      server = await startTestServer(kind, { env: { ...env, ...engineEnv } })
      alice = (await createUser(server, 'alice')).key
      await server.request('PUT', '/v1/llm-instances/alice/mix', { key: alice, body: { instance_handle: 'mix', endpoint: 'https://api.example.org/e', model: 'm', dimensions: DIMENSIONS } })
      await server.request('PUT', '/v1/projects/alice/mix', { key: alice, body: { project_handle: 'mix', instance_handle: 'mix' } })
      for (let start = 0; start < COUNT; start += 1000) {
        const embeddings = data.points.slice(start, start + 1000).map((point, i) => ({
          text_id: id(start + i),
          vector: Array.from(point),
          metadata: { tenant: (start + i) % TENANTS, half: (start + i) % 2 === 0 },
        }))
        assert.equal((await server.request('POST', '/v1/embeddings/alice/mix', { key: alice, body: { embeddings } })).status, 201)
      }
      for (let waited = 0; ; waited += 200) {
        const project = await server.request('GET', '/v1/projects/alice/mix', { key: alice })
        if (project.body.search_index?.state === 'ready') break
        if (project.body.search_index?.state === 'failed') throw new Error('the index build failed')
        if (waited > 120_000) throw new Error(`the index was not built: ${JSON.stringify(project.body.search_index)}`)
        await sleep(200)
      }
    })
    after(() => server?.close())

    const search = async (vector: Float32Array, body: Record<string, unknown> = {}) => {
      const response = await server.request('POST', '/v1/similars/alice/mix?threshold=-1&limit=10', { key: alice, body: { vector: Array.from(vector), ...body } })
      assert.equal(response.status, 200, JSON.stringify(response.body))
      return response.body.results.map((r: { id: string }) => r.id) as string[]
    }

    it('builds the index once the project outgrows exact search, and searches through it', async () => {
      const project = await server.request('GET', '/v1/projects/alice/mix', { key: alice })
      const { state, search, rows_at_build: rowsAtBuild, error } = project.body.search_index
      assert.deepEqual({ state, search, error }, { state: 'ready', search: 'index', error: null })
      // Built as soon as writes paused past the threshold; later rows went into the live index.
      assert.ok(rowsAtBuild > 1000 && rowsAtBuild <= COUNT, `built at ${rowsAtBuild} rows`)
      if (engine !== 'pgvector') return
      const projectId = project.body.project_id as number
      const distance = distanceSql(DIMENSIONS, true, encodeVector(Array.from(data.queries[0] as Float32Array)))
      const plan = await sql<{ 'QUERY PLAN': string }>`explain select text_id from embeddings where project_id = ${sql.lit(projectId)} order by ${distance} limit 10`.execute(server.running.database.db)
      assert.match(plan.rows.map((r) => r['QUERY PLAN']).join('\n'), new RegExp(`Index Scan using embeddings_hnsw_p${projectId}`))
    })

    it('finds at least 95 % of the true 10 nearest neighbours', async () => {
      let total = 0
      for (const query of data.queries) {
        const expected = exactNeighbours(data.points, query, 10).map(id)
        total += recall(await search(query), expected)
      }
      const mean = total / data.queries.length
      assert.ok(mean >= 0.95, `recall@10 ${mean.toFixed(3)}`)
    })

    it('still fills the limit, with exact results, for a filter that keeps a 10 % tenant', async () => {
      let total = 0
      for (const query of data.queries.slice(0, 10)) {
        const found = await search(query, { filter: { tenant: 3 } })
        assert.equal(found.length, 10)
        total += recall(found, exactNeighbours(data.points, query, 10, (i) => i % TENANTS === 3).map(id))
      }
      assert.equal(total / 10, 1, 'few rows pass: they are all read, so the answer is exact')
    })

    it('fills the limit through the index for a filter that keeps half the rows', async () => {
      let total = 0
      for (const query of data.queries.slice(0, 10)) {
        const found = await search(query, { filter: { half: true } })
        assert.equal(found.length, 10, 'iterative index scans keep reading until enough rows pass')
        total += recall(found, exactNeighbours(data.points, query, 10, (i) => i % 2 === 0).map(id))
      }
      assert.ok(total / 10 >= 0.9, `filtered recall@10 ${(total / 10).toFixed(3)}`)
    })

    it('finds a record written after the index was built (read your writes)', async () => {
      const query = data.queries[5] as Float32Array
      await server.request('POST', '/v1/embeddings/alice/mix', { key: alice, body: { embeddings: [{ text_id: 'fresh', vector: Array.from(query) }] } })
      assert.equal((await search(query))[0], 'fresh')
      await server.request('DELETE', '/v1/embeddings/alice/mix/fresh', { key: alice })
      assert.ok(!(await search(query)).includes('fresh'), 'and forgets it once deleted')
    })

    it('drops the index when the project is emptied, and searches exactly again', async () => {
      const projectId = (await server.request('GET', '/v1/projects/alice/mix', { key: alice })).body.project_id
      assert.equal((await server.request('DELETE', '/v1/embeddings/alice/mix', { key: alice })).status, 204)
      const project = await server.request('GET', '/v1/projects/alice/mix', { key: alice })
      assert.equal(project.body.search_index.state, 'none')
      assert.equal(project.body.search_index.search, 'exact')
      assert.deepEqual((await search(data.queries[0] as Float32Array)).length, 0)
      if (engine !== 'pgvector') return
      const indexes = await server.running.database.pool.query('select 1 from pg_indexes where indexname = $1', [`embeddings_hnsw_p${projectId}`])
      assert.equal(indexes.rowCount, 0)
    })
  })
}

for (const { kind, label } of VECTOR_SETUPS.filter((s) => s.engine === 'pgvector')) {
  describe(`vector indexes of deleted users, ${label}`, () => {
    it('are dropped at the next start', async () => {
      const testDatabase = await createTestDatabase(kind)
      try {
        const first = await startTestServer(kind, { env: { ...env, LLMBASE_VECTOR_ENGINE: 'pgvector' }, testDatabase })
        const bob = await createUser(first, 'bob')
        await first.request('PUT', '/v1/llm-instances/bob/eight', { key: bob.key, body: { instance_handle: 'eight', endpoint: 'https://api.example.org/e', model: 'm', dimensions: 8 } })
        await first.request('PUT', '/v1/projects/bob/big', { key: bob.key, body: { project_handle: 'big', instance_handle: 'eight' } })
        const embeddings = Array.from({ length: 1200 }, (_, i) => ({ text_id: `r${i}`, vector: Array.from({ length: 8 }, (_, d) => Math.sin(i * 7 + d)) }))
        assert.equal((await first.request('POST', '/v1/embeddings/bob/big', { key: bob.key, body: { embeddings } })).status, 201)
        const projectId = (await first.request('GET', '/v1/projects/bob/big', { key: bob.key })).body.project_id
        const indexExists = async (server: typeof first) =>
          (await server.running.database.pool.query('select 1 from pg_indexes where indexname = $1', [`embeddings_hnsw_p${projectId}`])).rowCount === 1
        for (let waited = 0; !(await indexExists(first)); waited += 100) {
          if (waited > 60_000) throw new Error('the index was not built')
          await sleep(100)
        }
        assert.equal((await first.request('DELETE', '/v1/users/bob')).status, 204)
        assert.equal(await indexExists(first), true, 'deleting the user removes the project, not its index')
        await first.close()
        const second = await startTestServer(kind, { env: { ...env, LLMBASE_VECTOR_ENGINE: 'pgvector' }, testDatabase })
        try {
          assert.equal(await indexExists(second), false)
        } finally {
          await second.close()
        }
      } finally {
        await testDatabase.cleanup()
      }
    })
  })
}
