import { join } from 'node:path'
import { sql } from 'kysely'
import type { Logger } from 'pino'
import type { Config } from '../config.js'
import type { Database } from '../db/database.js'
import type { VectorEngine } from './engine.js'
import { NativeEngine } from './native/engine.js'
import { loadUsearch } from './native/usearch.js'
import { PgvectorEngine } from './pgvector/engine.js'

/**
 * How the `embeddings.vector` column is stored: pgvector's type (migration 0004), or our
 * domain over bytea on a server without pgvector (migration 0005), which only the native
 * engine can search.
 */
export type VectorStorage = 'pgvector' | 'portable'

export async function vectorStorage(database: Database): Promise<VectorStorage | null> {
  const { rows } = await sql<{ typtype: string }>`
    select t.typtype from pg_attribute a join pg_type t on t.oid = a.atttypid
    where a.attrelid = to_regclass('embeddings') and a.attname = 'vector'`.execute(database.db)
  if (!rows[0]) return null
  return rows[0].typtype === 'd' ? 'portable' : 'pgvector'
}

export interface EngineChoice {
  engine: (VectorEngine & { start(): Promise<void> }) | null
  /** Why there is no engine. */
  unavailable: string | null
}

/**
 * LLMBASE_VECTOR_ENGINE: `auto` takes the native engine on the embedded database (pgvector
 * there runs as WebAssembly: several times slower, and capped at 2 GiB of memory) and on a
 * server without pgvector, and pgvector on a server that has it (the index lives with the
 * data, shared by every replica). A choice that cannot work stops the start with the reason.
 */
export async function chooseEngine(config: Config, database: Database, logger: Logger): Promise<EngineChoice> {
  const storage = await vectorStorage(database)
  if (storage === null) return { engine: null, unavailable: database.capabilities.vectorsUnavailableReason ?? 'the embeddings table is missing' }
  const choice = config.vectors.engine === 'auto' ? (database.kind === 'postgres' && storage === 'pgvector' ? 'pgvector' : 'native') : config.vectors.engine
  if (choice === 'pgvector') {
    if (storage !== 'pgvector') {
      throw new Error(
        'LLMBASE_VECTOR_ENGINE=pgvector, but this database stores vectors without pgvector (it was set up before pgvector was installed); use LLMBASE_VECTOR_ENGINE=native or auto',
      )
    }
    return { engine: new PgvectorEngine(database, config.vectors, logger), unavailable: null }
  }
  const loaded = loadUsearch()
  if ('problem' in loaded) {
    if (config.vectors.engine === 'native') throw new Error(`LLMBASE_VECTOR_ENGINE=native, but ${loaded.problem}`)
    logger.warn({ problem: loaded.problem }, 'the native vector engine is unavailable')
    if (storage === 'pgvector') return { engine: new PgvectorEngine(database, config.vectors, logger), unavailable: null }
    return { engine: null, unavailable: loaded.problem }
  }
  const directory = join(config.dataDir, 'vector-index')
  return { engine: new NativeEngine(database, loaded.usearch, loaded.version, { ...config.vectors, directory }, logger), unavailable: null }
}
