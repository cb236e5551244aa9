/**
 * Job queue benchmark: how many no-op jobs per second go through the queue, and how long a job
 * waits from its enqueue to the start of its handler, for llmbase's queue (src/jobs: JobQueue
 * and Worker) on a PostgreSQL server and on the embedded database, beside pg-boss on the same
 * server in the same run.
 *
 *   npm run bench -- jobs                                   # everything, about 2.5 minutes
 *   npm run bench -- jobs --only server,pgboss              # some of the setups
 *   npm run bench -- jobs --database-url postgres://postgres@127.0.0.1:5432/test --repeat 5
 *   npm run bench -- jobs --only server --concurrency 4,32,64,128 --workers 1,2   # a settings sweep
 *
 * Options:
 *   --database-url     a database on the server this run may connect to; the run creates a fresh
 *                      database beside it (llmbase_bench_jobs_<pid>) and drops it at the end
 *                      (default postgres://postgres@127.0.0.1:5432/test)
 *   --only             any of server,embedded,pgboss (default all three)
 *   --jobs             jobs per throughput run on the server (default 20000)
 *   --embedded-jobs    jobs per throughput run on the embedded database (default 5000)
 *   --repeat           throughput runs per setting, interleaved; the median is reported (default 3)
 *   --concurrency, --workers
 *                      llmbase's Worker settings, comma lists; every combination is measured and
 *                      the fastest is the one compared (default 64 and 1)
 *   --pgboss           pg-boss work() settings as batchSize x work() calls on the queue, comma
 *                      list (default 50x1,50x4)
 *   --rate, --seconds  the latency measurement: enqueues per second and for how long
 *                      (default 200 and 10)
 *   --embedded-rates   latency rates on the embedded database (default 50,200)
 *
 * Throughput: the jobs are inserted first (multi-row inserts, then VACUUM ANALYZE, so that the
 * planner knows the table as it would in a queue that has been running), then the workers
 * start; the clock runs from their start until the database shows every job finished (the
 * handlers count their calls; once all have run, the table is polled every 2 ms for the last
 * completions). Latency: with the workers idle, jobs are enqueued one at a time on a fixed
 * schedule (open loop: an enqueue does not wait for the one before it); a job's delay is its
 * handler's start minus the moment its enqueue call began.
 *
 * It prints figures, and the issue's targets beside them; it never passes or fails.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import pg from 'pg'
import PgBoss from 'pg-boss'
import { loadConfig } from '../src/config.js'
import { type Database, openDatabase } from '../src/db/database.js'
import { migrateUp } from '../src/db/migrate.js'
import { JobQueue, type QueueOptions } from '../src/jobs/queue.js'
import type { JobHandler } from '../src/jobs/types.js'
import { LocalWakeups, PostgresWakeups, type Wakeups } from '../src/jobs/wakeups.js'
import { Worker } from '../src/jobs/worker.js'
import { deliverAttempts, webhookOutbox } from '../src/webhooks/outbox.js'
import { createLogger } from '../src/logger.js'
import { ensureTemplate } from '../test/helpers/template.js'
import { commitOf, percentile, table } from './_stats.js'

const { values } = parseArgs({
  options: {
    'database-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/test' },
    only: { type: 'string', default: 'server,embedded,pgboss' },
    jobs: { type: 'string', default: '20000' },
    'embedded-jobs': { type: 'string', default: '5000' },
    repeat: { type: 'string', default: '3' },
    // The fastest of 4 (the configured default), 32, 64 and 128, with 1 or 2 Worker instances,
    // on this 2-core machine: from 64 up the rate levels off.
    concurrency: { type: 'string', default: '64' },
    workers: { type: 'string', default: '1' },
    pgboss: { type: 'string', default: '50x1,50x4' },
    rate: { type: 'string', default: '200' },
    seconds: { type: 'string', default: '10' },
    'embedded-rates': { type: 'string', default: '50,200' },
  },
})

const SETUPS = ['server', 'embedded', 'pgboss'] as const
const TARGETS = { serverJobsPerSecond: 2000, serverP99Ms: 20, embeddedJobsPerSecond: 500 }
const ROOT = fileURLToPath(new URL('..', import.meta.url))
const NOOP = 'noop'
const INSERT_CHUNK = 1000
/** Idle workers get this long to reach their first sleep before a latency run starts. */
const SETTLE_MS = 500
/** How long a latency run waits for its last jobs before it counts the rest as not started. */
const DRAIN_MS = 10_000
const STOP_TIMEOUT_MS = 10_000

