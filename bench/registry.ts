/**
 * How fast the registry answers "what may this user use?" with many users and shares.
 *
 *   npm run bench -- registry [--users 1000] [--instances 10] [--shares 50] [--runs 300]
 *
 * Seeds the embedded database with users × instances and gives every user `shares` instances
 * of other users, then times, in one run:
 *  - GET /v1/llm-instances/{user} through the HTTP API (what a client sees),
 *  - the query behind it (a UNION of owned and shared instances) on the same connection,
 *  - the reference API's query shape (LEFT JOIN of shares with an OR), for comparison,
 *  - GET /v1/llm-definitions/{user} and GET of one instance.
 * Prints p50/p95/p99. It never passes or fails.
 */
import { randomBytes } from 'node:crypto'
import { cpSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { loadConfig } from '../src/config.js'
import { createLogger } from '../src/logger.js'
import { listInstancesFor } from '../src/registry/queries/instances.js'
import { startServer } from '../src/server.js'
import { ensureTemplate } from '../test/helpers/template.js'
import { measure, ms, table } from './_stats.js'

const { values } = parseArgs({
  options: {
    users: { type: 'string', default: '1000' },
    instances: { type: 'string', default: '10' },
    shares: { type: 'string', default: '50' },
    runs: { type: 'string', default: '300' },
  },
})
const users = Number(values.users)
const perUser = Number(values.instances)
const shares = Number(values.shares)
const runs = Number(values.runs)

const dataDir = mkdtempSync(join(tmpdir(), 'llmbase-bench-'))
cpSync(await ensureTemplate(), join(dataDir, 'pgdata'), { recursive: true })
const adminKey = `bench-admin-${randomBytes(16).toString('hex')}`
const config = loadConfig({
  env: { LLMBASE_DATA_DIR: dataDir, PORT: '0', LLMBASE_ADMIN_KEY: adminKey, ENCRYPTION_KEY: randomBytes(24).toString('hex'), LOG_LEVEL: 'silent' },
  cwd: dataDir,
})
const server = await startServer(config, createLogger({ level: 'silent' }))
const { pool, db } = server.database

try {
  const seeding = performance.now()
  await pool.query(`insert into users (handle, email) select 'user' || g, 'user' || g || '@bench.example' from generate_series(1, $1) g`, [users])
  await pool.query(
    `insert into llm_instances (owner_id, handle, api_standard, endpoint, model, dimensions)
     select u.id, 'inst' || i, 'openai', 'https://api.example.org/v1/embeddings', 'embed-' || i, 384
     from users u cross join generate_series(1, $1) i where u.handle like 'user%'`,
    [perUser],
  )
  // Each user gets `shares` instances of other users, spread deterministically over all of them.
  await pool.query(
    `insert into llm_instance_shares (instance_id, user_id, role)
     select i.id, u.id, case when j % 5 = 0 then 'editor' else 'reader' end
     from users u cross join generate_series(1, $1) j
     join llm_instances i on i.id = (select min(id) from llm_instances) + ((u.id * 7919 + j * 104729) % (select count(*) from llm_instances))
     where u.handle like 'user%' and i.owner_id <> u.id
     on conflict do nothing`,
    [shares],
  )
  await pool.query('analyze')
  const counts = (await pool.query(`select (select count(*) from users) as users, (select count(*) from llm_instances) as instances, (select count(*) from llm_instance_shares) as shares`)).rows[0]
  console.log(`seeded ${counts.users} users, ${counts.instances} instances, ${counts.shares} shares in ${((performance.now() - seeding) / 1000).toFixed(1)} s`)

  const target = `user${Math.ceil(users / 2)}`
  const targetId = (await pool.query('select id from users where handle = $1', [target])).rows[0].id as number
  const keyResponse = await fetch(`${server.url}/v1/users/${target}/keys`, { method: 'POST', headers: { authorization: `Bearer ${adminKey}` } })
  const userKey = ((await keyResponse.json()) as { key: string }).key
  const get = (path: string) => async () => {
    const response = await fetch(server.url + path, { headers: { authorization: `Bearer ${userKey}` } })
    if (response.status !== 200) throw new Error(`${path}: ${response.status}`)
    return response.json()
  }
  const visible = (await get(`/v1/llm-instances/${target}?limit=200`)()) as { instances: unknown[] }

  const referenceShape = () =>
    pool.query(
      `select distinct i.id, i.handle, u.handle as owner from llm_instances i
       join users u on u.id = i.owner_id
       left join llm_instance_shares s on s.instance_id = i.id
       where i.owner_id = $1 or s.user_id = $1
       order by owner, i.handle limit 200`,
      [targetId],
    )

  const rows = [
    ['GET /v1/llm-instances/{user} (HTTP API)', await measure(get(`/v1/llm-instances/${target}?limit=200`), { runs })],
    ['  its query (UNION of owned and shared)', await measure(() => listInstancesFor(db, targetId, { limit: 200, offset: 0 }), { runs })],
    ['  reference shape (LEFT JOIN … OR)', await measure(referenceShape, { runs: Math.min(runs, 50), warmup: 2 })],
    ['GET /v1/llm-definitions/{user} (HTTP API)', await measure(get(`/v1/llm-definitions/${target}?limit=200`), { runs })],
    ['GET /v1/llm-instances/{owner}/{handle}', await measure(get(`/v1/llm-instances/${target}/inst1`), { runs })],
  ] as const
  console.log(`\n${users} users × ${perUser} instances, ${shares} shares per user; ${target} sees ${visible.instances.length} instances; embedded database\n`)
  console.log(table(rows.map(([name, s]) => ({ operation: name, runs: s.runs, p50: ms(s.p50), p95: ms(s.p95), p99: ms(s.p99) }))))
} finally {
  await server.close()
  rmSync(dataDir, { recursive: true, force: true })
}
