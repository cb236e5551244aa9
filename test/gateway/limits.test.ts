import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { after, before, describe, it } from 'node:test'
import { Kysely, PostgresDialect } from 'kysely'
import { type Database, type Executor, openDatabase } from '../../src/db/database.js'
import type { Tables } from '../../src/db/tables.js'
import { type Admission, LimitEnforcer, LimitRefusal } from '../../src/gateway/limits/enforcer.js'
import { createLogger } from '../../src/logger.js'
import { DATABASES } from '../helpers/databases.js'
import { createUser, startTestServer, type TestServer } from '../helpers/server.js'

const logger = createLogger({ level: 'silent' })
const NO_LIMITS = { requests_per_minute: null, tokens_per_minute: null, concurrent_requests: null, usd_per_day: null, usd_per_month: null }
const NO_USAGE = { requests_this_minute: 0, tokens_this_minute: 0, in_flight: 0, usd_today: 0, usd_this_month: 0 }

/** Counting windows are calendar minutes: a test that counts within one waits out a minute's last seconds. */
async function awayFromMinuteEnd(marginMs = 10_000) {
  const left = 60_000 - (Date.now() % 60_000)
  if (left < marginMs) await sleep(left + 250)
}

async function refusal(admission: Promise<Admission>): Promise<LimitRefusal> {
  try {
    await admission
  } catch (error) {
    assert.ok(error instanceof LimitRefusal, String(error))
    return error
  }
  assert.fail('the call was admitted')
}