const logger = createLogger({ level: 'silent' })
// The queue's production defaults (lease, polling, attempts, pool size), as `llmbase serve` reads them.
const config = loadConfig({ env: { LOG_LEVEL: 'silent' } })
const progress = (message: string) => process.stderr.write(`  … ${message}\n`)

// ---- what the handlers record ------------------------------------------------------------------

/** Counts handler calls and wakes whoever waits for a count; records start times by sample index. */
class Tally {
  handled = 0
  /** Handler start (performance.now()) per latency sample, indexed by the job payload's `i`. */
  readonly started: number[] = []
  private target = Number.POSITIVE_INFINITY
  private reached: (() => void) | null = null

  count(jobs: number, samples: Array<number | undefined>) {
    const now = performance.now()
    for (const i of samples) if (i !== undefined) this.started[i] = now
    this.handled += jobs
    if (this.handled >= this.target) this.reached?.()
  }

  until(target: number): Promise<void> {
    this.target = target
    if (this.handled >= target) return Promise.resolve()
    return new Promise((resolve) => {
      this.reached = resolve
    })
  }
}

const sampleOf = (payload: unknown) => (payload as { i?: number } | null)?.i

interface LatencyResult {
  rate: number
  samples: number
  notStarted: number
  failed: number
  p50: number
  p99: number
  max: number
}

/**
 * Calls `enqueue(i)` `rate` times a second for `seconds`, each on its scheduled time whatever
 * the earlier calls are doing; `tally` holds the handlers' start times.
 */
async function latencyRun(enqueue: (i: number) => Promise<unknown>, tally: Tally, rate: number, seconds: number): Promise<LatencyResult> {
  const total = Math.round(rate * seconds)
  const intervalMs = 1000 / rate
  const sent: number[] = []
  const pending: Array<Promise<unknown>> = []
  let failed = 0
  const begin = performance.now()
  for (let i = 0; i < total; i++) {
    const wait = begin + i * intervalMs - performance.now()
    if (wait > 1) await sleep(wait)
    // Behind schedule: still let the event loop run now and then (answers, handlers).
    else if (i % 16 === 0) await new Promise((resolve) => setImmediate(resolve))
    sent[i] = performance.now()
    pending.push(
      enqueue(i).catch(() => {
        failed++
      }),
    )
  }
  await Promise.all(pending)
  await Promise.race([tally.until(total - failed), sleep(DRAIN_MS)])
  const delays: number[] = []
  for (let i = 0; i < total; i++) {
    const start = tally.started[i]
    if (start !== undefined) delays.push(start - (sent[i] as number))
  }
  delays.sort((a, b) => a - b)
  return {
    rate,
    samples: delays.length,
    notStarted: total - failed - delays.length,
    failed,
    p50: percentile(delays, 50),
    p99: percentile(delays, 99),
    max: delays[delays.length - 1] ?? Number.NaN,
  }
}

async function waitForCount(count: () => Promise<number>, n: number) {
  while ((await count()) < n) await sleep(2)
}

// ---- databases -----------------------------------------------------------------------------------

interface ServerDatabase {
  url: string
  drop(): Promise<void>
}

const cleanups: Array<() => Promise<void>> = []

/** A fresh database beside the one `adminUrl` names; `drop` removes it. */
async function createServerDatabase(adminUrl: string): Promise<ServerDatabase> {
  const name = `llmbase_bench_jobs_${process.pid}`
  const run = async (statement: string) => {
    const client = new pg.Client({ connectionString: adminUrl })
    await client.connect()
    try {
      await client.query(statement)
    } finally {
      await client.end()
    }
  }
  await run(`drop database if exists ${name} with (force)`)
  await run(`create database ${name}`)
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  let dropped = false
  const drop = async () => {
    if (dropped) return
    dropped = true
    await run(`drop database if exists ${name} with (force)`)
  }
  cleanups.push(drop)
  return { url: url.toString(), drop }
}

