import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import pino from 'pino'
import { RequestLogWriter } from '../../src/gateway/accounting/log-writer.js'
import { DATABASES } from '../helpers/databases.js'
import { createUser, startTestServer, type TestServer } from '../helpers/server.js'

for (const kind of DATABASES) {
  describe(`the gateway request log writer on the ${kind} database`, () => {
    let server: TestServer
    let userId: number
    before(async () => {
      server = await startTestServer(kind)
      await createUser(server, 'alice')
      userId = Number((await server.running.database.pool.query(`select id from users where handle = 'alice'`)).rows[0].id)
    })
    after(() => server?.close())

    const row = (createdAt: Date) => ({
      id: randomUUID(), request_id: randomUUID(), user_id: userId, api_key_id: null, operation: 'chat' as const, model: 'm',
      route_id: null, instance_id: null, stream: false, status: 200, error_code: null, error_message: null, cache: 'off' as const,
      attempts: 1, prompt_tokens: 1, completion_tokens: 1, cached_tokens: null, total_tokens: 2, cost_usd: null,
      latency_ms: 1, ttft_ms: null, created_at: createdAt,
    })
    const attempt = (createdAt: Date) => ({
      attempt: 1, instance_id: null, provider: 'openai', model: 'm', status: 200, error_code: null, error_message: null,
      latency_ms: 1, ttft_ms: null, prompt_tokens: 1, completion_tokens: 1, cached_tokens: null, cost_usd: null, created_at: createdAt,
    })
    const count = async (table: string) => Number((await server.running.database.pool.query(`select count(*) from ${table}`)).rows[0].count)

    it('writes calls and their attempts in batches larger than one statement takes', async () => {
      const writer = new RequestLogWriter(server.running.database.db, pino({ level: 'silent' }), 60_000)
      const before = await count('llm_requests')
      for (let i = 0; i < 1_200; i += 1) writer.record(row(new Date()), [attempt(new Date()), { ...attempt(new Date()), attempt: 2 }])
      await writer.close()
      assert.equal(await count('llm_requests'), before + 1_200)
      assert.equal(Number((await server.running.database.pool.query('select count(*) from llm_responses r join llm_requests q on q.id = r.llm_request_id')).rows[0].count) >= 2_400, true)
    })

    it('deletes calls older than the retention with their attempts, and nothing newer', async () => {
      const writer = new RequestLogWriter(server.running.database.db, pino({ level: 'silent' }), 60_000)
      const old = new Date(Date.now() - 40 * 86_400_000)
      const oldRow = row(old)
      const newRow = row(new Date())
      writer.record(oldRow, [attempt(old)])
      writer.record(newRow, [attempt(new Date())])
      await writer.flush()
      await writer.prune(30)
      const ids = (await server.running.database.pool.query('select id from llm_requests where id = any($1)', [[oldRow.id, newRow.id]])).rows.map((r) => r.id)
      assert.deepEqual(ids, [newRow.id])
      const orphans = Number((await server.running.database.pool.query('select count(*) from llm_responses where llm_request_id = $1', [oldRow.id])).rows[0].count)
      assert.equal(orphans, 0)
      await writer.close()
    })

    it('drops only a row the database can never take and writes the rest of the batch', async () => {
      const writer = new RequestLogWriter(server.running.database.db, pino({ level: 'silent' }), 60_000)
      const good = row(new Date())
      const orphan = { ...row(new Date()), user_id: 987_654_321 } // no such user: refused for good
      writer.record(orphan, [])
      writer.record(good, [attempt(new Date())])
      await writer.close()
      const found = (await server.running.database.pool.query('select id from llm_requests where id = any($1)', [[good.id, orphan.id]])).rows.map((r) => r.id)
      assert.deepEqual(found, [good.id])
    })
  })
}
