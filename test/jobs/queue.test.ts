import assert from 'node:assert/strict'
import { after, before, beforeEach, describe, it } from 'node:test'
import { sql } from 'kysely'
import pino from 'pino'
import { Type } from 'typebox'
import type { Executor } from '../../src/db/database.js'
import { JobQueue } from '../../src/jobs/queue.js'
import { type ClaimedJob, type Clock, type JobHandler, PermanentJobError } from '../../src/jobs/types.js'
import { LocalWakeups } from '../../src/jobs/wakeups.js'
import { Worker } from '../../src/jobs/worker.js'
import { webhookOutbox } from '../../src/webhooks/outbox.js'
import { DATABASES } from '../helpers/databases.js'
import { eventually } from '../helpers/gateway.js'
import { createUser, startTestServer, type TestServer } from '../helpers/server.js'

/** A clock the test moves by hand. */
class TestClock implements Clock {
  constructor(public time = Date.parse('2030-01-01T00:00:00Z')) {}
  now() {
    return new Date(this.time)
  }
  advance(ms: number) {
    this.time += ms
  }
}

const LEASE_MS = 30_000
const silent = pino({ level: 'silent' })

/**
 * The queue's state machine, statement by statement, on a real database. The server runs no
 * workers of its own here, so only the test claims jobs, on a clock it controls.
 */