async function openMigrated(url: string | undefined, dataDir: string): Promise<Database> {
  const database = await openDatabase({ url, dataDir, poolSize: config.dbPoolSize, logger })
  try {
    await migrateUp(database.pool, { capabilities: database.capabilities })
  } catch (error) {
    await database.close()
    throw error
  }
  return database
}

async function createOwner(database: Database): Promise<number> {
  const { rows } = await database.pool.query<{ id: number }>("insert into users (handle, email) values ('bench', 'bench@example.org') returning id")
  return rows[0]?.id as number
}

// ---- llmbase's queue -----------------------------------------------------------------------------

type Variant = 'llmbase'

interface OursSettings {
  variant: Variant
  concurrency: number
  workers: number
}

const oursLabel = (s: OursSettings) => `concurrency ${s.concurrency}${s.workers > 1 ? `, ${s.workers} Worker instances` : ''}`

/** One process's view of the queue: its database, its wake-ups and its owner row. */
interface OursContext {
  kind: 'server' | 'embedded'
  database: Database
  wakeups: Wakeups
  ownerId: number
  /** Counts rows with the given SQL, outside the queue's pool where there is a choice. */
  count(text: string): Promise<number>
}

function newQueue(_variant: Variant, database: Database, wakeups: Wakeups): JobQueue {
  const jobs = config.jobs
  const options: QueueOptions = {
    leaseMs: jobs.leaseMs,
    maxAttempts: jobs.maxAttempts,
    backoffBaseMs: jobs.backoffBaseMs,
    backoffMaxMs: jobs.backoffMaxMs,
    onTransition: webhookOutbox(deliverAttempts(config)),
    wakeups,
  }
  return new JobQueue(database.db, options)
}

function startWorkers(queue: JobQueue, wakeups: Wakeups, settings: OursSettings, tally: Tally): Worker[] {
  const handler: JobHandler = {
    type: NOOP,
    run: async (job) => {
      tally.count(1, [sampleOf(job.payload)])
      return null
    },
  }
  return Array.from({ length: settings.workers }, () => {
    // As `llmbase worker` runs them, without the hourly retention clean-up (nothing to delete).
    const worker = new Worker({ queue, handlers: [handler], concurrency: settings.concurrency, leaseMs: config.jobs.leaseMs, pollMs: config.jobs.pollMs, wakeups, logger })
    worker.start()
    return worker
  })
}

/** Inserts `n` no-op jobs in multi-row statements: the rows `queue.enqueue` would write. */
async function insertOurJobs(ctx: OursContext, n: number) {
  for (let done = 0; done < n; done += INSERT_CHUNK) {
    const now = new Date()
    const rows = Array.from({ length: Math.min(INSERT_CHUNK, n - done) }, () => ({
      owner_id: ctx.ownerId,
      type: NOOP,
      payload: '{}',
      max_attempts: config.jobs.maxAttempts,
      run_at: now,
      created_at: now,
      updated_at: now,
    }))
    await ctx.database.db.insertInto('jobs').values(rows).execute()
  }
}

/** One throughput run: `n` jobs waiting, then the workers start; returns jobs/s. */
async function oursThroughput(ctx: OursContext, n: number, settings: OursSettings): Promise<number> {
  await ctx.database.pool.query('truncate jobs cascade')
  await insertOurJobs(ctx, n)
  await ctx.database.pool.query('vacuum analyze jobs')
  const tally = new Tally()
  const queue = newQueue(settings.variant, ctx.database, ctx.wakeups)
  const started = performance.now()
  const workers = startWorkers(queue, ctx.wakeups, settings, tally)
  await tally.until(n)
  await waitForCount(() => ctx.count("select count(*)::int as n from jobs where state = 'succeeded'"), n)
  const seconds = (performance.now() - started) / 1000
  await Promise.all(workers.map((w) => w.stop(STOP_TIMEOUT_MS)))
  return n / seconds
}

/**
 * Latency with idle workers in this process; the jobs are enqueued through `producer` (a
 * queue on this process's pool and wake-ups, or one standing in for another process).
 */
