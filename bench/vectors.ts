/**
 * Vector store benchmark, on the same seeded data, in one run: llmbase's HTTP API on the
 * embedded database with each engine (native: usearch in process; pgvector: inside PGlite),
 * the engines it wraps (PGlite + pgvector with hand-written SQL; usearch in process, the
 * ceiling), and LanceDB, an embedded vector database from npm, as a peer.
 *
 *   npm run bench -- vectors                             # profile ci: 20k × 384
 *   npm run bench -- vectors --profile full              # 100k × 384 and 50k × 1536
 *   npm run bench -- vectors --systems api-native,raw    # a subset
 *
 * Each system runs in a child process of its own (memory and garbage collection do not leak
 * between them); the parent samples the child's process tree for peak memory and computes
 * recall@10 against exact neighbours. Data: a Gaussian mixture on the unit sphere (100
 * centroids, sigma 0.06), queries from the same mixture but not in the corpus, 10 tenants
 * (metadata `tenant` = index mod 10; the filtered queries ask for tenant 0, i.e. 10 %).
 * It prints figures; it never passes or fails.
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { Agent, request as httpRequest } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import { ensureTemplate } from '../test/helpers/template.js'
import { exactNeighbours, gaussianMixture, recall } from '../test/helpers/vectors.js'
import { percentile, table } from './_stats.js'

const { values } = parseArgs({
  options: {
    profile: { type: 'string', default: 'ci' },
    systems: { type: 'string', default: 'api-native,api-pgvector,raw,lancedb,usearch' },
    system: { type: 'string' },
    count: { type: 'string' },
    dimensions: { type: 'string' },
    queries: { type: 'string' },
  },
})

const PROFILES: Record<string, Array<{ count: number; dimensions: number; queries: number }>> = {
  ci: [{ count: 20_000, dimensions: 384, queries: 200 }],
  full: [
    { count: 100_000, dimensions: 384, queries: 300 },
    { count: 50_000, dimensions: 1536, queries: 200 },
  ],
}
const TENANTS = 10
const BATCH = 1000
const K = 10
// The same HNSW parameters everywhere: llmbase's defaults.
const HNSW = { m: 16, efConstruction: 128, efSearch: 100 }
/** The API builds the index once writes pause this long; subtracted from its build time. */
const BUILD_DELAY_MS = 3000

interface Measured {
  system: string
  ingestPerSecond: number
  /** With two clients uploading at once (the API parses one batch while the database writes another). */
  ingestTwoClientsPerSecond: number | null
  indexBuildSeconds: number
  healthzMaxMs: number | null
  oneClient: { qps: number; p50: number; p99: number }
  twoClients: { qps: number; p50: number; p99: number }
  results: string[][]
  filtered: string[][] | null
}

// ---- the parent: runs each system and reports -------------------------------------------

async function main() {
  const datasets = PROFILES[values.profile as string]
  if (!datasets) throw new Error(`unknown profile ${values.profile}; use ci or full`)
  const systems = (values.systems as string).split(',')
  console.log(`vector benchmark, profile ${values.profile}: ${systems.join(', ')}; HNSW m=${HNSW.m} ef_construction=${HNSW.efConstruction} ef_search=${HNSW.efSearch}`)
  for (const dataset of datasets) {
    const started = performance.now()
    const data = gaussianMixture({ ...dataset, seed: 42 })
    const truth = data.queries.map((q) => exactNeighbours(data.points, q, K).map(String))
    const filteredTruth = data.queries.map((q) => exactNeighbours(data.points, q, K, (i) => i % TENANTS === 0).map(String))
    console.log(`\n${dataset.count} × ${dataset.dimensions}, ${dataset.queries} queries (ground truth in ${((performance.now() - started) / 1000).toFixed(1)} s)`)
    const rows: Array<Record<string, string | number>> = []
    for (const system of systems) {
      const { results, peakMb } = await runChild(system, dataset)
      const meanRecall = (found: string[][], expected: string[][]) => found.reduce((sum, ids, i) => sum + recall(ids, expected[i] as string[]), 0) / found.length
      for (const measured of results) rows.push({
        system: measured.system,
        'ingest vec/s': Math.round(measured.ingestPerSecond),
        'ingest vec/s (2 clients)': measured.ingestTwoClientsPerSecond === null ? 'n/a' : Math.round(measured.ingestTwoClientsPerSecond),
        'index build s': measured.indexBuildSeconds.toFixed(1),
        'recall@10': meanRecall(measured.results, truth).toFixed(3),
        'QPS 1 client': Math.round(measured.oneClient.qps),
        'p50 / p99 ms': `${measured.oneClient.p50.toFixed(2)} / ${measured.oneClient.p99.toFixed(2)}`,
        'QPS 2 clients': Math.round(measured.twoClients.qps),
        'p50 / p99 ms (2)': `${measured.twoClients.p50.toFixed(2)} / ${measured.twoClients.p99.toFixed(2)}`,
        'filtered recall@10 (10 %)': measured.filtered ? meanRecall(measured.filtered, filteredTruth).toFixed(3) : 'n/a',
        'peak RSS MB': peakMb,
        'max /healthz ms during build': measured.healthzMaxMs === null ? 'n/a' : measured.healthzMaxMs.toFixed(1),
      })
    }
    console.log(table(rows))
  }
}

