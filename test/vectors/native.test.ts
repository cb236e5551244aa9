import assert from 'node:assert/strict'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { killGroup, spawnServer } from '../helpers/cli.js'
import { createTestDatabase, DATABASES, embeddedDataDirs } from '../helpers/databases.js'
import { createUser, requester, startTestServer, type Requester } from '../helpers/server.js'
import { gaussianMixture } from '../helpers/vectors.js'

/**
 * What only the native engine has to prove: its index lives outside the database, so it
 * must survive crashes and damage, follow other processes' writes, and hold what pgvector
 * cannot (vectors above 4,000 dimensions in an index).
 */
const ADMIN = 'n'.repeat(40)
const DIMENSIONS = 16
// Small thresholds, so that a test-sized project gets its index at once and is saved soon after.
const NATIVE = {
  LLMBASE_VECTOR_ENGINE: 'native',
  LLMBASE_EXACT_SEARCH_MAX_ROWS: '500',
  LLMBASE_INDEX_BUILD_DELAY_MS: '50',
  LLMBASE_NATIVE_SAVE_DELAY_MS: '50',
  LLMBASE_NATIVE_BUILD_THREADS: '1',
}
const data = gaussianMixture({ count: 1500, dimensions: DIMENSIONS, queries: 0, centroids: 10, seed: 11 })
const record = (i: number) => ({ text_id: `r${i}`, vector: Array.from(data.points[i] as Float32Array) })

async function createProject(request: Requester, key: string, dimensions = DIMENSIONS) {
  assert.equal((await request('PUT', '/v1/llm-instances/alice/emb', { key, body: { instance_handle: 'emb', endpoint: 'https://api.example.org/e', model: 'm', dimensions } })).status, 201)
  assert.equal((await request('PUT', '/v1/projects/alice/proj', { key, body: { project_handle: 'proj', instance_handle: 'emb' } })).status, 201)
}

async function write(request: Requester, key: string, from: number, to: number) {
  for (let start = from; start < to; start += 500) {
    const embeddings = Array.from({ length: Math.min(500, to - start) }, (_, i) => record(start + i))
    assert.equal((await request('POST', '/v1/embeddings/alice/proj', { key, body: { embeddings } })).status, 201)
  }
}

/** The nearest record to stored record i's own vector: itself, when the engine holds it. */
async function nearest(request: Requester, key: string, vector: number[]): Promise<string | undefined> {
  const response = await request('POST', '/v1/similars/alice/proj?limit=1&threshold=-1', { key, body: { vector } })
  assert.equal(response.status, 200, JSON.stringify(response.body))
  return response.body.results[0]?.id
}

async function waitForIndex(request: Requester, key: string) {
  for (let waited = 0; ; waited += 100) {
    const index = (await request('GET', '/v1/projects/alice/proj', { key })).body.search_index
    if (index.state === 'ready' && index.search === 'index') return index
    if (waited > 60_000) throw new Error(`the index was not built: ${JSON.stringify(index)}`)
    await sleep(100)
  }
}

const snapshotFolder = (dataDir: string) => {
  const root = join(dataDir, 'vector-index')
  const [project] = readdirSync(root).filter((name) => /^p\d+$/.test(name))
  assert.ok(project, 'a snapshot folder exists')
  return join(root, project)
}

async function waitForFile(path: string) {
  for (let waited = 0; ; waited += 50) {
    try {
      return readFileSync(path)
    } catch {
      if (waited > 30_000) throw new Error(`${path} was not written`)
      await sleep(50)
    }
  }
}

describe('the native engine across restarts of the embedded database', () => {
  const dataDirs = embeddedDataDirs()
  after(() => dataDirs.cleanup())

  /** A server process with alice's project of 1,000 records, indexed. */
  async function startIndexed() {
    const dataDir = await dataDirs.fresh()
    const env = { ...NATIVE, LLMBASE_DATA_DIR: dataDir, LLMBASE_ADMIN_KEY: ADMIN, ENCRYPTION_KEY: 'k'.repeat(40) }
    const server = await spawnServer(env)
    const request = requester(server.url, ADMIN)
    const { key } = await createUser({ request }, 'alice')
    await createProject(request, key)
    await write(request, key, 0, 1000)
    await waitForIndex(request, key)
    return { dataDir, env, server, request, key }
  }

  it('finds every vector after the server is killed (SIGKILL) following writes made since its last snapshot', async () => {
    const { dataDir, env, server: first, request, key } = await startIndexed()
    let second: Awaited<ReturnType<typeof spawnServer>> | undefined
    try {
      await waitForFile(join(snapshotFolder(dataDir), 'index.usearch'))
      // After the snapshot: more rows, an update, a deletion; then the process dies at once.
      await write(request, key, 1000, 1500)
      assert.equal((await request('POST', '/v1/embeddings/alice/proj', { key, body: { embeddings: [{ text_id: 'r3', vector: record(1499).vector.map((x) => -x) }] } })).status, 201)
      assert.equal((await request('DELETE', '/v1/embeddings/alice/proj/r7', { key })).status, 204)
      assert.equal(await nearest(request, key, record(1400).vector), 'r1400')
      killGroup(first)
      await first.exited

      second = await spawnServer(env)
      const again = requester(second.url, ADMIN)
      for (const i of [0, 1, 500, 999, 1000, 1250, 1499]) assert.equal(await nearest(again, key, record(i).vector), `r${i}`)
      assert.equal(await nearest(again, key, record(1499).vector.map((x) => -x)), 'r3', 'the update made after the snapshot')
      assert.notEqual(await nearest(again, key, record(7).vector), 'r7', 'the deletion made after the snapshot')
      assert.match(second.output(), /vector index loaded from the data folder/)
      const status = (await again('GET', '/v1/projects/alice/proj', { key })).body.search_index
      assert.equal(status.search, 'index')
    } finally {
      killGroup(first)
      if (second) killGroup(second)
    }
  })

  it('rebuilds a damaged saved index from the database instead of loading it', async () => {
    const { dataDir, env, server: first, key } = await startIndexed()
    let second: Awaited<ReturnType<typeof spawnServer>> | undefined
    try {
      killGroup(first, 'SIGTERM')
      await first.exited
      const file = join(snapshotFolder(dataDir), 'index.usearch')
      const bytes = readFileSync(file)
      for (let i = 64; i < bytes.length; i += 97) bytes[i] = (bytes[i] as number) ^ 0xff
      writeFileSync(file, bytes)

      second = await spawnServer(env)
      const again = requester(second.url, ADMIN)
      for (const i of [0, 123, 456, 999]) assert.equal(await nearest(again, key, record(i).vector), `r${i}`)
      assert.match(second.output(), /index\.usearch is damaged or missing/)
      await waitForIndex(again, key)
    } finally {
      killGroup(first)
      if (second) killGroup(second)
    }
  })
})