async function oursLatency(ctx: OursContext, settings: OursSettings, producer: JobQueue, rate: number, seconds: number): Promise<LatencyResult> {
  await ctx.database.pool.query('truncate jobs cascade')
  const tally = new Tally()
  const workers = startWorkers(newQueue(settings.variant, ctx.database, ctx.wakeups), ctx.wakeups, settings, tally)
  await sleep(SETTLE_MS)
  try {
    return await latencyRun((i) => producer.enqueue({ ownerId: ctx.ownerId, type: NOOP, payload: { i } }), tally, rate, seconds)
  } finally {
    await Promise.all(workers.map((w) => w.stop(STOP_TIMEOUT_MS)))
  }
}

// ---- pg-boss -------------------------------------------------------------------------------------

interface BossSettings {
  batchSize: number
  /** work() calls on the queue: pg-boss 10's way to run batches side by side (it has no localConcurrency). */
  workers: number
}

const bossLabel = (s: BossSettings) => `batchSize ${s.batchSize}, ${s.workers} work() call${s.workers > 1 ? 's' : ''}`

/**
 * pg-boss 10's work() options: batches of `batchSize`, its shortest polling interval (0.5 s,
 * the minimum it accepts). A v10 worker sleeps out the interval after every fetch, full or not,
 * which caps a worker at batchSize / 0.5 s (100 jobs/s at 50); it has no LISTEN/NOTIFY and no
 * burstWhenBatchFull, but notifyWorker(id) ends a worker's sleep, and the benchmark uses that for
 * both: after a full batch (what burstWhenBatchFull does in 12) and after each send() (the
 * in-process wake-up), so that pg-boss runs at its fastest.
 */
const bossWorkOptions = (s: BossSettings) => ({ batchSize: s.batchSize, pollingIntervalSeconds: 0.5 })

/** Starts `s.workers` workers on `name`; each fetches again at once after a full batch. Returns their ids. */
async function startBossWorkers(boss: PgBoss, name: string, s: BossSettings, onBatch: (jobs: Array<PgBoss.Job<{ i?: number }>>) => void): Promise<string[]> {
  const ids: string[] = []
  for (let w = 0; w < s.workers; w++) {
    let id = ''
    // work() resolves before the worker's first fetch returns, so `id` is set when a batch arrives.
    id = await boss.work<{ i?: number }>(name, bossWorkOptions(s), async (jobs) => {
      onBatch(jobs)
      if (jobs.length === s.batchSize) boss.notifyWorker(id)
    })
    ids.push(id)
  }
  return ids
}

/**
 * v10's offWork() returns at once (a worker stops after its current fetch), and its
 * deleteQueue() fails while the queue has jobs; one queue has jobs at a time here, so
 * clearStorage() (a TRUNCATE of every queue's jobs) empties it first.
 */
async function stopBossWorkers(boss: PgBoss, name: string) {
  await boss.offWork(name)
  await sleep(SETTLE_MS)
  await boss.clearStorage()
  await boss.deleteQueue(name)
}

let bossQueues = 0

async function bossThroughput(boss: PgBoss, n: number, s: BossSettings, count: (text: string, params: unknown[]) => Promise<number>, admin: pg.Client): Promise<number> {
  const name = `bench-${++bossQueues}`
  await boss.createQueue(name)
  for (let done = 0; done < n; done += INSERT_CHUNK) {
    await boss.insert(Array.from({ length: Math.min(INSERT_CHUNK, n - done) }, () => ({ name, data: {} })))
  }
  await admin.query('vacuum analyze pgboss.job')
  const tally = new Tally()
  const started = performance.now()
  await startBossWorkers(boss, name, s, (jobs) => tally.count(jobs.length, []))
  await tally.until(n)
  await waitForCount(() => count("select count(*)::int as n from pgboss.job where name = $1 and state = 'completed'", [name]), n)
  const seconds = (performance.now() - started) / 1000
  await stopBossWorkers(boss, name)
  return n / seconds
}

/**
 * Latency into idle workers; `wake` says whether each send() is followed by notifyWorker() on
 * one of the workers in turn (a producer in the workers' process), or not (a producer in
 * another process, which v10 cannot wake: the job waits for the next poll).
 */