/** Runs one system in a child process and samples the memory of its whole process tree. */
async function runChild(system: string, dataset: { count: number; dimensions: number; queries: number }) {
  const self = fileURLToPath(import.meta.url)
  const child = spawn(process.execPath, ['--import', 'tsx', self, '--system', system, '--count', String(dataset.count), '--dimensions', String(dataset.dimensions), '--queries', String(dataset.queries)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let peakKb = 0
  const sampler = setInterval(() => (peakKb = Math.max(peakKb, treeRssKb(child.pid as number))), 100)
  let output = ''
  child.stdout.on('data', (chunk) => (output += chunk))
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
  clearInterval(sampler)
  if (code !== 0) throw new Error(`${system} failed with exit code ${code}`)
  const line = output.trim().split('\n').pop() as string
  const measured = JSON.parse(line) as Measured | Measured[]
  return { results: Array.isArray(measured) ? measured : [measured], peakMb: Math.round(peakKb / 1024) }
}

/** Resident memory of a process and all its descendants, from /proc. */
function treeRssKb(root: number): number {
  const parents = new Map<number, number>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]))
    } catch {}
  }
  let total = 0
  const visit = (pid: number) => {
    try {
      total += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0)
    } catch {}
    for (const [child, parent] of parents) if (parent === pid) visit(child)
  }
  visit(root)
  return total
}

// ---- the children: one system each ---------------------------------------------------------

async function runSystem(system: string) {
  const count = Number(values.count)
  const dimensions = Number(values.dimensions)
  const data = gaussianMixture({ count, dimensions, queries: Number(values.queries), seed: 42 })
  const runner = {
    'api-native': (d: Data, n: number) => benchApi(d, n, 'native'),
    'api-pgvector': (d: Data, n: number) => benchApi(d, n, 'pgvector'),
    raw: benchRawPglite,
    lancedb: benchLanceDb,
    usearch: benchUsearch,
  }[system]
  if (!runner) throw new Error(`unknown system ${system}`)
  const measured: Measured | Measured[] = await runner(data, dimensions)
  process.stdout.write(`${JSON.stringify(measured)}\n`)
}

type Data = ReturnType<typeof gaussianMixture>

const float32Digits = (value: number) => Number(value.toPrecision(9))

/** Runs `search` for every query, with `clients` concurrent loops; returns ids and timings. */
async function runQueries(data: Data, clients: number, search: (query: Float32Array) => Promise<string[]>) {
  const results: string[][] = new Array(data.queries.length)
  const times: number[] = []
  let next = 0
  const started = performance.now()
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < data.queries.length) {
        const index = next++
        const t0 = performance.now()
        results[index] = await search(data.queries[index] as Float32Array)
        times.push(performance.now() - t0)
      }
    }),
  )
  const seconds = (performance.now() - started) / 1000
  times.sort((a, b) => a - b)
  return { results, timing: { qps: data.queries.length / seconds, p50: percentile(times, 50), p99: percentile(times, 99) } }
}