for (const kind of DATABASES.filter((k) => k === 'postgres')) {
  describe('two server processes on one PostgreSQL database, native engine', () => {
    it('each sees the writes and deletions made through the other at once', async () => {
      const testDatabase = await createTestDatabase(kind)
      const a = await startTestServer(kind, { env: NATIVE, testDatabase })
      const b = await startTestServer(kind, { env: NATIVE, testDatabase })
      try {
        const { key } = await createUser(a, 'alice')
        await createProject(a.request, key)
        await write(a.request, key, 0, 1000)
        assert.equal(await nearest(b.request, key, record(10).vector), 'r10')
        await waitForIndex(b.request, key)
        await write(b.request, key, 1000, 1001)
        assert.equal(await nearest(a.request, key, record(1000).vector), 'r1000')
        assert.equal((await a.request('DELETE', '/v1/embeddings/alice/proj/r10', { key })).status, 204)
        assert.notEqual(await nearest(b.request, key, record(10).vector), 'r10')
        assert.equal((await a.request('DELETE', '/v1/embeddings/alice/proj', { key })).status, 204)
        assert.equal(await nearest(b.request, key, record(20).vector), undefined, 'emptied through the other process')
      } finally {
        await a.close()
        await b.close()
        await testDatabase.cleanup()
      }
    })
  })
}

for (const kind of DATABASES) {
  describe(`vectors beyond pgvector's index limits, native engine on the ${kind} database`, () => {
    it('indexes and searches 4,100-dimensional vectors', async () => {
      const server = await startTestServer(kind, { env: NATIVE })
      try {
        const { key } = await createUser(server, 'alice')
        await createProject(server.request, key, 4100)
        const wide = (i: number) => Array.from({ length: 4100 }, (_, d) => Math.sin(i * 0.37 + d * 0.011) + (d % (i + 2) === 0 ? 1 : 0))
        for (let start = 0; start < 600; start += 100) {
          const embeddings = Array.from({ length: 100 }, (_, j) => ({ text_id: `w${start + j}`, vector: wide(start + j) }))
          assert.equal((await server.request('POST', '/v1/embeddings/alice/proj', { key, body: { embeddings } })).status, 201)
        }
        await waitForIndex(server.request, key)
        for (const i of [0, 299, 599]) assert.equal(await nearest(server.request, key, wide(i)), `w${i}`)
      } finally {
        await server.close()
      }
    })
  })
}

describe('the native engine within LLMBASE_NATIVE_MEMORY', () => {
  it('unloads the project searched least recently, and loads it again from its snapshot at its next search', async () => {
    const server = await startTestServer('embedded', { env: { ...NATIVE, LLMBASE_EXACT_SEARCH_MAX_ROWS: '20000', LLMBASE_NATIVE_MEMORY: '100KiB' }, captureLogs: true })
    try {
      const { key } = await createUser(server, 'alice')
      await createProject(server.request, key)
      assert.equal((await server.request('PUT', '/v1/projects/alice/second', { key, body: { project_handle: 'second', instance_handle: 'emb' } })).status, 201)
      await write(server.request, key, 0, 600)
      const embeddings = Array.from({ length: 600 }, (_, i) => record(i))
      assert.equal((await server.request('POST', '/v1/embeddings/alice/second', { key, body: { embeddings } })).status, 201)
      assert.equal(await nearest(server.request, key, record(1).vector), 'r1')
      const second = await server.request('POST', '/v1/similars/alice/second?limit=1&threshold=-1', { key, body: { vector: record(2).vector } })
      assert.equal(second.body.results[0].id, 'r2')
      assert.match(server.logText(), /vector index unloaded to stay within LLMBASE_NATIVE_MEMORY/)
      assert.equal(await nearest(server.request, key, record(3).vector), 'r3', 'found again after unloading')
      assert.match(server.logText(), /vector index loaded from the data folder/)
    } finally {
      await server.close()
    }
  })
})