async function bossLatency(boss: PgBoss, s: BossSettings, wake: boolean, rate: number, seconds: number): Promise<LatencyResult> {
  const name = `bench-${++bossQueues}`
  await boss.createQueue(name)
  const tally = new Tally()
  const ids = await startBossWorkers(boss, name, s, (jobs) =>
    tally.count(
      jobs.length,
      jobs.map((job) => job.data.i),
    ),
  )
  await sleep(SETTLE_MS)
  let next = 0
  const enqueue = async (i: number) => {
    const id = await boss.send(name, { i })
    if (wake) boss.notifyWorker(ids[next++ % ids.length] as string)
    return id
  }
  try {
    return await latencyRun(enqueue, tally, rate, seconds)
  } finally {
    await stopBossWorkers(boss, name)
  }
}

// ---- the run -------------------------------------------------------------------------------------

type Product = 'llmbase' | 'pgboss'

/** One setting of one queue on one database: its throughput runs and latency measurements. */
interface Entry {
  product: Product
  database: 'server' | 'embedded'
  settings: string
  runs: number[]
  latency: Array<{ how: string; result: LatencyResult }>
}

const NAMES: Record<Product, string> = { llmbase: 'llmbase', pgboss: `pg-boss ${bossVersion()}` }
const setupOf = (e: Entry) => `${NAMES[e.product]}, ${e.database}`

function median(xs: number[]): number {
  if (xs.length === 0) return Number.NaN
  const sorted = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}
const jobsPerSecond = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : 'n/a')
const ms = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : 'n/a')
const ratio = (a: number, b: number) => (Number.isFinite(a / b) && b > 0 ? `${(a / b).toFixed(2)}×` : 'n/a')
const list = (text: string) => text.split(',').map((s) => s.trim()).filter(Boolean)

function oursSettings(variant: Variant, concurrency: string): OursSettings[] {
  return list(concurrency).flatMap((c) => list(values.workers as string).map((w) => ({ variant, concurrency: Number(c), workers: Number(w) })))
}

function bossSettingsList(): BossSettings[] {
  return list(values.pgboss as string).map((item) => {
    const [batchSize, workers] = item.split('x').map(Number)
    if (!batchSize || !workers) throw new Error(`--pgboss: ${item} is not batchSize x work() calls (such as 50x4)`)
    return { batchSize, workers }
  })
}

/** The fastest entry (by median) of `entries`, or undefined. */
const fastest = (entries: Entry[]) => entries.reduce<Entry | undefined>((best, e) => (!best || median(e.runs) > median(best.runs) ? e : best), undefined)

/**
 * Throughput of every setting, `repeat` rounds; a round runs each setting once, so a slow spell
 * of the (shared) machine hits them alike. Returns one entry per setting.
 */
async function oursThroughputs(ctx: OursContext, n: number, repeat: number, settings: OursSettings[]): Promise<Array<{ entry: Entry; settings: OursSettings }>> {
  const out = settings.map((s) => ({ entry: { product: s.variant, database: ctx.kind, settings: oursLabel(s), runs: [], latency: [] } as Entry, settings: s }))
  for (let round = 1; round <= repeat; round++) {
    for (const item of out) {
      progress(`${NAMES[item.settings.variant]}, ${ctx.kind}: ${n} jobs, ${item.entry.settings}, run ${round}/${repeat}`)
      item.entry.runs.push(await oursThroughput(ctx, n, item.settings))
    }
  }
  return out
}

/** Throughput of every setting of both variants on one database, then latency for the fastest of each. */
async function measureOurs(ctx: OursContext, options: RunOptions, latency: (best: OursSettings, entry: Entry) => Promise<void>): Promise<Entry[]> {
  const n = ctx.kind === 'server' ? options.serverJobs : options.embeddedJobs
  const settings = oursSettings('llmbase', values.concurrency as string)
  const measured = await oursThroughputs(ctx, n, options.repeat, settings)
  for (const variant of ['llmbase'] as const) {
    const mine = measured.filter((m) => m.settings.variant === variant)
    const best = fastest(mine.map((m) => m.entry))
    const chosen = mine.find((m) => m.entry === best)
    if (chosen) await latency(chosen.settings, chosen.entry)
  }
  return measured.map((m) => m.entry)
}

interface RunOptions {
  serverJobs: number
  embeddedJobs: number
  repeat: number
  rate: number
  seconds: number
  embeddedRates: number[]
}

