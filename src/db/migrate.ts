import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type pg from 'pg'
import type { Capabilities } from './database.js'

/**
 * Migrations are plain SQL files `NNNN_name.sql` in `migrations/`, each with an up and a down
 * part:
 *
 *     -- requires: vector        (optional: applied only when pgvector is installed;
 *                                 `no vector`: only when it is not)
 *     -- instead of: 0004        (optional: the two are alternatives; once either is applied,
 *                                 the other is `replaced` and never runs)
 *     -- migrate:up
 *     create table …;
 *     -- migrate:down
 *     drop table …;
 *
 * We run them ourselves rather than through a migration library because a migration may need
 * a capability the database lacks (pgvector on a plain PostgreSQL server): such a migration
 * waits, the ones after it that do not need it still run, and it is applied on the first start
 * after the extension appears. Each migration runs in its own transaction, under a session
 * advisory lock, so two processes starting together migrate once.
 */
export interface Migration {
  version: number
  name: string
  up: string
  down: string
  requires: Requirement[]
  /** The migration this one is an alternative to (`-- instead of:`). */
  insteadOf: number | null
  checksum: string
}

/** A capability the database must have (`present: true`) or lack. */
export interface Requirement {
  capability: keyof Pick<Capabilities, 'vectors'>
  present: boolean
}

export type MigrationState = 'applied' | 'pending' | 'waiting' | 'replaced'

export interface MigrationStatus {
  version: number
  name: string
  state: MigrationState
  appliedAt: Date | null
  /** The file changed after it was applied. */
  modified: boolean
  /** For `waiting`: the capability it needs. */
  waitingFor: string | null
}

export const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url))

/** Any constant works; it only has to be the same for every llmbase process. */
const MIGRATION_LOCK_ID = 4_711_000_001

const REQUIREMENT_NAMES: Record<string, Requirement['capability']> = { vector: 'vectors' }

const loaded = new Map<string, Migration[]>()

/** The migrations in `dir`, in order; read once per process (`/readyz` asks on every probe). */
export function loadMigrations(dir = MIGRATIONS_DIR): Migration[] {
  let migrations = loaded.get(dir)
  if (!migrations) {
    migrations = readMigrations(dir)
    loaded.set(dir, migrations)
  }
  return migrations
}

function readMigrations(dir: string): Migration[] {
  const migrations = readdirSync(dir)
    .filter((file) => file.endsWith('.sql'))
    .map((file) => parseMigration(file, readFileSync(join(dir, file), 'utf8')))
    .sort((a, b) => a.version - b.version)
  for (let i = 1; i < migrations.length; i++) {
    if (migrations[i]!.version === migrations[i - 1]!.version) {
      throw new Error(`two migrations have version ${migrations[i]!.version}`)
    }
  }
  return migrations
}

export function parseMigration(file: string, text: string): Migration {
  const match = /^(\d+)_([a-z0-9_]+)\.sql$/.exec(file)
  if (!match) throw new Error(`migration file name ${file} must look like 0001_name.sql`)
  const upAt = text.indexOf('-- migrate:up')
  const downAt = text.indexOf('-- migrate:down')
  if (upAt < 0 || downAt < upAt) throw new Error(`migration ${file} needs "-- migrate:up" followed by "-- migrate:down"`)
  const header = text.slice(0, upAt)
  const requires = [...header.matchAll(/^-- requires:\s*(no\s+)?(\S+)/gm)].map(([, negated, name]) => {
    const capability = REQUIREMENT_NAMES[name as string]
    if (!capability) throw new Error(`migration ${file} requires unknown capability ${name}`)
    return { capability, present: !negated }
  })
  const insteadOf = /^-- instead of:\s*(\d+)\s*$/m.exec(header)
  return {
    version: Number(match[1]),
    name: match[2] as string,
    up: text.slice(upAt + '-- migrate:up'.length, downAt).trim(),
    down: text.slice(downAt + '-- migrate:down'.length).trim(),
    requires,
    insteadOf: insteadOf ? Number(insteadOf[1]) : null,
    checksum: createHash('sha256').update(text).digest('hex').slice(0, 16),
  }
}

interface RunOptions {
  capabilities: Pick<Capabilities, 'vectors'>
  dir?: string
}

async function withMigrationLock<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect()
  try {
    await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_ID])
    try {
      await client.query(`create table if not exists schema_migrations (
        version integer primary key,
        name text not null,
        checksum text not null,
        applied_at timestamptz not null default now()
      )`)
      return await work(client)
    } finally {
      await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_ID])
    }
  } finally {
    client.release()
  }
}

async function appliedVersions(client: pg.PoolClient) {
  const result = await client.query<{ version: number; checksum: string; applied_at: Date }>(
    'select version, checksum, applied_at from schema_migrations order by version',
  )
  return new Map(result.rows.map((row) => [row.version, row]))
}

async function inTransaction(client: pg.PoolClient, work: () => Promise<void>) {
  await client.query('begin')
  try {
    await work()
    await client.query('commit')
  } catch (error) {
    await client.query('rollback')
    throw error
  }
}

