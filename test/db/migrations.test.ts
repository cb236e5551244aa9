import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { after, before, describe, it } from 'node:test'
import { pino } from 'pino'
import { type Database, openDatabase } from '../../src/db/database.js'
import { loadMigrations, migrateDown, migrateUp, migrationStatus, parseMigration } from '../../src/db/migrate.js'
import { runCli } from '../helpers/cli.js'
import { createTestDatabase, DATABASES, type TestDatabase } from '../helpers/databases.js'
import { createUser, startTestServer, type TestServer } from '../helpers/server.js'

const fixtures = (name: string) => fileURLToPath(new URL(`./fixtures/${name}/`, import.meta.url))
const silent = pino({ level: 'silent' })

async function schemaOf(db: Database) {
  const { rows } = await db.pool.query(`
    select table_name, column_name, data_type, is_nullable, column_default
    from information_schema.columns where table_schema = 'public' and table_name <> 'schema_migrations'
    order by table_name, column_name`)
  const indexes = await db.pool.query("select indexname, indexdef from pg_indexes where schemaname = 'public' order by indexname")
  return { columns: rows, indexes: indexes.rows }
}

for (const kind of DATABASES) {
  describe(`migrations on the ${kind} database`, () => {
    let server: TestServer
    before(async () => {
      server = await startTestServer(kind)
      await createUser(server, 'alice')
      await createUser(server, 'bob')
      await server.request('POST', '/v1/users/alice/keys', { body: { label: 'second' } })
    })
    after(() => server?.close())

    it('takes every migration down and up again on a database holding data, restoring the same schema', async () => {
      const { database } = server.running
      // Migrations that wait for a capability this database lacks (pgvector) are not applied here.
      const all = loadMigrations().filter((m) => m.requires.every((r) => database.capabilities[r.capability] === r.present))
      const original = await schemaOf(database)
      for (let steps = 1; steps <= all.length; steps++) {
        const reverted = await migrateDown(database.pool, { steps })
        assert.deepEqual(reverted.map((m) => m.version), all.slice(-steps).reverse().map((m) => m.version))
        const applied = await migrateUp(database.pool, { capabilities: database.capabilities })
        assert.deepEqual(applied.map((m) => m.version), all.slice(-steps).map((m) => m.version))
        assert.deepEqual(await schemaOf(database), original)
      }
      const status = await migrationStatus(database.pool, { capabilities: database.capabilities })
      assert.ok(status.every((m) => (m.state === 'applied' && !m.modified) || m.state === 'waiting' || m.state === 'replaced'))
      assert.equal(status.filter((m) => m.state === 'applied').length, all.length)
      // The first migration seeds _system again after a full round trip.
      assert.equal((await server.request('GET', '/v1/users/_system')).status, 200)
    })

    it('is a no-op when everything is applied', async () => {
      const { database } = server.running
      assert.deepEqual(await migrateUp(database.pool, { capabilities: database.capabilities }), [])
    })
  })

  describe(`the migration runner on the ${kind} database`, () => {
    let testDb: TestDatabase
    let database: Database
    before(async () => {
      testDb = await createTestDatabase(kind)
      database = await openDatabase({ url: testDb.env.DATABASE_URL, dataDir: testDb.dataDir, poolSize: 4, logger: silent })
    })
    after(async () => {
      await database?.close()
      await testDb?.cleanup()
    })

    it('holds back a migration that needs a missing capability and applies it once the capability appears', async () => {
      const dir = fixtures('requires')
      const first = await migrateUp(database.pool, { dir, capabilities: { vectors: false } })
      assert.deepEqual(first.map((m) => m.version), [1, 3])
      const status = await migrationStatus(database.pool, { dir, capabilities: { vectors: false } })
      assert.deepEqual(status.map((m) => [m.version, m.state, m.waitingFor]), [[1, 'applied', null], [2, 'waiting', 'vectors'], [3, 'applied', null]])
      const later = await migrateUp(database.pool, { dir, capabilities: { vectors: true } })
      assert.deepEqual(later.map((m) => m.version), [2])
      const reverted = await migrateDown(database.pool, { dir, steps: 10 })
      assert.deepEqual(reverted.map((m) => m.version), [3, 2, 1])
      const tables = await database.pool.query("select count(*) from information_schema.tables where table_name like 'fixture_%'")
      assert.equal(Number(tables.rows[0].count), 0)
    })

    it('applies one of two alternatives, the one whose requirements hold, and never the other', async () => {
      const dir = fixtures('alternatives')
      const first = await migrateUp(database.pool, { dir, capabilities: { vectors: false } })
      assert.deepEqual(first.map((m) => m.version), [1, 3])
      const later = await migrateUp(database.pool, { dir, capabilities: { vectors: true } })
      assert.deepEqual(later, [], 'the capability appearing later does not bring the other alternative')
      const status = await migrationStatus(database.pool, { dir, capabilities: { vectors: true } })
      assert.deepEqual(status.map((m) => [m.version, m.state]), [[1, 'applied'], [2, 'replaced'], [3, 'applied']])
      await migrateDown(database.pool, { dir, steps: 10 })
      const withVectors = await migrateUp(database.pool, { dir, capabilities: { vectors: true } })
      assert.deepEqual(withVectors.map((m) => m.version), [1, 2])
      const status2 = await migrationStatus(database.pool, { dir, capabilities: { vectors: false } })
      assert.deepEqual(status2.map((m) => [m.version, m.state, m.waitingFor]), [[1, 'applied', null], [2, 'applied', null], [3, 'replaced', null]])
      await migrateDown(database.pool, { dir, steps: 10 })
    })

    it('rolls back a failing migration completely and names it', async () => {
      const dir = fixtures('broken')
      await assert.rejects(migrateUp(database.pool, { dir, capabilities: { vectors: false } }), /migration 0002_fails \(up\) failed/)
      const tables = await database.pool.query("select table_name from information_schema.tables where table_name in ('fixture_ok', 'fixture_half') order by 1")
      assert.deepEqual(tables.rows.map((r) => r.table_name), ['fixture_ok'])
      const status = await migrationStatus(database.pool, { dir, capabilities: { vectors: false } })
      assert.deepEqual(status.map((m) => m.state), ['applied', 'pending'])
      await migrateDown(database.pool, { dir, steps: 1 })
    })
  })
}