async function runServer(options: RunOptions, only: Set<string>): Promise<Entry[]> {
  const entries: Entry[] = []
  const server = await createServerDatabase(values['database-url'] as string)
  // Counts finished jobs on a connection of its own, not one the queue could be waiting for.
  const observer = new pg.Client({ connectionString: server.url })
  try {
    await observer.connect()
    const count = async (text: string, params: unknown[] = []) => (await observer.query<{ n: number }>(text, params)).rows[0]?.n ?? 0
    if (only.has('server')) entries.push(...(await runOursOnServer(server.url, count, options)))
    if (only.has('pgboss')) entries.push(...(await runBoss(server.url, count, observer, options)))
  } finally {
    await observer.end().catch(() => {})
    await server.drop()
  }
  return entries
}

async function runOursOnServer(url: string, count: (text: string) => Promise<number>, options: RunOptions): Promise<Entry[]> {
  const database = await openMigrated(url, tmpdir())
  const wakeups = new PostgresWakeups(url, logger)
  // Stands in for another process (an API server) that enqueues: its own pool, and its wake-up
  // reaches the workers only through NOTIFY, as between two processes.
  const producerDatabase = await openDatabase({ url, dataDir: tmpdir(), poolSize: config.dbPoolSize, logger })
  const producerWakeups = new PostgresWakeups(url, logger)
  try {
    await wakeups.start()
    const ctx: OursContext = { kind: 'server', database, wakeups, ownerId: await createOwner(database), count }
    return await measureOurs(ctx, options, async (best, entry) => {
      progress(`${NAMES[best.variant]}, server latency: ${options.rate}/s for ${options.seconds} s, enqueued in the workers' process`)
      entry.latency.push({ how: `${options.rate}/s, enqueued in the workers' process`, result: await oursLatency(ctx, best, newQueue(best.variant, database, wakeups), options.rate, options.seconds) })
      progress(`${NAMES[best.variant]}, server latency: ${options.rate}/s for ${options.seconds} s, enqueued through another pool (NOTIFY)`)
      entry.latency.push({ how: `${options.rate}/s, enqueued through another pool, woken by NOTIFY`, result: await oursLatency(ctx, best, newQueue(best.variant, producerDatabase, producerWakeups), options.rate, options.seconds) })
    })
  } finally {
    await producerWakeups.close()
    await producerDatabase.close()
    await wakeups.close()
    await database.close()
  }
}

async function runBoss(url: string, count: (text: string, params: unknown[]) => Promise<number>, admin: pg.Client, options: RunOptions): Promise<Entry[]> {
  const boss = new PgBoss({ connectionString: url })
  boss.on('error', (error) => progress(`pg-boss error: ${(error as Error).message}`))
  await boss.start()
  try {
    const settings = bossSettingsList()
    const entries: Entry[] = settings.map((s) => ({ product: 'pgboss', database: 'server', settings: bossLabel(s), runs: [], latency: [] }))
    for (let round = 1; round <= options.repeat; round++) {
      for (const [i, s] of settings.entries()) {
        progress(`pg-boss: ${options.serverJobs} jobs, ${bossLabel(s)}, run ${round}/${options.repeat}`)
        entries[i]?.runs.push(await bossThroughput(boss, options.serverJobs, s, count, admin))
      }
    }
    for (const [i, s] of settings.entries()) {
      progress(`pg-boss latency: ${options.rate}/s for ${options.seconds} s, ${bossLabel(s)}`)
      entries[i]?.latency.push({ how: `${options.rate}/s, send() + notifyWorker() in the workers' process`, result: await bossLatency(boss, s, true, options.rate, options.seconds) })
    }
    for (const [i, s] of settings.entries()) {
      progress(`pg-boss latency: ${options.rate}/s for ${options.seconds} s, ${bossLabel(s)}, no wake-up (polling)`)
      entries[i]?.latency.push({ how: `${options.rate}/s, send() without a wake-up (as from another process: polling)`, result: await bossLatency(boss, s, false, options.rate, options.seconds) })
    }
    return entries
  } finally {
    await boss.stop({ graceful: false, close: true })
  }
}