/** The query phases every system runs: a warm-up, one client, two clients, and (where it can) the 10 % tenant filter. */
async function queryPhases(data: Data, search: (query: Float32Array) => Promise<string[]>, filteredSearch?: (query: Float32Array) => Promise<string[]>) {
  await runQueries({ ...data, queries: data.queries.slice(0, 20) }, 1, search)
  const one = await runQueries(data, 1, search)
  const two = await runQueries(data, 2, search)
  const filtered = filteredSearch ? await runQueries(data, 1, filteredSearch) : null
  return { oneClient: one.timing, twoClients: two.timing, results: one.results, filtered: filtered?.results ?? null }
}

/**
 * The API runs as `llmbase serve` in a process of its own, as in production, and this process
 * is its client: the figures are the server's, not a client's sharing its event loop.
 */
async function benchApi(data: Data, dimensions: number, engine: 'native' | 'pgvector'): Promise<Measured> {
  const dataDir = mkdtempSync(join(tmpdir(), 'llmbase-bench-'))
  cpSync(await ensureTemplate(), join(dataDir, 'pgdata'), { recursive: true })
  const adminKey = `bench-${randomBytes(16).toString('hex')}`
  const root = fileURLToPath(new URL('..', import.meta.url))
  // BENCH_SERVER_NODE_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the server.
  const nodeFlags = (process.env.BENCH_SERVER_NODE_FLAGS ?? '').split(' ').filter(Boolean)
  const server = spawn(process.execPath, [...nodeFlags, '--import', import.meta.resolve('tsx'), join(root, 'src/cli.ts'), 'serve'], {
    cwd: dataDir,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: {
      PATH: process.env.PATH,
      LLMBASE_DATA_DIR: dataDir,
      PORT: '0',
      LLMBASE_ADMIN_KEY: adminKey,
      ENCRYPTION_KEY: randomBytes(24).toString('hex'),
      LOG_LEVEL: 'info',
      LLMBASE_VECTOR_ENGINE: engine,
      // An index for this project too (by default projects up to 20k rows are searched exactly).
      LLMBASE_EXACT_SEARCH_MAX_ROWS: '5000',
      LLMBASE_INDEX_BUILD_DELAY_MS: String(BUILD_DELAY_MS),
      LLMBASE_HNSW_M: String(HNSW.m),
      LLMBASE_HNSW_EF_CONSTRUCTION: String(HNSW.efConstruction),
      // pgvector's; the native engine searches at its own default (LLMBASE_NATIVE_EF_SEARCH=150,
      // which its 8-bit index needs for the same recall).
      LLMBASE_HNSW_EF_SEARCH: String(HNSW.efSearch),
    },
  })
  const url = await new Promise<string>((resolve, reject) => {
    let buffered = ''
    server.stdout.on('data', (chunk) => {
      buffered += chunk
      const line = buffered.split('\n').find((l) => l.includes('"llmbase is listening"'))
      if (line) resolve(JSON.parse(line).url)
    })
    server.on('exit', (code) => reject(new Error(`the server exited (${code})`)))
  })
  // The server's own request log: how long each upload took inside the server.
  const serverMs: Record<string, number[]> = {}
  let logged = ''
  // BENCH_SERVER_LOG=<file> keeps the server's log, to see what it did during the run.
  const serverLog = process.env.BENCH_SERVER_LOG ? (await import('node:fs')).createWriteStream(process.env.BENCH_SERVER_LOG) : null
  server.stdout.on('data', (chunk) => {
    serverLog?.write(chunk)
    logged += chunk
    const lines = logged.split('\n')
    logged = lines.pop() ?? ''
    for (const line of lines) {
      if (!line.includes('"msg":"request"')) continue
      const entry = JSON.parse(line) as { route: string; method: string; duration_ms: number }
      ;(serverMs[`${entry.method} ${entry.route}`] ??= []).push(entry.duration_ms)
    }
  })
  // node:http with kept-alive connections: fetch costs the client about a millisecond per
  // request on this machine, which would hide the server's own time.
  const agent = new Agent({ keepAlive: true, maxSockets: 4 })
  const target = new URL(url)
  const call = (method: string, path: string, body?: string) =>
    new Promise<any>((resolve, reject) => {
      const headers: Record<string, string | number> = { authorization: `Bearer ${adminKey}` }
      if (body !== undefined) Object.assign(headers, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
      const request = httpRequest({ host: target.hostname, port: target.port, method, path, agent, headers }, (response) => {
        const chunks: Buffer[] = []
        response.on('data', (chunk: Buffer) => chunks.push(chunk))
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString()
          if ((response.statusCode ?? 0) >= 300) reject(new Error(`${method} ${path}: ${response.statusCode} ${text.slice(0, 300)}`))
          else resolve(text ? JSON.parse(text) : null)
        })
      })
      request.on('error', reject)
      request.end(body)
    })
  try {
    await call('PUT', '/v1/users/bench', JSON.stringify({ user_handle: 'bench', email: 'bench@example.org' }))
    await call('PUT', '/v1/llm-instances/bench/synthetic', JSON.stringify({ instance_handle: 'synthetic', endpoint: 'https://api.example.org/v1/embeddings', model: 'synthetic', dimensions }))
    await call('PUT', '/v1/projects/bench/corpus', JSON.stringify({ project_handle: 'corpus', instance_handle: 'synthetic' }))

    // Bodies are serialised before the clock starts: the server's throughput is measured.
    const bodies: string[] = []
    for (let start = 0; start < data.points.length; start += BATCH) {
      // Batches of 1,000 records as a client sends them: each value written with the 9
      // significant digits that identify a 32-bit float (as numpy prints float32, and about
      // what embedding APIs return), not the 17 of the double it was widened to.
      const embeddings = data.points.slice(start, start + BATCH).map((point, i) => ({ text_id: String(start + i), vector: Array.from(point, float32Digits), metadata: { tenant: (start + i) % TENANTS } }))
      bodies.push(JSON.stringify({ embeddings }))
    }
    const half = Math.ceil(bodies.length / 2)
    const ingestStarted = performance.now()
    for (const body of bodies.slice(0, half)) await call('POST', '/v1/embeddings/bench/corpus', body)
    const ingestPerSecond = (half * BATCH) / ((performance.now() - ingestStarted) / 1000)
    // The second half with two clients at once.
    const rest = bodies.slice(half)
    const twoStarted = performance.now()
    await Promise.all([0, 1].map(async (lane) => {
      for (let i = lane; i < rest.length; i += 2) await call('POST', '/v1/embeddings/bench/corpus', rest[i])
    }))
    const ingestTwoClientsPerSecond = (data.points.length - half * BATCH) / ((performance.now() - twoStarted) / 1000)
    const uploads = (serverMs['POST /v1/embeddings/:user_handle/:project_handle'] ?? []).sort((a, b) => a - b)
    process.stderr.write(`server time per upload of ${BATCH}: p50 ${percentile(uploads, 50)} ms\n`)

    // The index is built once writes pause; watch /healthz meanwhile.
    const buildStarted = performance.now()
    let building = true
    let healthzMax = 0
    const watcher = (async () => {
      while (building) {
        const t0 = performance.now()
        await fetch(`${url}/healthz`).then((r) => r.text())
        healthzMax = Math.max(healthzMax, performance.now() - t0)
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    })()
    for (;;) {
      // While the embedded database builds, other queries wait for its one connection; a
      // request that waits too long is told 503 with Retry-After.
      const response = await fetch(`${url}/v1/projects/bench/corpus`, { headers: { authorization: `Bearer ${adminKey}` } })
      if (response.status === 503) {
        await response.text()
        continue
      }
      const state = ((await response.json()) as { search_index?: { state: string } }).search_index
      if (state?.state === 'ready') break
      if (state?.state === 'failed') throw new Error('index build failed')
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    const indexBuildSeconds = (performance.now() - buildStarted - BUILD_DELAY_MS) / 1000
    building = false
    await watcher

    const search = (filter?: object) => async (query: Float32Array) => {
      const body = JSON.stringify({ vector: Array.from(query, float32Digits), ...(filter ? { filter } : {}) })
      const response = await call('POST', '/v1/similars/bench/corpus?threshold=-1&limit=10', body)
      return (response.results as Array<{ id: string }>).map((r) => r.id)
    }
    const phases = await queryPhases(data, search(), search({ tenant: 0 }))
    const searches = (serverMs['POST /v1/similars/:user_handle/:project_handle'] ?? []).sort((a, b) => a - b)
    process.stderr.write(`${engine}: server time per search (all kinds): p50 ${percentile(searches, 50)} ms, p99 ${percentile(searches, 99)} ms\n`)
    return { system: `llmbase API, ${engine} engine`, ingestPerSecond, ingestTwoClientsPerSecond, indexBuildSeconds, healthzMaxMs: healthzMax, ...phases }
  } finally {
    server.kill('SIGTERM')
    await new Promise((resolve) => server.on('exit', resolve))
    rmSync(dataDir, { recursive: true, force: true })
  }
}

async function benchRawPglite(data: Data, dimensions: number): Promise<Measured> {
  const { PGlite } = await import('@electric-sql/pglite')
  const { vector } = await import('@electric-sql/pglite-pgvector')
  const db = await PGlite.create({ extensions: { vector } })
  await db.exec(`create extension vector;
    create table embeddings (id bigint generated always as identity primary key, project_id bigint not null, text_id text collate "C" not null,
      text text, vector vector not null, dimensions int not null, metadata jsonb, unique (project_id, text_id))`)
  // Ingest the fastest way PGlite offers: binary COPY from an in-memory blob.
  const ingestStarted = performance.now()
  for (let start = 0; start < data.points.length; start += BATCH) {
    const blob = copyBinary(data.points.slice(start, start + BATCH), start, dimensions)
    await db.query(`copy embeddings (project_id, text_id, vector, dimensions, metadata) from '/dev/blob' with (format binary)`, [], { blob: new Blob([blob]) })
  }
  const ingestPerSecond = data.points.length / ((performance.now() - ingestStarted) / 1000)
  const type = dimensions <= 2000 ? `vector(${dimensions})` : `halfvec(${dimensions})`
  const ops = dimensions <= 2000 ? 'vector_cosine_ops' : 'halfvec_cosine_ops'
  const buildStarted = performance.now()
  await db.exec(`set maintenance_work_mem = '512MB'; create index on embeddings using hnsw ((vector::${type}) ${ops}) with (m = ${HNSW.m}, ef_construction = ${HNSW.efConstruction}) where project_id = 1`)
  const indexBuildSeconds = (performance.now() - buildStarted) / 1000
  await db.exec(`set hnsw.ef_search = ${HNSW.efSearch}; set hnsw.iterative_scan = relaxed_order`)
  const search = (filtered: boolean) => async (query: Float32Array) => {
    const result = await db.query<{ text_id: string }>(
      `select text_id from embeddings where project_id = 1 ${filtered ? `and metadata @> '{"tenant": 0}'` : ''}
       order by vector::${type} <=> $1::vector::${type} limit 10`,
      [`[${Array.from(query).join(',')}]`],
    )
    return result.rows.map((r) => r.text_id)
  }
  const phases = await queryPhases(data, search(false), search(true))
  await db.close()
  return { system: 'raw PGlite + pgvector', ingestPerSecond, ingestTwoClientsPerSecond: null, indexBuildSeconds, healthzMaxMs: null, ...phases }
}

/** PostgreSQL's binary COPY format for (project_id int8, text_id text, vector, dimensions int4, metadata jsonb). */
function copyBinary(points: Float32Array[], offset: number, dimensions: number): Buffer {
  const parts: Buffer[] = [Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)]
  points.forEach((point, i) => {
    const textId = Buffer.from(String(offset + i))
    const metadata = Buffer.concat([Buffer.from([1]), Buffer.from(JSON.stringify({ tenant: (offset + i) % TENANTS }))])
    const row = Buffer.alloc(2 + 4 + 8 + 4 + textId.length + 4 + 4 + 4 * dimensions + 4 + 4 + 4 + metadata.length)
    let at = row.writeInt16BE(5, 0)
    at = row.writeInt32BE(8, at)
    at = row.writeBigInt64BE(1n, at)
    at = row.writeInt32BE(textId.length, at)
    at += textId.copy(row, at)
    at = row.writeInt32BE(4 + 4 * dimensions, at)
    at = row.writeInt16BE(dimensions, at)
    at = row.writeInt16BE(0, at)
    for (const value of point) at = row.writeFloatBE(value, at)
    at = row.writeInt32BE(4, at)
    at = row.writeInt32BE(dimensions, at)
    at = row.writeInt32BE(metadata.length, at)
    metadata.copy(row, at)
    parts.push(row)
  })
  parts.push(Buffer.from([0xff, 0xff]))
  return Buffer.concat(parts)
}