for (const kind of DATABASES.filter((k) => k === 'postgres')) {
  describe('two processes migrating one PostgreSQL server at once', () => {
    let testDb: TestDatabase
    before(async () => {
      testDb = await createTestDatabase(kind)
    })
    after(() => testDb?.cleanup())

    it('applies each migration exactly once', async () => {
      const env = { ...testDb.env, LLMBASE_ADMIN_KEY: 'a'.repeat(40), ENCRYPTION_KEY: 'e'.repeat(40) }
      const results = await Promise.all([runCli(['migrate', 'up'], env), runCli(['migrate', 'up'], env)])
      for (const result of results) assert.equal(result.code, 0, result.stderr)
      const outputs = results.map((r) => r.stdout).sort()
      assert.match(outputs.join('\n'), /Nothing to apply/, 'one of them found the work done')
      assert.match(outputs.join('\n'), /applied 0001_identity/)
      const database = await openDatabase({ url: testDb.env.DATABASE_URL, dataDir: testDb.dataDir, poolSize: 1, logger: silent })
      try {
        const rows = await database.pool.query('select version, count(*) over (partition by version) as n from schema_migrations')
        const applicable = loadMigrations().filter((m) => m.requires.every((r) => database.capabilities[r.capability] === r.present))
        assert.equal(rows.rows.length, applicable.length)
        assert.ok(rows.rows.every((r) => Number(r.n) === 1))
      } finally {
        await database.close()
      }
    })
  })
}

describe('migration files', () => {
  it('must have an up part followed by a down part', () => {
    assert.throws(() => parseMigration('0001_x.sql', 'create table x ();'), /needs "-- migrate:up"/)
    assert.throws(() => parseMigration('0001_x.sql', '-- migrate:down\n-- migrate:up\n'), /needs "-- migrate:up"/)
  })

  it('must be named NNNN_name.sql and require only known capabilities', () => {
    assert.throws(() => parseMigration('first.sql', '-- migrate:up\n-- migrate:down\n'), /must look like 0001_name\.sql/)
    assert.throws(() => parseMigration('0001_x.sql', '-- requires: gpu\n-- migrate:up\n-- migrate:down\n'), /unknown capability gpu/)
  })

  it('are all valid in the repository', () => {
    const migrations = loadMigrations()
    assert.ok(migrations.length >= 1)
    assert.deepEqual(migrations.map((m) => m.version), migrations.map((_, i) => i + 1), 'versions are consecutive from 1')
    for (const m of migrations) assert.ok(m.down.length > 0, `${m.name} can be reverted`)
  })
})