async function runEmbedded(options: RunOptions): Promise<Entry[]> {
  const dataDir = mkdtempSync(join(tmpdir(), 'llmbase-bench-jobs-'))
  cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }))
  // A copy of an initialised cluster: creating one takes seconds, copying it milliseconds.
  cpSync(await ensureTemplate(), join(dataDir, 'pgdata'), { recursive: true })
  progress('starting the embedded database')
  const database = await openMigrated(undefined, dataDir)
  const wakeups = new LocalWakeups()
  try {
    // One connection serves everything here, the count included.
    const count = async (text: string) => (await database.pool.query<{ n: number }>(text)).rows[0]?.n ?? 0
    const ctx: OursContext = { kind: 'embedded', database, wakeups, ownerId: await createOwner(database), count }
    return await measureOurs(ctx, options, async (best, entry) => {
      for (const rate of options.embeddedRates) {
        progress(`${NAMES[best.variant]}, embedded latency: ${rate}/s for ${options.seconds} s`)
        entry.latency.push({ how: `${rate}/s`, result: await oursLatency(ctx, best, newQueue(best.variant, database, wakeups), rate, options.seconds) })
      }
    })
  } finally {
    await wakeups.close()
    await database.close()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

async function main() {
  const only = new Set(list(values.only as string))
  for (const name of only) if (!(SETUPS as readonly string[]).includes(name)) throw new Error(`--only: unknown ${name}; use ${SETUPS.join(', ')}`)
  const options: RunOptions = {
    serverJobs: Number(values.jobs),
    embeddedJobs: Number(values['embedded-jobs']),
    repeat: Number(values.repeat),
    rate: Number(values.rate),
    seconds: Number(values.seconds),
    embeddedRates: list(values['embedded-rates'] as string).map(Number),
  }
  printHeader(only, options)
  const started = performance.now()
  const entries: Entry[] = []
  if (only.has('server') || only.has('pgboss')) entries.push(...(await runServer(options, only)))
  if (only.has('embedded')) entries.push(...(await runEmbedded(options)))
  report(entries, options)
  console.log(`\n(run took ${((performance.now() - started) / 1000).toFixed(0)} s; load average at the end ${loadavg().map((l) => l.toFixed(2)).join(', ')} on ${cpus().length} cores)`)
}

// ---- output --------------------------------------------------------------------------------------

function bossVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(ROOT, 'node_modules/pg-boss/package.json'), 'utf8')) as { version: string }).version
  } catch {
    return 'not installed'
  }
}

function printHeader(only: Set<string>, options: RunOptions) {
  const url = new URL(values['database-url'] as string)
  if (url.password) url.password = '***'
  console.log(`jobs benchmark: ${[...only].join(', ')}`)
  console.log(`Node ${process.version}; llmbase ${commitOf()}; pg-boss ${bossVersion()}; ${cpus().length} cores, load average at the start ${loadavg().map((l) => l.toFixed(2)).join(', ')}`)
  console.log(`server: ${url.host}, a fresh database for this run (dropped at the end); embedded: PGlite in its child process, one connection`)
  console.log(
    `llmbase: JobQueue + Worker from src/jobs, handler \`async () => null\`, one handler call per job, successes recorded in batches; Worker settings ${oursSettings('llmbase', values.concurrency as string).map(oursLabel).join(' | ')}; ` +
      `lease ${config.jobs.leaseMs} ms, poll ${config.jobs.pollMs} ms (the defaults); pool ${config.dbPoolSize} connections on the server; wake-ups: LISTEN/NOTIFY (PostgresWakeups) on the server, in-process (LocalWakeups) on the embedded database`,
  )
  console.log(
    `pg-boss: new PgBoss({ connectionString }) (pool max 10, its default; maintenance and monitoring on, its defaults; v10 has no LISTEN/NOTIFY), createQueue(name); ` +
      `work() with ${bossSettingsList().map((s) => `${JSON.stringify(bossWorkOptions(s))} × ${s.workers}`).join(' | ')}; the handler gets a batch and returns, pg-boss completes the batch in one statement; ` +
      `a worker whose batch came back full is woken at once with notifyWorker(id) (v10 has no burstWhenBatchFull); latency with and without a notifyWorker() after each send()`,
  )
  console.log(
    `throughput: ${options.serverJobs} jobs (server) / ${options.embeddedJobs} (embedded) inserted up front, then VACUUM ANALYZE; median of ${options.repeat} runs; ` +
      `latency: ${options.rate} enqueues/s for ${options.seconds} s into idle workers (embedded: ${options.embeddedRates.join(' and ')}/s)`,
  )
}

