import { EventEmitter } from 'node:events'
import { Kysely, PostgresDialect, type Transaction } from 'kysely'
import pg from 'pg'
import type { Logger } from 'pino'
import { stepClock } from '../step-clock.js'
import { type EmbeddedPostgres, startEmbeddedPostgres } from './embedded/index.js'
import { withPreparedStatements } from './prepared.js'
import type { Tables } from './tables.js'

export type DatabaseKind = 'embedded' | 'postgres'

/** What the database can do; features that need a missing capability answer 503. */
export interface Capabilities {
  /** pgvector is installed in the database. */
  vectors: boolean
  pgvectorVersion: string | null
  /** Why `vectors` is false, for `/readyz` and the 503 message. */
  vectorsUnavailableReason: string | null
}

/** The query builder the code passes around: the whole database or one transaction. */
export type Executor = Kysely<Tables>
export type Tx = Transaction<Tables>

export interface Database {
  readonly kind: DatabaseKind
  readonly db: Kysely<Tables>
  /** The underlying `pg` pool, for migrations and streaming (COPY) that Kysely does not cover. */
  readonly pool: pg.Pool
  readonly serverVersion: string
  capabilities: Capabilities
  /** How long opening took, in ms per step (the server logs it with its start-up timings). */
  readonly startupMs: Record<string, number>
  /** Emits `failure` when the database becomes unusable for good (the embedded process died). */
  readonly events: EventEmitter
  close(): Promise<void>
}

export interface OpenDatabaseOptions {
  /** A PostgreSQL server; without it the embedded database in `dataDir` is started. */
  url?: string | undefined
  dataDir: string
  poolSize: number
  logger: Logger
  /**
   * Settings applied to every connection when it opens (`set_config(name, value, false)`),
   * such as the vector engine's search parameters.
   */
  sessionSettings?: Record<string, string>
  /**
   * The embedded database, when the caller started it already (`startEmbeddedPostgres`): the
   * server starts it before it loads the rest of its code, so that both happen at once.
   */
  embedded?: Promise<EmbeddedPostgres> | undefined
}

/**
 * `bigint` columns (ids, counts) arrive as numbers rather than strings: every one of ours stays
 * far below 2^53. Set per pool so that no other `pg` user in the process is affected.
 */
const typeParsers = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.INT8 && format !== 'binary'
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
}

export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  const { logger } = options
  const events = new EventEmitter()
  const clock = stepClock()
  const startupMs = clock.steps
  const mark = clock.mark
  const settings = Object.entries(options.sessionSettings ?? {})
  // Runs on every new connection before anything can use it (pg-pool's onConnect hook).
  const onConnect = async (client: pg.ClientBase) => {
    // Every socket connection to the embedded database shares its one session: a new client
    // must not find the statements an earlier one prepared (see prepared.ts).
    await client.query('deallocate all')
    if (settings.length === 0) return
    await client.query(`select ${settings.map((_, i) => `set_config($${2 * i + 1}, $${2 * i + 2}, false)`).join(', ')}`, settings.flat())
  }
  let pool: pg.Pool
  let stopEmbedded: (() => Promise<void>) | undefined
  let kind: DatabaseKind
  if (options.url) {
    kind = 'postgres'
    pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize,
      types: typeParsers,
      connectionTimeoutMillis: 10_000,
      idleTimeoutMillis: 30_000,
      application_name: 'llmbase',
      onConnect,
    })
  } else {
    kind = 'embedded'
    const embedded = await (options.embedded ?? startEmbeddedPostgres({ dataDir: options.dataDir, logger }))
    stopEmbedded = embedded.stop
    mark('embedded')
    Object.assign(startupMs, embedded.startupMs)
    embedded.events.on('exit', () => events.emit('failure', new Error('the embedded database process ended')))
    // One connection: PGlite runs one backend, and its socket server would interleave the
    // extended-protocol messages of two connections. Requests queue in the pool instead.
    pool = new pg.Pool({
      host: embedded.socketDir,
      port: 5432,
      user: 'postgres',
      database: 'postgres',
      max: 1,
      types: typeParsers,
      connectionTimeoutMillis: 60_000,
      idleTimeoutMillis: 0,
      onConnect,
    })
  }
  // An idle client that loses its connection must not crash the process; the next query
  // reconnects or fails with an error the request handler maps to 503.
  pool.on('error', (error) => logger.warn({ err: error }, 'database connection lost'))

  let serverVersion: string
  try {
    const result = await pool.query<{ version: string }>('select version() as version')
    serverVersion = result.rows[0]?.version ?? 'unknown'
    mark('connect')
  } catch (error) {
    await pool.end().catch(() => {})
    await stopEmbedded?.()
    throw error
  }

  const db = new Kysely<Tables>({ dialect: new PostgresDialect({ pool: withPreparedStatements(pool) as unknown as pg.Pool }) })
  const database: Database = {
    kind,
    db,
    pool,
    serverVersion,
    capabilities: { vectors: false, pgvectorVersion: null, vectorsUnavailableReason: 'not checked yet' },
    startupMs,
    events,
    async close() {
      await db.destroy()
      // Kysely ends the pool only if it ever ran a query through it; migrations use the pool directly.
      if (!pool.ended) await pool.end()
      await stopEmbedded?.()
    },
  }
  database.capabilities = await prepareCapabilities(pool, logger)
  mark('capabilities')
  return database
}

/**
 * Installs pgvector when the server offers it and reports what is available. A server without
 * pgvector (or a role that may not create extensions) still runs every feature without vectors.
 */
export async function prepareCapabilities(pool: pg.Pool, logger: Logger): Promise<Capabilities> {
  const installed = await pool.query<{ extversion: string }>("select extversion from pg_extension where extname = 'vector'")
  if (installed.rows[0]) {
    return { vectors: true, pgvectorVersion: installed.rows[0].extversion, vectorsUnavailableReason: null }
  }
  const portable = await pool.query("select 1 from pg_type where typname = 'vector' and typtype = 'd'")
  if (portable.rowCount) {
    // Migration 0005 made the vector type ours; pgvector cannot be installed beside it.
    return { vectors: false, pgvectorVersion: null, vectorsUnavailableReason: 'vectors are stored without pgvector (searched by the native engine)' }
  }
  const available = await pool.query("select 1 from pg_available_extensions where name = 'vector'")
  if (available.rowCount === 0) {
    return {
      vectors: false,
      pgvectorVersion: null,
      vectorsUnavailableReason: 'the PostgreSQL server does not have the pgvector extension installed',
    }
  }
  try {
    await pool.query('create extension if not exists vector')
    const version = await pool.query<{ extversion: string }>("select extversion from pg_extension where extname = 'vector'")
    return { vectors: true, pgvectorVersion: version.rows[0]?.extversion ?? null, vectorsUnavailableReason: null }
  } catch (error) {
    logger.warn({ err: error }, 'pgvector is available but could not be enabled; vector features are off')
    return {
      vectors: false,
      pgvectorVersion: null,
      vectorsUnavailableReason: 'pgvector is available but this role may not run CREATE EXTENSION vector; ask a superuser to run it',
    }
  }
}