async function benchUsearch(data: Data, dimensions: number): Promise<Measured> {
  const { Index, MetricKind, ScalarKind } = await import('usearch')
  const index = new Index({
    metric: MetricKind.Cos,
    quantization: ScalarKind.F32,
    dimensions,
    connectivity: HNSW.m,
    expansion_add: HNSW.efConstruction,
    expansion_search: HNSW.efSearch,
    multi: false,
  })
  const flat = new Float32Array(data.points.length * dimensions)
  data.points.forEach((point, i) => flat.set(point, i * dimensions))
  const keys = new BigUint64Array(data.points.length).map((_, i) => BigInt(i))
  // In memory there is no separate ingest: adding the vectors builds the graph.
  const buildStarted = performance.now()
  index.add(keys, flat)
  const indexBuildSeconds = (performance.now() - buildStarted) / 1000
  const search = async (query: Float32Array) => Array.from(index.search(query, K, 1).keys, (key) => String(key))
  const phases = await queryPhases(data, search)
  return { system: 'usearch in-process (ceiling)', ingestPerSecond: data.points.length / indexBuildSeconds, ingestTwoClientsPerSecond: null, indexBuildSeconds, healthzMaxMs: null, ...phases }
}

/**
 * LanceDB (`@lancedb/lancedb`) as an embedded peer: a table in a temporary folder, its
 * IVF_HNSW_SQ index with one partition (one HNSW graph over int8-quantised vectors) and the
 * same m and ef_construction, searched at ef 100 and, to reach equal recall, with the
 * candidates re-ranked on the full vectors (`refineFactor`).
 */