for (const kind of DATABASES) {
  describe(`the job queue on the ${kind} database`, () => {
    let server: TestServer
    let db: Executor
    let ownerId: number
    let clock: TestClock
    let queue: JobQueue
    // With random() = 0 the jitter factor is exactly 0.5, so delays can be asserted exactly.
    const newQueue = (overrides: Partial<ConstructorParameters<typeof JobQueue>[1]> = {}) =>
      new JobQueue(db, { clock, random: () => 0, leaseMs: LEASE_MS, maxAttempts: 3, backoffBaseMs: 10_000, backoffMaxMs: 60_000, onTransition: webhookOutbox(3), ...overrides })

    before(async () => {
      server = await startTestServer(kind, { env: { LLMBASE_WORKER_CONCURRENCY: '0' } })
      db = server.running.database.db
      await createUser(server, 'alice')
      ownerId = (await db.selectFrom('users').select('id').where('handle', '=', 'alice').executeTakeFirstOrThrow()).id
    })
    after(() => server?.close())
    beforeEach(async () => {
      await sql`delete from jobs`.execute(db)
      clock = new TestClock()
      queue = newQueue()
    })

    const row = (id: string) => db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirstOrThrow()
    const enqueue = (extra: Partial<Parameters<JobQueue['enqueue']>[0]> = {}) => queue.enqueue({ ownerId, type: 'test', payload: { n: 1 }, ...extra })
    const claimOne = async () => {
      const [job] = await queue.claim('worker-1', 1)
      assert.ok(job, 'a job was due')
      return job
    }
    const failure = (message = 'boom') => ({ ok: false as const, code: 'test_failure', message, permanent: false })

    it('moves pending → running → succeeded, storing the result', async () => {
      const { job, created } = await enqueue()
      assert.equal(created, true)
      assert.equal(job.state, 'pending')
      const claimed = await claimOne()
      assert.equal(claimed.id, job.id)
      assert.equal(claimed.attempts, 1)
      const running = await row(job.id)
      assert.equal(running.state, 'running')
      assert.equal(running.locked_by, 'worker-1')
      assert.equal(running.lease_until?.getTime(), clock.time + LEASE_MS)
      assert.equal(await queue.finish(claimed, { ok: true, result: { answer: 42 } }, []), true)
      const done = await row(job.id)
      assert.equal(done.state, 'succeeded')
      assert.deepEqual(done.result, { answer: 42 })
      assert.equal(done.finished_at?.getTime(), clock.time)
      assert.equal(done.lease_token, null)
      assert.deepEqual(await queue.claim('worker-1', 10), [])
    })

    it('retries a failed attempt after an exponential backoff, not before', async () => {
      const { job } = await enqueue()
      let claimed = await claimOne()
      await queue.finish(claimed, failure('first'), [])
      let current = await row(job.id)
      assert.equal(current.state, 'failed')
      // Attempt 1 failed: base 10 s × 2^0 × jitter 0.5 = 5 s.
      assert.equal(current.run_at.getTime() - clock.time, 5_000)
      clock.advance(4_999)
      assert.deepEqual(await queue.claim('worker-1', 1), [], 'not due yet')
      clock.advance(1)
      claimed = await claimOne()
      assert.equal(claimed.attempts, 2)
      await queue.finish(claimed, failure('second'), [])
      current = await row(job.id)
      // Attempt 2 failed: 10 s × 2 × 0.5 = 10 s.
      assert.equal(current.run_at.getTime() - clock.time, 10_000)
      assert.deepEqual(current.errors.map((e) => [e.attempt, e.code, e.message]), [[1, 'test_failure', 'first'], [2, 'test_failure', 'second']])
    })

    it('doubles the delay per attempt up to the cap, with jitter between half and all of it', () => {
      const exact = newQueue({ random: () => 0 })
      assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map((n) => exact.backoffMs(n)), [5_000, 10_000, 20_000, 30_000, 30_000, 30_000, 30_000])
      const top = newQueue({ random: () => 0.999_999 })
      assert.deepEqual([1, 2, 3].map((n) => top.backoffMs(n)), [10_000, 20_000, 40_000])
      const real = newQueue({ random: Math.random })
      for (let i = 0; i < 200; i += 1) {
        const delay = real.backoffMs(3)
        assert.ok(delay >= 20_000 && delay <= 40_000, `delay ${delay} within [20 s, 40 s]`)
      }
    })

    it('moves a job to the dead-letter queue after its last attempt, keeping every error', async () => {
      const { job } = await enqueue({ maxAttempts: 2 })
      await queue.finish(await claimOne(), failure('one'), [])
      clock.advance(60_000)
      await queue.finish(await claimOne(), failure('two'), [])
      const dead = await row(job.id)
      assert.equal(dead.state, 'dead')
      assert.equal(dead.attempts, 2)
      assert.deepEqual(dead.errors.map((e) => e.message), ['one', 'two'])
      clock.advance(3_600_000)
      assert.deepEqual(await queue.claim('worker-1', 1), [], 'a dead job is never claimed')
    })

    it('sends a permanent failure straight to the dead-letter queue', async () => {
      const { job } = await enqueue({ maxAttempts: 5 })
      await queue.finish(await claimOne(), { ok: false, code: 'bad_payload', message: 'no', permanent: true }, [])
      assert.equal((await row(job.id)).state, 'dead')
    })

    it('replays a dead job with fresh attempts and its history', async () => {
      const { job } = await enqueue({ maxAttempts: 1 })
      await queue.finish(await claimOne(), failure('gone'), [])
      const replayed = await queue.retry(null, job.id)
      assert.equal(replayed?.state, 'pending')
      assert.equal(replayed?.attempts, 0)
      assert.equal(replayed?.replays, 1)
      assert.equal(replayed?.finished_at, null)
      const again = await claimOne()
      assert.equal(again.attempts, 1)
      await queue.finish(again, { ok: true, result: null }, [])
      const done = await row(job.id)
      assert.equal(done.state, 'succeeded')
      assert.deepEqual(done.errors.map((e) => e.message), ['gone'])
    })

    it('runs a waiting failed job at once on retry, and refuses to retry a running or succeeded one', async () => {
      const { job } = await enqueue()
      const claimed = await claimOne()
      assert.equal(await queue.retry(ownerId, job.id), undefined, 'running')
      await queue.finish(claimed, failure(), [])
      const retried = await queue.retry(ownerId, job.id)
      assert.equal(retried?.state, 'failed')
      assert.equal(retried?.attempts, 1, 'the failed attempt still counts')
      assert.equal(retried?.run_at.getTime(), clock.time)
      await queue.finish(await claimOne(), { ok: true, result: null }, [])
      assert.equal(await queue.retry(ownerId, job.id), undefined, 'succeeded')
    })

    it('claims by priority, then by due time', async () => {
      const low = await enqueue({ priority: -5 })
      clock.advance(1)
      const firstNormal = await enqueue()
      clock.advance(1)
      const secondNormal = await enqueue()
      const high = await enqueue({ priority: 10 })
      const later = await enqueue({ priority: 100, runAt: new Date(clock.time + 60_000) })
      const order: string[] = []
      for (let i = 0; i < 4; i += 1) order.push((await claimOne()).id)
      assert.deepEqual(order, [high.job.id, firstNormal.job.id, secondNormal.job.id, low.job.id])
      clock.advance(60_000)
      assert.equal((await claimOne()).id, later.job.id)
    })

    it('gives the same job for the same idempotency key, even when submitted at once', async () => {
      const first = await enqueue({ idempotencyKey: 'import-1' })
      const again = await enqueue({ idempotencyKey: 'import-1', payload: { n: 2 } })
      assert.equal(again.created, false)
      assert.equal(again.job.id, first.job.id)
      assert.deepEqual(again.job.payload, { n: 1 }, 'the first payload stays')
      const racing = await Promise.all(Array.from({ length: 8 }, () => enqueue({ idempotencyKey: 'import-2' })))
      assert.equal(new Set(racing.map((r) => r.job.id)).size, 1)
      assert.equal(racing.filter((r) => r.created).length, 1)
      const count = await db.selectFrom('jobs').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()
      assert.equal(Number(count.n), 2)
    })

    it('cancels pending and running jobs; the holder of a cancelled job can no longer write it', async () => {
      const pending = await enqueue()
      const running = await enqueue()
      const claimed = await claimOne()
      const other = claimed.id === pending.job.id ? running.job.id : pending.job.id
      assert.equal((await queue.cancel(ownerId, claimed.id))?.state, 'cancelled')
      assert.equal((await queue.cancel(ownerId, other))?.state, 'cancelled')
      assert.equal(await queue.finish(claimed, { ok: true, result: 'late' }, []), false)
      assert.equal(await queue.progress(claimed, 1, 2, undefined, []), false)
      assert.equal((await queue.renewLeases([claimed.leaseToken])).size, 0)
      const after = await row(claimed.id)
      assert.equal(after.state, 'cancelled')
      assert.equal(after.result, null)
      assert.equal(await queue.cancel(ownerId, claimed.id), undefined, 'already ended')
      assert.equal(await queue.cancel(ownerId + 1_000, other), undefined, "another owner's job")
      const replayed = await queue.retry(ownerId, other)
      assert.equal(replayed?.state, 'pending')
    })

    it('puts a job whose lease expired back in the queue, counting the attempt, and fences off the old holder', async () => {
      const { job } = await enqueue({ maxAttempts: 2 })
      const stale = await claimOne()
      clock.advance(LEASE_MS - 1)
      assert.equal(await queue.expireLeases(), 0, 'the lease still holds')
      clock.advance(2)
      assert.equal(await queue.expireLeases(), 1)
      const requeued = await row(job.id)
      assert.equal(requeued.state, 'failed')
      assert.equal(requeued.errors[0]?.code, 'lease_expired')
      const fresh = await claimOne()
      assert.equal(fresh.attempts, 2)
      assert.equal(await queue.finish(stale, { ok: true, result: 'stale' }, []), false, 'the old holder is fenced off')
      clock.advance(LEASE_MS + 1)
      assert.equal(await queue.expireLeases(), 1)
      const dead = await row(job.id)
      assert.equal(dead.state, 'dead', 'the second expiry was its last attempt')
      assert.deepEqual(dead.errors.map((e) => e.code), ['lease_expired', 'lease_expired'])
    })

    it('keeps a lease alive while the worker renews it', async () => {
      const { job } = await enqueue()
      const claimed = await claimOne()
      for (let i = 0; i < 5; i += 1) {
        clock.advance(LEASE_MS / 2)
        assert.equal((await queue.renewLeases([claimed.leaseToken])).size, 1)
        assert.equal(await queue.expireLeases(), 0)
      }
      assert.equal((await row(job.id)).state, 'running')
    })

    it('releases a job without counting the attempt (a stopping worker)', async () => {
      const { job } = await enqueue()
      const claimed = await claimOne()
      assert.equal(await queue.release(claimed), true)
      const released = await row(job.id)
      assert.equal(released.state, 'pending')
      assert.equal(released.attempts, 0)
      assert.equal((await claimOne()).attempts, 1)
    })

    it('never hands one job to two claimers', async () => {
      for (let i = 0; i < 60; i += 1) await enqueue()
      const claims = await Promise.all([queue.claim('a', 25), queue.claim('b', 25), queue.claim('c', 25)])
      const ids = claims.flat().map((j) => j.id)
      assert.equal(ids.length, 60)
      assert.equal(new Set(ids).size, 60)
    })

    it('writes a webhook delivery and its job in the same statement as the event, for subscribed endpoints only', async () => {
      const endpoint = await db
        .insertInto('webhook_endpoints')
        .values({ owner_id: ownerId, url: 'https://hooks.example.com/a', events: ['job.dead'], secret_ciphertext: Buffer.from('x'), secret_key_id: 'k' })
        .returning('id')
        .executeTakeFirstOrThrow()
      const { job } = await enqueue({ maxAttempts: 2 })
      await queue.finish(await claimOne(), failure(), [])
      let deliveries = await db.selectFrom('webhook_deliveries').selectAll().execute()
      assert.equal(deliveries.length, 0, 'job.failed is not subscribed')
      clock.advance(60_000)
      await queue.finish(await claimOne(), failure(), [])
      deliveries = await db.selectFrom('webhook_deliveries').selectAll().execute()
      assert.equal(deliveries.length, 1)
      assert.equal(deliveries[0]?.endpoint_id, endpoint.id)
      const body = JSON.parse(deliveries[0]?.body ?? '{}')
      assert.equal(body.type, 'job.dead')
      assert.equal(body.data.id, job.id)
      assert.equal(body.data.state, 'dead')
      const deliverJobs = await db.selectFrom('jobs').selectAll().where('type', '=', 'webhook.deliver').execute()
      assert.equal(deliverJobs.length, 1)
      assert.deepEqual(deliverJobs[0]?.payload, { delivery_id: deliveries[0]?.id })
      assert.equal(deliverJobs[0]?.max_attempts, 3)
      await sql`delete from webhook_endpoints`.execute(db)
    })
  })

  describe(`job workers on the ${kind} database`, () => {
    let server: TestServer
    let db: Executor
    let ownerId: number
    before(async () => {
      server = await startTestServer(kind, { env: { LLMBASE_WORKER_CONCURRENCY: '0' } })
      db = server.running.database.db
      await createUser(server, 'bob')
      ownerId = (await db.selectFrom('users').select('id').where('handle', '=', 'bob').executeTakeFirstOrThrow()).id
    })
    after(() => server?.close())

    const setup = (handlers: JobHandler[], options: { concurrency?: number; leaseMs?: number } = {}) => {
      const wakeups = new LocalWakeups()
      const leaseMs = options.leaseMs ?? 3_000
      const queue = new JobQueue(db, { leaseMs, maxAttempts: 3, backoffBaseMs: 20, backoffMaxMs: 100, onTransition: webhookOutbox(3), wakeups })
      const worker = new Worker({ queue, handlers, concurrency: options.concurrency ?? 4, leaseMs, pollMs: 600_000, wakeups, logger: silent })
      return { queue, worker, wakeups }
    }
    const state = async (id: string) => (await db.selectFrom('jobs').select(['state', 'attempts', 'result']).where('id', '=', id).executeTakeFirstOrThrow())

    it('runs jobs as soon as they are added (woken, not polling), at most `concurrency` at once', async () => {
      let active = 0
      let peak = 0
      const { queue, worker } = setup([{ type: 'sleep', run: async () => {
        active += 1
        peak = Math.max(peak, active)
        await new Promise((resolve) => setTimeout(resolve, 30))
        active -= 1
        return 'ok'
      } }], { concurrency: 3 })
      worker.start()
      try {
        const started = Date.now()
        const jobs = await Promise.all(Array.from({ length: 12 }, () => queue.enqueue({ ownerId, type: 'sleep', payload: {} })))
        await eventually(async () => ((await Promise.all(jobs.map((j) => state(j.job.id)))).every((s) => s.state === 'succeeded') ? true : undefined))
        // Polling is ten minutes here; finishing within one shows the wake-ups at work.
        assert.ok(Date.now() - started < 60_000, 'done without waiting for a poll')
        assert.equal(peak, 3)
      } finally {
        await worker.stop(1_000)
      }
    })

    it("checks each job's payload against its type's schema before running it, and ends a job that does not match", async () => {
      const seen: unknown[] = []
      const { queue, worker } = setup([{
        type: 'typed',
        payload: Type.Object({ n: Type.Integer({ minimum: 1 }) }, { additionalProperties: false }),
        run: async (job) => {
          seen.push(job.payload)
          return 'ran'
        },
      }])
      worker.start()
      try {
        const good = await queue.enqueue({ ownerId, type: 'typed', payload: { n: 2 } })
        const bad = await queue.enqueue({ ownerId, type: 'typed', payload: { n: 'two' } })
        await eventually(async () => ((await state(good.job.id)).state === 'succeeded' && (await state(bad.job.id)).state === 'dead' ? true : undefined))
        assert.deepEqual(seen, [{ n: 2 }], 'the handler never saw the bad payload')
        const row = await db.selectFrom('jobs').select(['attempts', 'errors']).where('id', '=', bad.job.id).executeTakeFirstOrThrow()
        assert.equal(row.attempts, 1, 'no retry can mend a payload')
        assert.equal(row.errors.at(-1)?.code, 'invalid_payload')
        assert.match(row.errors.at(-1)?.message ?? '', /payload\.n must be integer/)
      } finally {
        await worker.stop(1_000)
      }
    })

    it('retries a failing handler with backoff until it succeeds, and stops at a permanent error', async () => {
      let calls = 0
      const { queue, worker } = setup([
        { type: 'flaky', run: async () => {
          calls += 1
          if (calls < 3) throw new Error('transient')
          return { calls }
        } },
        { type: 'broken', run: async () => {
          throw new PermanentJobError('payload makes no sense', 'bad_payload')
        } },
      ])
      worker.start()
      try {
        const flaky = await queue.enqueue({ ownerId, type: 'flaky', payload: {} })
        const broken = await queue.enqueue({ ownerId, type: 'broken', payload: {} })
        await eventually(async () => ((await state(flaky.job.id)).state === 'succeeded' ? true : undefined))
        const flakyRow = await db.selectFrom('jobs').selectAll().where('id', '=', flaky.job.id).executeTakeFirstOrThrow()
        assert.equal(flakyRow.attempts, 3)
        assert.deepEqual(flakyRow.result, { calls: 3 })
        assert.deepEqual(flakyRow.errors.map((e) => e.code), ['internal_error', 'internal_error'])
        const brokenRow = await eventually(async () => {
          const r = await db.selectFrom('jobs').selectAll().where('id', '=', broken.job.id).executeTakeFirstOrThrow()
          return r.state === 'dead' ? r : undefined
        })
        assert.equal(brokenRow.attempts, 1)
        assert.equal(brokenRow.errors[0]?.code, 'bad_payload')
      } finally {
        await worker.stop(1_000)
      }
    })

    it('stops a running handler at once when its job is cancelled', async () => {
      let aborted: unknown
      const { queue, worker } = setup([{ type: 'long', run: async (_job: ClaimedJob, context) => {
        await new Promise<void>((resolve) => {
          context.signal.addEventListener('abort', () => {
            aborted = context.signal.reason
            resolve()
          })
        })
        throw new Error('aborted')
      } }])
      worker.start()
      try {
        const { job } = await queue.enqueue({ ownerId, type: 'long', payload: {} })
        await eventually(async () => ((await state(job.id)).state === 'running' ? true : undefined))
        await queue.cancel(ownerId, job.id)
        await eventually(async () => (aborted ? true : undefined), 2_000)
        await eventually(async () => (worker.activeJobs === 0 ? true : undefined))
        assert.equal((await state(job.id)).state, 'cancelled')
      } finally {
        await worker.stop(1_000)
      }
    })

    it('saves progress and a checkpoint that the next attempt resumes from', async () => {
      const seen: unknown[] = []
      const { queue, worker } = setup([{ type: 'steps', run: async (job, context) => {
        seen.push(job.checkpoint)
        const from = (job.checkpoint as { done?: number } | null)?.done ?? 0
        for (let done = from + 1; done <= 4; done += 1) {
          await context.progress(done, 4, { done })
          if (done === 2 && job.attempts === 1) throw new Error('crash halfway')
        }
        return { from }
      } }])
      worker.start()
      try {
        const { job } = await queue.enqueue({ ownerId, type: 'steps', payload: {} })
        await eventually(async () => ((await state(job.id)).state === 'succeeded' ? true : undefined))
        const done = await db.selectFrom('jobs').selectAll().where('id', '=', job.id).executeTakeFirstOrThrow()
        assert.deepEqual(seen, [null, { done: 2 }])
        assert.deepEqual(done.result, { from: 2 })
        assert.deepEqual([done.progress_done, done.progress_total], [4, 4])
      } finally {
        await worker.stop(1_000)
      }
    })

    it('keeps a debug log only for jobs that asked for one', async () => {
      const { queue, worker } = setup([{ type: 'chatty', run: async (_job, context) => {
        context.debug('step one', { n: 1 })
        await context.progress(1, 2)
        context.debug('step two')
        return null
      } }])
      worker.start()
      try {
        const loud = await queue.enqueue({ ownerId, type: 'chatty', payload: {}, debug: true })
        const quiet = await queue.enqueue({ ownerId, type: 'chatty', payload: {} })
        await eventually(async () => ((await state(loud.job.id)).state === 'succeeded' && (await state(quiet.job.id)).state === 'succeeded' ? true : undefined))
        const rows = await db.selectFrom('jobs').select(['id', 'debug_log']).where('id', 'in', [loud.job.id, quiet.job.id]).execute()
        const log = rows.find((r) => r.id === loud.job.id)?.debug_log as Array<{ message: string }>
        assert.deepEqual(log.map((e) => e.message), ['step one', 'step two'])
        assert.equal(rows.find((r) => r.id === quiet.job.id)?.debug_log, null)
      } finally {
        await worker.stop(1_000)
      }
    })

    it('on a graceful stop, lets short jobs finish and gives long ones back without counting the attempt', async () => {
      const { queue, worker } = setup([
        { type: 'short', run: async () => {
          await new Promise((resolve) => setTimeout(resolve, 100))
          return 'finished'
        } },
        { type: 'endless', run: async (_job, context) => {
          await new Promise((resolve) => context.signal.addEventListener('abort', resolve))
          throw new Error('stopped')
        } },
      ])
      worker.start()
      const short = await queue.enqueue({ ownerId, type: 'short', payload: {} })
      const endless = await queue.enqueue({ ownerId, type: 'endless', payload: {} })
      await eventually(async () => ((await state(short.job.id)).state === 'running' && (await state(endless.job.id)).state === 'running' ? true : undefined))
      await worker.stop(400)
      assert.equal((await state(short.job.id)).state, 'succeeded')
      const given = await state(endless.job.id)
      assert.equal(given.state, 'pending')
      assert.equal(given.attempts, 0)
      await queue.cancel(ownerId, endless.job.id)
    })

    it('recovers the job of a worker that vanished once its lease runs out', async () => {
      const { queue, worker } = setup([{ type: 'quick', run: async () => 'second try' }], { leaseMs: 600 })
      const { job } = await queue.enqueue({ ownerId, type: 'quick', payload: {} })
      // A worker that claims and then dies: nothing renews the lease.
      await queue.claim('dead-worker', 1)
      worker.start()
      try {
        const done = await eventually(async () => {
          const r = await state(job.id)
          return r.state === 'succeeded' ? r : undefined
        }, 5_000)
        assert.equal(done.attempts, 2)
        assert.equal(done.result, 'second try')
      } finally {
        await worker.stop(1_000)
      }
    })
  })
}
