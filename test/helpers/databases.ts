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
 * The databases that can run the vector suites: the embedded one always (it ships pgvector),
 * the server only when it offers pgvector. A server without it runs the suite that checks
 * that vector routes answer 503 instead.
 */
export const VECTOR_DATABASES: DatabaseKind[] = [
  'embedded',
  ...(process.env.TEST_DATABASE_URL && (await serverHasPgvector(process.env.TEST_DATABASE_URL)) ? (['postgres'] as const) : []),
]
export const DATABASES_WITHOUT_VECTORS: DatabaseKind[] = DATABASES.filter((kind) => !VECTOR_DATABASES.includes(kind))

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
