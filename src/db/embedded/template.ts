import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { PGlite } from '@electric-sql/pglite'

/**
 * A freshly initialised, empty PGlite cluster, made when llmbase is built (`npm ci` runs the
 * build) and copied into a new data folder on its first start. Creating a cluster (initdb in
 * WebAssembly) takes about 2.5 s here; copying one takes a few dozen milliseconds, so a first
 * start is about as fast as any other (docs/performance.md#start-up). The copy holds nothing of
 * llmbase's (no schema, no keys): migrations run on it as on any new database.
 *
 * The template records the PGlite version that made it; a template of another version, or
 * none (running from source), means the cluster is created as before.
 */
const TEMPLATE_DIR = join(dirname(fileURLToPath(import.meta.url)), 'template')
const VERSION_FILE = '.pglite-version'

export function pgliteVersion(): string {
  const require = createRequire(import.meta.url)
  const manifest = join(dirname(require.resolve('@electric-sql/pglite')), '..', 'package.json')
  return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version
}

/** Makes the template beside this module (the build calls it). */
export async function buildTemplate(templateDir = TEMPLATE_DIR): Promise<string> {
  const building = `${templateDir}.building`
  rmSync(building, { recursive: true, force: true })
  mkdirSync(building, { recursive: true })
  const db = await PGlite.create({ dataDir: building })
  await db.close()
  writeFileSync(join(building, VERSION_FILE), pgliteVersion())
  rmSync(templateDir, { recursive: true, force: true })
  renameSync(building, templateDir)
  return templateDir
}

/**
 * Copies the template to `target` when `target` holds no cluster yet and a template of this
 * PGlite version exists; whether it did. The copy is made beside `target` and renamed into
 * place, so that a start cut short leaves no half cluster behind.
 */
export function seedFromTemplate(target: string, templateDir = TEMPLATE_DIR): boolean {
  // Only where there is nothing: a folder with anything in it is left to PGlite to judge.
  if (existsSync(target) && readdirSync(target).length > 0) return false
  let version: string
  try {
    version = readFileSync(join(templateDir, VERSION_FILE), 'utf8').trim()
  } catch {
    return false
  }
  if (version !== pgliteVersion()) return false
  if (existsSync(target)) rmSync(target, { recursive: true })
  const copying = `${target}.copying`
  rmSync(copying, { recursive: true, force: true })
  cpSync(templateDir, copying, { recursive: true, filter: (source) => !source.endsWith(VERSION_FILE) })
  renameSync(copying, target)
  return true
}