function report(entries: Entry[], options: RunOptions) {
  console.log(`\nThroughput, every setting (no-op jobs/s; median of ${options.repeat} runs, the runs in order)`)
  console.log(table(entries.map((e) => ({ setup: setupOf(e), settings: e.settings, 'jobs/s': jobsPerSecond(median(e.runs)), runs: e.runs.map(jobsPerSecond).join(', ') }))))

  const latencies = entries.flatMap((e) => e.latency.map((l) => ({ e, ...l })))
  if (latencies.length > 0) {
    console.log('\nEnqueue → handler start, workers idle, open-loop enqueues (ms)')
    console.log(
      table(
        latencies.map(({ e, how, result }) => ({
          setup: setupOf(e),
          settings: e.settings,
          enqueues: how,
          jobs: result.samples + (result.notStarted ? ` (${result.notStarted} not started in ${DRAIN_MS / 1000} s)` : '') + (result.failed ? ` (${result.failed} enqueues failed)` : ''),
          p50: ms(result.p50),
          p99: ms(result.p99),
          max: ms(result.max),
        })),
      ),
    )
  }

  // The summary: per queue and database, its fastest setting, and that setting's latency.
  const best = (product: Product, database: 'server' | 'embedded') => fastest(entries.filter((e) => e.product === product && e.database === database))
  const first = (e: Entry | undefined) => e?.latency[0]?.result
  const worstP99 = (e: Entry | undefined) => (e?.latency.length ? Math.max(...e.latency.map((l) => l.result.p99)) : Number.NaN)
  const ours = best('llmbase', 'server')
  const embedded = best('llmbase', 'embedded')
  const boss = best('pgboss', 'server')
  const met = (ok: boolean, value: number) => (Number.isFinite(value) ? (ok ? 'met' : 'NOT met') : 'not measured')
  const rows: Array<Record<string, string>> = []
  const summaryRow = (e: Entry | undefined, targets: string) => {
    if (!e) return
    rows.push({ setup: setupOf(e), settings: e.settings, 'jobs/s': jobsPerSecond(median(e.runs)), 'enqueue→start p50 ms': ms(first(e)?.p50 ?? Number.NaN), 'p99 ms': ms(first(e)?.p99 ?? Number.NaN), targets })
  }
  const oursRate = median(ours?.runs ?? [])
  const bossRate = median(boss?.runs ?? [])
  summaryRow(
    ours,
    `≥ ${TARGETS.serverJobsPerSecond.toLocaleString('en-US')} jobs/s: ${met(oursRate >= TARGETS.serverJobsPerSecond, oursRate)}; ≥ pg-boss: ${met(oursRate >= bossRate, oursRate / bossRate)}; p99 ≤ ${TARGETS.serverP99Ms} ms: ${met(worstP99(ours) <= TARGETS.serverP99Ms, worstP99(ours))}`,
  )
  summaryRow(boss, '')
  const embeddedRate = median(embedded?.runs ?? [])
  summaryRow(embedded, `≥ ${TARGETS.embeddedJobsPerSecond} jobs/s: ${met(embeddedRate >= TARGETS.embeddedJobsPerSecond, embeddedRate)}`)
  if (rows.length === 0) return
  console.log(`\nSummary: each queue at its fastest setting; latency at ${options.rate}/s (embedded: ${options.embeddedRates[0]}/s), enqueued in the workers' process`)
  console.log(table(rows))
  if (ours && boss) {
    console.log(`llmbase/pg-boss on the server: jobs/s ${ratio(oursRate, bossRate)}; enqueue→start p50 ${ratio(first(ours)?.p50 ?? Number.NaN, first(boss)?.p50 ?? Number.NaN)}, p99 ${ratio(first(ours)?.p99 ?? Number.NaN, first(boss)?.p99 ?? Number.NaN)} (below 1× is faster for latency)`)
  }
  console.log(`server p99 target: the worst p99 of llmbase's server latency rows (in-process and via NOTIFY): ${ms(worstP99(ours))} ms`)
}

// An interrupted run still drops its database and removes its data folder.
process.once('SIGINT', () => {
  void Promise.allSettled(cleanups.map((c) => c())).finally(() => process.exit(130))
})
await main()