async function benchLanceDb(data: Data): Promise<Measured[]> {
  const lancedb = await import('@lancedb/lancedb')
  const dir = mkdtempSync(join(tmpdir(), 'llmbase-bench-lance-'))
  try {
    const db = await lancedb.connect(dir)
    const rows = (start: number) => data.points.slice(start, start + BATCH).map((point, i) => ({ id: String(start + i), tenant: (start + i) % TENANTS, vector: Array.from(point) }))
    const ingestStarted = performance.now()
    const table = await db.createTable('corpus', rows(0))
    for (let start = BATCH; start < data.points.length; start += BATCH) await table.add(rows(start))
    const ingestPerSecond = data.points.length / ((performance.now() - ingestStarted) / 1000)
    const buildStarted = performance.now()
    await table.createIndex('vector', { config: lancedb.Index.hnswSq({ distanceType: 'cosine', m: HNSW.m, efConstruction: HNSW.efConstruction, numPartitions: 1 }) })
    const indexBuildSeconds = (performance.now() - buildStarted) / 1000
    const measured: Measured[] = []
    for (const refine of [0, 4]) {
      const search = (filtered: boolean) => async (query: Float32Array) => {
        let q = table.vectorSearch(Array.from(query)).distanceType('cosine').ef(HNSW.efSearch).limit(K).select(['id', '_distance'])
        if (refine > 0) q = q.refineFactor(refine)
        if (filtered) q = q.where('tenant = 0')
        return ((await q.toArray()) as Array<{ id: string }>).map((r) => r.id)
      }
      const phases = await queryPhases(data, search(false), search(true))
      const system = `LanceDB 0.31 (HNSW-SQ, ef ${HNSW.efSearch}${refine ? `, refine ×${refine}` : ''})`
      measured.push({ system, ingestPerSecond, ingestTwoClientsPerSecond: null, indexBuildSeconds, healthzMaxMs: null, ...phases })
    }
    return measured
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

if (values.system) await runSystem(values.system)
else await main()