for (const kind of DATABASES) {
  describe(`limits and budgets on the ${kind} database`, () => {
    let server: TestServer
    const keys: Record<string, { key: string; keyId: string }> = {}
    const userIds: Record<string, number> = {}
    const enforcers: LimitEnforcer[] = []
    const as = (user: string) => (user === 'admin' ? server.adminKey : keys[user]?.key)
    const db = (): Executor => server.running.database.db
    const enforcer = () => {
      const made = new LimitEnforcer(db(), logger, { sweepIntervalMs: 0 })
      enforcers.push(made)
      return made
    }
    const setLimits = async (path: string, body: Record<string, unknown>) => {
      const response = await server.request('PUT', `/v1/limits/${path}`, { body })
      assert.equal(response.status, 200, response.text)
    }
    const usage = async (path: string) => (await server.request('GET', `/v1/limits/${path}`)).body.usage
    const subject = (user: string, key = user) => ({ userId: userIds[user] as number, keyId: keys[key]?.keyId ?? null })

    before(async () => {
      server = await startTestServer(kind)
      for (const handle of ['alice', 'bob', 'rpm-user', 'scoped', 'tokens', 'spender', 'monthly', 'parallel', 'shared', 'unlimited', 'burst']) {
        keys[handle] = await createUser(server, handle)
      }
      keys.carol = await createUser(server, 'carol', { role: 'admin' })
      const second = await server.request('POST', '/v1/users/scoped/keys', { key: as('scoped'), body: { label: 'second' } })
      assert.equal(second.status, 201, second.text)
      keys['scoped-2'] = { key: second.body.key, keyId: second.body.key_id }
      const { rows } = await server.running.database.pool.query<{ id: number; handle: string }>('select id, handle from users')
      for (const row of rows) userIds[row.handle] = Number(row.id)
    })
    after(async () => {
      await Promise.all(enforcers.map((made) => made.close()))
      await server?.close()
    })

    describe('the API', () => {
      const countRows = async () => Number((await server.running.database.pool.query('select count(*) from gateway_limits')).rows[0].count)

      it('shows a user its own limits (none yet) and usage', async () => {
        const got = await server.request('GET', '/v1/limits/alice', { key: as('alice') })
        assert.equal(got.status, 200)
        assert.deepEqual(got.body, { limits: NO_LIMITS, usage: NO_USAGE })
      })

      it('lets only an admin set and delete user limits; a stranger gets 404', async () => {
        const body = { requests_per_minute: 60, tokens_per_minute: 100_000, concurrent_requests: 4, usd_per_day: 2.5, usd_per_month: 40 }
        const own = await server.request('PUT', '/v1/limits/alice', { key: as('alice'), body })
        assert.equal(own.status, 403)
        assert.equal(own.body.code, 'forbidden')
        const stranger = await server.request('PUT', '/v1/limits/alice', { key: as('bob'), body })
        assert.equal(stranger.status, 404)
        assert.equal(stranger.body.code, 'user_not_found')
        assert.equal((await server.request('GET', '/v1/limits/alice', { key: as('bob') })).status, 404)
        assert.equal((await server.request('DELETE', '/v1/limits/alice', { key: as('alice') })).status, 403)
        assert.equal((await server.request('GET', '/v1/limits/alice', { key: null })).status, 401)

        const set = await server.request('PUT', '/v1/limits/alice', { key: as('admin'), body })
        assert.equal(set.status, 200, set.text)
        assert.deepEqual(set.body, { limits: body, usage: NO_USAGE })
        assert.deepEqual((await server.request('GET', '/v1/limits/alice', { key: as('alice') })).body.limits, body)

        const replaced = await server.request('PUT', '/v1/limits/alice', { key: as('carol'), body: { usd_per_month: 10, tokens_per_minute: null } })
        assert.equal(replaced.status, 200, 'an admin user may too')
        assert.deepEqual(replaced.body.limits, { ...NO_LIMITS, usd_per_month: 10 }, 'PUT replaces: absent fields are no limit')

        assert.equal((await server.request('DELETE', '/v1/limits/alice', { key: as('admin') })).status, 204)
        assert.deepEqual((await server.request('GET', '/v1/limits/alice', { key: as('alice') })).body.limits, NO_LIMITS)
        assert.equal((await server.request('DELETE', '/v1/limits/alice', { key: as('admin') })).status, 204, 'deleting no limits is no error')
      })

      it("lets a user limit its own keys, and an admin any user's", async () => {
        const path = `/v1/limits/alice/keys/${keys.alice?.keyId}`
        const own = await server.request('PUT', path, { key: as('alice'), body: { requests_per_minute: 10 } })
        assert.equal(own.status, 200, own.text)
        assert.deepEqual(own.body.limits, { ...NO_LIMITS, requests_per_minute: 10 })
        const upper = await server.request('GET', path.toUpperCase().replace('/V1/LIMITS/ALICE/KEYS/', '/v1/limits/alice/keys/'), { key: as('alice') })
        assert.equal(upper.body.limits.requests_per_minute, 10, 'key ids are case-insensitive')
        const admin = await server.request('PUT', path, { key: as('admin'), body: { usd_per_day: 0.75 } })
        assert.deepEqual(admin.body.limits, { ...NO_LIMITS, usd_per_day: 0.75 })
        assert.deepEqual((await server.request('GET', '/v1/limits/alice', { key: as('alice') })).body.limits, NO_LIMITS, 'key limits are not user limits')

        assert.equal((await server.request('GET', path, { key: as('bob') })).status, 404)
        assert.equal((await server.request('PUT', path, { key: as('bob'), body: {} })).body.code, 'user_not_found')
        const bobsKey = await server.request('PUT', `/v1/limits/alice/keys/${keys.bob?.keyId}`, { key: as('admin'), body: { requests_per_minute: 1 } })
        assert.equal(bobsKey.status, 404)
        assert.equal(bobsKey.body.code, 'api_key_not_found')
        assert.equal((await server.request('GET', `/v1/limits/alice/keys/${randomUUID()}`, { key: as('alice') })).body.code, 'api_key_not_found')
        assert.equal((await server.request('GET', '/v1/limits/alice/keys/not-a-uuid', { key: as('alice') })).status, 422)

        assert.equal((await server.request('DELETE', path, { key: as('alice') })).status, 204)
        assert.deepEqual((await server.request('GET', path, { key: as('alice') })).body, { limits: NO_LIMITS, usage: NO_USAGE })
      })

      it('rejects bad limits with 422 and changes nothing', async () => {
        await setLimits('bob', { requests_per_minute: 5 })
        const rows = await countRows()
        const cases: Array<[Record<string, unknown>, string]> = [
          [{ requests_per_minute: -1 }, 'body.requests_per_minute'],
          [{ requests_per_minute: 1.5 }, 'body.requests_per_minute'],
          [{ tokens_per_minute: '100' }, 'body.tokens_per_minute'],
          [{ concurrent_requests: 3_000_000_000 }, 'body.concurrent_requests'],
          [{ usd_per_day: -0.01 }, 'body.usd_per_day'],
          [{ usd_per_month: 'lots' }, 'body.usd_per_month'],
          [{ requests_per_hour: 5 }, 'body.requests_per_hour'],
        ]
        for (const [body, location] of cases) {
          for (const path of ['bob', `bob/keys/${keys.bob?.keyId}`]) {
            const response = await server.request('PUT', `/v1/limits/${path}`, { body })
            assert.equal(response.status, 422, `${path} ${JSON.stringify(body)}: ${response.text}`)
            assert.ok(response.body.errors.some((e: { location: string }) => e.location === location), response.text)
          }
        }
        assert.equal(await countRows(), rows)
        assert.deepEqual((await server.request('GET', '/v1/limits/bob')).body.limits, { ...NO_LIMITS, requests_per_minute: 5 })
      })

      it('documents the endpoints in OpenAPI', async () => {
        const openapi = await server.request('GET', '/openapi.json', { key: null })
        assert.ok(openapi.body.paths['/v1/limits/{user_handle}'].put)
        assert.ok(openapi.body.paths['/v1/limits/{user_handle}/keys/{key_id}'].delete)
      })
    })

    describe('the enforcer', () => {
      it('costs no database round trip for a subject without limits', async () => {
        let queries = 0
        // Counts the statements an enforcer sends; not destroyed, since the pool is the server's.
        const counted = new Kysely<Tables>({ dialect: new PostgresDialect({ pool: server.running.database.pool }), log: () => void queries++ })
        const watched = new LimitEnforcer(counted, logger, { sweepIntervalMs: 0 })
        enforcers.push(watched)
        for (let i = 0; i < 50; i++) (await watched.admit(subject('unlimited'))).finish({ tokens: 100, usd: 1 })
        await watched.flush()
        assert.equal(queries, 1, 'one lookup of the limits, then nothing')
        assert.deepEqual(await usage('unlimited'), NO_USAGE)
      })

      it('refuses the call after the requests-per-minute limit, until the next minute', async () => {
        await setLimits('rpm-user', { requests_per_minute: 3 })
        const limits = enforcer()
        await awayFromMinuteEnd()
        for (let i = 0; i < 3; i++) (await limits.admit(subject('rpm-user'))).finish({ tokens: 1, usd: null })
        const refused = await refusal(limits.admit(subject('rpm-user')))
        assert.equal(refused.code, 'rate_limited')
        assert.equal(refused.status, 429)
        assert.equal(refused.limit, 'requests_per_minute')
        assert.ok(refused.retryAfter >= 1 && refused.retryAfter <= 60, String(refused.retryAfter))
        assert.equal(refused.headers?.['retry-after'], String(refused.retryAfter))
        assert.match(refused.message, /^rate limit reached: 3 requests per minute for this user; it resets at \S+:00\.000Z \(in \d+ s\)$/)
        await limits.flush()
        const used = await usage('rpm-user')
        assert.equal(used.requests_this_minute, 3, 'a refused call is not counted')
        assert.equal(used.tokens_this_minute, 3)
      })

      it('checks user and key limits independently, and a refusal leaves no count in the other scope', async () => {
        const [first, second] = [`scoped/keys/${keys.scoped?.keyId}`, `scoped/keys/${keys['scoped-2']?.keyId}`]
        await setLimits(first, { requests_per_minute: 2 })
        const limits = enforcer()
        await awayFromMinuteEnd()
        await limits.admit(subject('scoped'))
        await limits.admit(subject('scoped'))
        const byKey = await refusal(limits.admit(subject('scoped')))
        assert.match(byKey.message, /2 requests per minute for this API key/)
        for (let i = 0; i < 5; i++) await limits.admit(subject('scoped', 'scoped-2'))
        assert.equal((await usage(second)).requests_this_minute, 0, 'a key without limits is not counted')

        await setLimits('scoped', { requests_per_minute: 4 })
        limits.clear()
        await limits.admit(subject('scoped', 'scoped-2'))
        const byKeyAgain = await refusal(limits.admit(subject('scoped')))
        assert.match(byKeyAgain.message, /for this API key/)
        assert.equal((await usage('scoped')).requests_this_minute, 1, "the key's refusal undid the user's count")
        await limits.admit(subject('scoped', 'scoped-2'))
        await limits.admit(subject('scoped', 'scoped-2'))
        await limits.admit(subject('scoped', 'scoped-2'))
        const byUser = await refusal(limits.admit(subject('scoped', 'scoped-2')))
        assert.match(byUser.message, /4 requests per minute for this user/)
        assert.equal((await usage('scoped')).requests_this_minute, 4)
        assert.equal((await usage(first)).requests_this_minute, 2)
      })

      it('refuses once finished calls have used the tokens of the minute', async () => {
        await setLimits('tokens', { tokens_per_minute: 100 })
        const limits = enforcer()
        await awayFromMinuteEnd()
        ;(await limits.admit(subject('tokens'))).finish({ tokens: 60, usd: null })
        await limits.flush()
        ;(await limits.admit(subject('tokens'))).finish({ tokens: 45, usd: 0.01 })
        await limits.flush()
        const refused = await refusal(limits.admit(subject('tokens')))
        assert.equal(refused.code, 'rate_limited')
        assert.equal(refused.limit, 'tokens_per_minute')
        assert.match(refused.message, /100 tokens per minute for this user \(105 used\)/)
        assert.ok(refused.retryAfter >= 1 && refused.retryAfter <= 60)
        assert.deepEqual(await usage('tokens'), { requests_this_minute: 2, tokens_this_minute: 105, in_flight: 0, usd_today: 0.01, usd_this_month: 0.01 })
      })

      it('refuses with budget_exceeded once the day’s spend reaches the limit, until UTC midnight', async () => {
        await setLimits('spender', { usd_per_day: 0.5 })
        const limits = enforcer()
        ;(await limits.admit(subject('spender'))).finish({ tokens: 10, usd: 0.3 })
        await limits.flush()
        ;(await limits.admit(subject('spender'))).finish({ tokens: 10, usd: 0.25 })
        await limits.flush()
        const refused = await refusal(limits.admit(subject('spender')))
        assert.equal(refused.code, 'budget_exceeded')
        assert.equal(refused.status, 429)
        assert.equal(refused.limit, 'usd_per_day')
        assert.match(refused.message, /^daily budget reached: USD 0\.5 per day for this user \(USD 0\.55 spent\); it resets at \S+T00:00:00\.000Z/)
        const now = new Date()
        const midnight = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1)
        assert.ok(Math.abs(refused.retryAfter - (midnight - now.getTime()) / 1000) < 5, String(refused.retryAfter))
        assert.equal(refused.headers?.['retry-after'], String(refused.retryAfter))
        assert.equal((await usage('spender')).usd_today, 0.55)
      })

      it('refuses with budget_exceeded once the month’s spend reaches the limit', async () => {
        await setLimits('monthly', { usd_per_month: 1 })
        const limits = enforcer()
        ;(await limits.admit(subject('monthly'))).finish({ tokens: 1, usd: 1 })
        await limits.flush()
        const refused = await refusal(limits.admit(subject('monthly')))
        assert.equal(refused.code, 'budget_exceeded')
        assert.match(refused.message, /^monthly budget reached: USD 1 per month for this user \(USD 1 spent\); it resets at \S+-01T00:00:00\.000Z/)
        assert.ok(refused.retryAfter > 0 && refused.retryAfter <= 31 * 86_400)
      })

      it('refuses a call beyond the concurrency limit, and admits again once one finishes', async () => {
        const path = `parallel/keys/${keys.parallel?.keyId}`
        await setLimits(path, { concurrent_requests: 2 })
        const limits = enforcer()
        const first = await limits.admit(subject('parallel'))
        await limits.admit(subject('parallel'))
        const refused = await refusal(limits.admit(subject('parallel')))
        assert.equal(refused.code, 'rate_limited')
        assert.equal(refused.limit, 'concurrent_requests')
        assert.match(refused.message, /2 concurrent requests for this API key/)
        assert.equal(refused.retryAfter, 1)
        assert.equal((await usage(path)).in_flight, 2)
        first.finish({ tokens: 5, usd: null })
        first.finish({ tokens: 5, usd: null })
        await limits.flush()
        assert.equal((await usage(path)).in_flight, 1)
        assert.equal((await usage(path)).tokens_this_minute, 5, 'a second finish is ignored')
        const again = await limits.admit(subject('parallel'))
        again.finish({ tokens: 0, usd: null })
        await limits.flush()
      })

      it('admits exactly the concurrency limit out of simultaneous calls', async () => {
        const path = `parallel/keys/${keys.parallel?.keyId}`
        await setLimits(path, { concurrent_requests: 3 })
        await server.running.database.pool.query('delete from gateway_inflight')
        const limits = enforcer()
        const outcomes = await Promise.allSettled(Array.from({ length: 12 }, () => limits.admit(subject('parallel'))))
        const admitted = outcomes.filter((outcome) => outcome.status === 'fulfilled')
        assert.equal(admitted.length, 3)
        for (const outcome of outcomes) if (outcome.status === 'rejected') assert.ok(outcome.reason instanceof LimitRefusal)
        for (const outcome of admitted) outcome.value.finish({ tokens: 0, usd: null })
        await limits.flush()
        assert.equal((await usage(path)).in_flight, 0)
      })

      it('admits exactly the requests-per-minute limit out of a burst, with both scopes limited', async () => {
        await setLimits('burst', { requests_per_minute: 5 })
        await setLimits(`burst/keys/${keys.burst?.keyId}`, { concurrent_requests: 50 })
        const limits = enforcer()
        await awayFromMinuteEnd()
        const outcomes = await Promise.allSettled(Array.from({ length: 20 }, () => limits.admit(subject('burst'))))
        const admitted = outcomes.filter((outcome) => outcome.status === 'fulfilled')
        assert.equal(admitted.length, 5)
        for (const outcome of outcomes) if (outcome.status === 'rejected') assert.equal(outcome.reason.limit, 'requests_per_minute')
        assert.equal((await usage(`burst/keys/${keys.burst?.keyId}`)).in_flight, 5, 'refused calls hold no slot')
        for (const outcome of admitted) outcome.value.finish({ tokens: 2, usd: null })
        await limits.flush()
        assert.deepEqual(await usage(`burst/keys/${keys.burst?.keyId}`), { ...NO_USAGE, requests_this_minute: 5, tokens_this_minute: 10 })
      })

      it('shares counts between enforcers on one database', async () => {
        await setLimits('shared', { requests_per_minute: 4, concurrent_requests: 1 })
        let other: Database | undefined
        let otherDir: string | undefined
        if (kind === 'postgres') {
          // A second pool, as a second server process would have.
          otherDir = mkdtempSync(join(tmpdir(), 'llmbase-limits-'))
          other = await openDatabase({ url: server.testDatabase.env.DATABASE_URL, dataDir: otherDir, poolSize: 2, logger })
        }
        try {
          const one = enforcer()
          const two = new LimitEnforcer(other?.db ?? db(), logger, { sweepIntervalMs: 0 })
          await awayFromMinuteEnd()
          const held = await one.admit(subject('shared'))
          const busy = await refusal(two.admit(subject('shared')))
          assert.equal(busy.limit, 'concurrent_requests', 'the slot taken through one is seen by the other')
          held.finish({ tokens: 1, usd: null })
          await one.flush()
          ;(await two.admit(subject('shared'))).finish({ tokens: 1, usd: null })
          await two.flush()
          ;(await one.admit(subject('shared'))).finish({ tokens: 1, usd: null })
          await one.flush()
          ;(await two.admit(subject('shared'))).finish({ tokens: 1, usd: null })
          await two.flush()
          const refused = await refusal(one.admit(subject('shared')))
          assert.equal(refused.limit, 'requests_per_minute', 'four calls through two enforcers used the limit of four')
          await two.close()
        } finally {
          await other?.close()
          if (otherDir) rmSync(otherDir, { recursive: true, force: true })
        }
      })

      it('deletes old counters and abandoned slots when it sweeps', async () => {
        const pool = server.running.database.pool
        await pool.query(`insert into gateway_counters (scope, window_kind, window_start, requests) values
          ('u:swept', 'minute', date_trunc('minute', now()) - interval '2 hours', 1),
          ('u:swept', 'day', date_trunc('day', now()) - interval '3 months', 1),
          ('u:swept', 'month', date_trunc('month', now()), 1),
          ('u:swept', 'minute', date_trunc('minute', now()), 1)`)
        await pool.query(`insert into gateway_inflight (scope, id, expires_at) values
          ('u:swept', gen_random_uuid(), now() - interval '1 second'), ('u:swept', gen_random_uuid(), now() + interval '1 minute')`)
        const limits = enforcer()
        limits.sweep()
        await limits.flush()
        const counters = await pool.query("select window_kind from gateway_counters where scope = 'u:swept' order by window_kind")
        assert.deepEqual(counters.rows.map((row) => row.window_kind), ['minute', 'month'])
        const slots = await pool.query("select count(*) from gateway_inflight where scope = 'u:swept'")
        assert.equal(Number(slots.rows[0].count), 1)
      })
    })
  })
}
