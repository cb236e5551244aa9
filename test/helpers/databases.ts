import { randomBytes } from 'node:crypto'
import { cpSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { ensureTemplate } from './template.js'

/**
 * The databases every API suite runs on: the embedded one always, and the PostgreSQL server
 * in TEST_DATABASE_URL when it is set. Each test server gets a database of its own (a fresh
 * data folder, or a fresh database on the server), so runs never see each other's data.
 */
export type DatabaseKind = 'embedded' | 'postgres'

export const DATABASES: DatabaseKind[] = process.env.TEST_DATABASE_URL ? ['embedded', 'postgres'] : ['embedded']

/**
 * Every database stores and searches vectors: the embedded one with pgvector, a server with
 * pgvector if it has it, otherwise in the portable storage that the native engine searches.
 */
export const VECTOR_DATABASES: DatabaseKind[] = DATABASES

/**
 * The vector suites run once per engine the database offers: on the embedded database both
 * engines, on a server the native engine always and pgvector when the server has it.
 */
export interface VectorSetup {
  kind: DatabaseKind
  engine: 'pgvector' | 'native'
  /** `native engine on the embedded database` */
  label: string
  env: Record<string, string>
}

const setup = (kind: DatabaseKind, engine: VectorSetup['engine']): VectorSetup => ({
  kind,
  engine,
  label: `${engine} engine on the ${kind} database`,
  env: { LLMBASE_VECTOR_ENGINE: engine },
})

export const SERVER_HAS_PGVECTOR = process.env.TEST_DATABASE_URL ? await serverHasPgvector(process.env.TEST_DATABASE_URL) : false

export const VECTOR_SETUPS: VectorSetup[] = [
  setup('embedded', 'native'),
  setup('embedded', 'pgvector'),
  ...(process.env.TEST_DATABASE_URL ? [setup('postgres', 'native')] : []),
  ...(SERVER_HAS_PGVECTOR ? [setup('postgres', 'pgvector')] : []),
]

async function serverHasPgvector(url: string): Promise<boolean> {
  return withAdminClient(url, async (client) => (await client.query("select 1 from pg_available_extensions where name = 'vector'")).rowCount === 1)
}

export interface TestDatabase {
  kind: DatabaseKind
  /** Environment for the server: DATABASE_URL or LLMBASE_DATA_DIR. */
  env: Record<string, string>
  dataDir: string
  cleanup(): Promise<void>
}

export async function createTestDatabase(kind: DatabaseKind): Promise<TestDatabase> {
  const dataDir = mkdtempSync(join(tmpdir(), 'llmbase-test-'))
  if (kind === 'embedded') {
    cpSync(await ensureTemplate(), join(dataDir, 'pgdata'), { recursive: true })
    return {
      kind,
      env: { LLMBASE_DATA_DIR: dataDir },
      dataDir,
      cleanup: async () => rmSync(dataDir, { recursive: true, force: true }),
    }
  }
  const serverUrl = process.env.TEST_DATABASE_URL
  if (!serverUrl) throw new Error('TEST_DATABASE_URL is not set')
  const name = `llmbase_test_${randomBytes(6).toString('hex')}`
  await withAdminClient(serverUrl, (client) => client.query(`create database ${name}`))
  const url = new URL(serverUrl)
  url.pathname = `/${name}`
  return {
    kind,
    env: { DATABASE_URL: url.toString(), LLMBASE_DATA_DIR: dataDir },
    dataDir,
    cleanup: async () => {
      await withAdminClient(serverUrl, (client) => client.query(`drop database if exists ${name} with (force)`))
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

async function withAdminClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}

/**
 * Fresh embedded data folders for tests that start their own server processes; `cleanup`
 * (for `after`) removes every one handed out.
 */
export function embeddedDataDirs() {
  const cleanups: Array<() => Promise<void>> = []
  return {
    fresh: async () => {
      const { dataDir, cleanup } = await createTestDatabase('embedded')
      cleanups.push(cleanup)
      return dataDir
    },
    cleanup: () => Promise.all(cleanups.map((cleanup) => cleanup())),
  }
}