const unmet = (migration: Migration, capabilities: RunOptions['capabilities']) =>
  migration.requires.filter((r) => capabilities[r.capability] !== r.present).map((r) => (r.present ? r.capability : `no ${r.capability}`))

/** Pairs of alternatives (`-- instead of:`), both ways: version → its alternatives. */
function alternatives(migrations: Migration[]): Map<number, number[]> {
  const pairs = new Map<number, number[]>()
  for (const m of migrations) {
    if (m.insteadOf === null) continue
    pairs.set(m.version, [...(pairs.get(m.version) ?? []), m.insteadOf])
    pairs.set(m.insteadOf, [...(pairs.get(m.insteadOf) ?? []), m.version])
  }
  return pairs
}

const isReplaced = (migration: Migration, pairs: Map<number, number[]>, applied: Map<number, unknown>) =>
  (pairs.get(migration.version) ?? []).some((version) => applied.has(version))

/**
 * Whether `migrateUp` has anything to apply, from the applied versions as they are now, without
 * the lock: two queries where the locked path takes five, and replicas starting together do not
 * queue on the lock. A migration that another process is applying still looks pending here;
 * the locked path then looks again.
 */
async function anythingToApply(pool: pg.Pool, migrations: Migration[], capabilities: RunOptions['capabilities']): Promise<boolean> {
  const exists = await pool.query<{ exists: boolean }>("select to_regclass('schema_migrations') is not null as exists")
  if (!exists.rows[0]?.exists) return true
  const { rows } = await pool.query<{ version: number }>('select version from schema_migrations')
  const applied = new Map(rows.map((row) => [row.version, row]))
  const pairs = alternatives(migrations)
  return migrations.some((m) => !applied.has(m.version) && unmet(m, capabilities).length === 0 && !isReplaced(m, pairs, applied))
}

/** Applies every pending migration whose requirements are met; returns what it applied. */
export async function migrateUp(pool: pg.Pool, options: RunOptions): Promise<Migration[]> {
  const migrations = loadMigrations(options.dir)
  if (!(await anythingToApply(pool, migrations, options.capabilities))) return []
  return withMigrationLock(pool, async (client) => {
    const applied = await appliedVersions(client)
    const pairs = alternatives(migrations)
    const done: Migration[] = []
    for (const migration of migrations) {
      if (applied.has(migration.version) || unmet(migration, options.capabilities).length > 0) continue
      if (isReplaced(migration, pairs, applied)) continue
      try {
        await inTransaction(client, async () => {
          await client.query(migration.up)
          await client.query('insert into schema_migrations (version, name, checksum) values ($1, $2, $3)', [
            migration.version,
            migration.name,
            migration.checksum,
          ])
        })
      } catch (error) {
        throw new MigrationError(migration, 'up', error as Error)
      }
      applied.set(migration.version, { version: migration.version, checksum: migration.checksum, applied_at: new Date() })
      done.push(migration)
    }
    return done
  })
}

/** Reverts the last `steps` applied migrations, newest first; returns what it reverted. */
export async function migrateDown(pool: pg.Pool, options: Omit<RunOptions, 'capabilities'> & { steps: number }): Promise<Migration[]> {
  const migrations = new Map(loadMigrations(options.dir).map((m) => [m.version, m]))
  return withMigrationLock(pool, async (client) => {
    const applied = [...(await appliedVersions(client)).keys()].sort((a, b) => b - a).slice(0, options.steps)
    const done: Migration[] = []
    for (const version of applied) {
      const migration = migrations.get(version)
      if (!migration) throw new Error(`migration ${version} is applied but its file is missing; cannot revert it`)
      try {
        await inTransaction(client, async () => {
          if (migration.down) await client.query(migration.down)
          await client.query('delete from schema_migrations where version = $1', [version])
        })
      } catch (error) {
        throw new MigrationError(migration, 'down', error as Error)
      }
      done.push(migration)
    }
    return done
  })
}

export async function migrationStatus(pool: pg.Pool, options: RunOptions): Promise<MigrationStatus[]> {
  const migrations = loadMigrations(options.dir)
  const client = await pool.connect()
  try {
    const exists = await client.query("select to_regclass('schema_migrations') is not null as exists")
    const applied = exists.rows[0]?.exists ? await appliedVersions(client) : new Map()
    const pairs = alternatives(migrations)
    return migrations.map((migration) => {
      const row = applied.get(migration.version)
      const replaced = !row && isReplaced(migration, pairs, applied)
      const missing = row || replaced ? [] : unmet(migration, options.capabilities)
      return {
        version: migration.version,
        name: migration.name,
        state: row ? 'applied' : replaced ? 'replaced' : missing.length > 0 ? 'waiting' : 'pending',
        appliedAt: row?.applied_at ?? null,
        modified: row ? row.checksum !== migration.checksum : false,
        waitingFor: missing.length > 0 ? missing.join(', ') : null,
      }
    })
  } finally {
    client.release()
  }
}

export class MigrationError extends Error {
  constructor(readonly migration: Migration, readonly direction: 'up' | 'down', cause: Error) {
    super(`migration ${String(migration.version).padStart(4, '0')}_${migration.name} (${direction}) failed: ${cause.message}`, { cause })
    this.name = 'MigrationError'
  }
}
