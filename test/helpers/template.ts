import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PGlite } from '@electric-sql/pglite'

/**
 * A freshly initialised, empty embedded database folder, made once per machine and copied by
 * each test server: creating a PostgreSQL cluster takes seconds, copying one a few
 * milliseconds. It holds no llmbase schema; every test server runs the migrations itself.
 */
export const TEMPLATE_DIR = join(tmpdir(), `llmbase-test-template-pglite-0.5.14`)

export async function ensureTemplate(): Promise<string> {
  if (existsSync(join(TEMPLATE_DIR, 'PG_VERSION'))) return TEMPLATE_DIR
  const building = `${TEMPLATE_DIR}.${process.pid}`
  rmSync(building, { recursive: true, force: true })
  mkdirSync(building, { recursive: true })
  const db = await PGlite.create({ dataDir: building })
  await db.close()
  try {
    renameSync(building, TEMPLATE_DIR)
  } catch {
    // Another process finished first; its template is as good as ours.
    rmSync(building, { recursive: true, force: true })
  }
  return TEMPLATE_DIR
}
