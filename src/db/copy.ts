import { randomInt } from 'node:crypto'
import type pg from 'pg'
import type { Progress } from '../cli-progress.js'

/**
 * `llmbase db copy`: every row of one llmbase database into another, typically from the
 * embedded database to a PostgreSQL server. The tables come from the catalog rather than from
 * a list, so a table added by a later migration is copied without a change here.
 *
 * - The source is read in one REPEATABLE READ transaction: a consistent snapshot even when a
 *   server still writes to it.
 * - The target is written in one transaction: a copy that fails (a constraint, a lost
 *   connection, a kill) leaves the target as empty as it was, and can simply be run again.
 * - Values travel as text (exact for every type, microseconds of timestamps included), except
 *   vectors, which travel in pgvector's binary format: both storages (pgvector's type,
 *   migration 0004, and our domain over bytea, migration 0005) read and write it, so a source
 *   with pgvector can be copied to a server without it and back.
 * - Ids are kept (`overriding system value`); the sequences behind them are set past the
 *   largest id afterwards.
 */

/** The target's own migration history; and the state of pgvector indexes built in the source, which the target builds afresh. */
const NOT_COPIED = new Set(['schema_migrations', 'vector_indexes'])

/**
 * Rows the migrations put into a new database (the `_system` user, API standards and global
 * definitions of migrations 0001 and 0002). A target holding only these is empty; they are
 * replaced by the source's.
 */
const SEED_ROWS: Readonly<Record<string, string>> = {
  users: "handle = '_system'",
  api_standards: 'true',
  llm_definitions: "owner_id in (select id from users where handle = '_system')",
}

/** Rows fetched from the source at a time; vectors are large, so fewer of those. */
const FETCH_ROWS = 1_000
const FETCH_ROWS_WITH_VECTORS = 200
/** Bind parameters per INSERT, below PostgreSQL's limit of 65,535. */
const MAX_PARAMETERS = 60_000

export interface TableCount {
  table: string
  source: number
  /** Null for a table that is not copied. */
  target: number | null
}

export interface CopyReport {
  tables: TableCount[]
  /** Tables whose row counts differ between source and target. */
  mismatched: string[]
}

export class TargetNotEmptyError extends Error {
  constructor(readonly holding: Array<{ table: string; rows: number }>) {
    super(
      `the target database already holds data (${holding.map((h) => `${h.table}: ${h.rows} row${h.rows === 1 ? '' : 's'}`).join(', ')}); ` +
        'llmbase db copy writes only into an empty database, and changed nothing',
    )
    this.name = 'TargetNotEmptyError'
  }
}

export class CopyFailedError extends Error {
  constructor(table: string, copied: number, total: number, cause: Error) {
    super(
      `copying table ${table} failed after ${copied} of ${total} rows: ${cause.message}. ` +
        'The target was written in one transaction, which is rolled back: it holds nothing of this copy; fix the cause and run the copy again',
      { cause },
    )
    this.name = 'CopyFailedError'
  }
}

interface Column {
  name: string
  /** The type as the target declares it, for the cast of each value. */
  type: string
  isVector: boolean
}

interface Table {
  name: string
  columns: Column[]
}

const quote = (identifier: string) => `"${identifier.replace(/"/g, '""')}"`
const isVectorType = (type: string) => /(^|\.)vector$/.test(type)

/** Table → its columns (generated ones left out: they are computed, not copied). */
async function readColumns(client: pg.PoolClient): Promise<Map<string, Column[]>> {
  const { rows } = await client.query<{ table: string; column: string; type: string }>(`
    select c.relname as table, a.attname as column, format_type(a.atttypid, a.atttypmod) as type
    from pg_attribute a join pg_class c on c.oid = a.attrelid
    where c.relnamespace = current_schema()::regnamespace and c.relkind in ('r', 'p') and not c.relispartition
      and a.attnum > 0 and not a.attisdropped and a.attgenerated = ''
    order by c.relname, a.attnum`)
  const tables = new Map<string, Column[]>()
  for (const row of rows) {
    const columns = tables.get(row.table) ?? []
    columns.push({ name: row.column, type: row.type, isVector: isVectorType(row.type) })
    tables.set(row.table, columns)
  }
  return tables
}

/** Pairs (table, table it references) among the tables of the current schema. */
async function readReferences(client: pg.PoolClient): Promise<Array<{ table: string; references: string }>> {
  const { rows } = await client.query<{ table: string; references: string }>(`
    select src.relname as table, dst.relname as references
    from pg_constraint k join pg_class src on src.oid = k.conrelid join pg_class dst on dst.oid = k.confrelid
    where k.contype = 'f' and src.relnamespace = current_schema()::regnamespace`)
  return rows
}

/** The tables in an order in which every table comes after those it references. */
function inReferenceOrder(names: string[], references: Array<{ table: string; references: string }>): string[] {
  const ordered: string[] = []
  const state = new Map<string, 'visiting' | 'done'>()
  const visit = (name: string) => {
    if (state.get(name) === 'done') return
    if (state.get(name) === 'visiting') throw new Error(`tables reference each other in a cycle through ${name}; cannot order the copy`)
    state.set(name, 'visiting')
    for (const edge of references) if (edge.table === name && edge.references !== name && names.includes(edge.references)) visit(edge.references)
    state.set(name, 'done')
    ordered.push(name)
  }
  for (const name of [...names].sort()) visit(name)
  return ordered
}

/**
 * The copy plan: the source's tables that are copied, with the target's column types, in
 * reference order. The two schemas must agree column for column: both are migrated by the
 * same llmbase, so a difference means two versions, which this refuses rather than guesses.
 */
function planTables(sourceColumns: Map<string, Column[]>, targetColumns: Map<string, Column[]>, references: Array<{ table: string; references: string }>): Table[] {
  const names = [...sourceColumns.keys()].filter((name) => !NOT_COPIED.has(name))
  for (const name of names) {
    const target = targetColumns.get(name)
    const sourceNames = (sourceColumns.get(name) ?? []).map((c) => c.name).sort()
    const targetNames = (target ?? []).map((c) => c.name).sort()
    if (!target || sourceNames.join() !== targetNames.join()) {
      throw new Error(
        `the target's table ${name} ${target ? `has the columns ${targetNames.join(', ')}, the source's ${sourceNames.join(', ')}` : 'is missing'}; ` +
          'run the copy with the llmbase version that last migrated the source',
      )
    }
  }
  return inReferenceOrder(names, references).map((name) => ({
    name,
    columns: (sourceColumns.get(name) as Column[]).map((column) => {
      const target = (targetColumns.get(name) as Column[]).find((c) => c.name === column.name) as Column
      return { name: column.name, type: target.type, isVector: column.isVector && target.isVector }
    }),
  }))
}

async function countRows(client: pg.PoolClient, table: string): Promise<number> {
  const { rows } = await client.query<{ n: string | number }>(`select count(*)::int8 as n from ${quote(table)}`)
  return Number(rows[0]?.n ?? 0)
}

/** Tables of the target holding rows that are not seed rows, with how many. */
async function findData(client: pg.PoolClient, tables: string[]): Promise<Array<{ table: string; rows: number }>> {
  const holding: Array<{ table: string; rows: number }> = []
  for (const table of tables) {
    const seed = SEED_ROWS[table]
    const { rows } = await client.query<{ n: string | number }>(`select count(*)::int8 as n from ${quote(table)}${seed ? ` where not (${seed})` : ''}`)
    const n = Number(rows[0]?.n ?? 0)
    if (n > 0) holding.push({ table, rows: n })
  }
  return holding
}

/**
 * Refuses to copy a database into itself: the source session holds a session advisory lock
 * on a random key, and the target session can take the same lock only if it is elsewhere
 * (advisory locks are per database).
 */
async function assertDifferentDatabases(source: pg.PoolClient, target: pg.PoolClient): Promise<() => Promise<void>> {
  const key = randomInt(1, 2 ** 47)
  await source.query('select pg_advisory_lock($1)', [key])
  const { rows } = await target.query<{ ok: boolean }>('select pg_try_advisory_lock($1) as ok', [key])
  if (!rows[0]?.ok) {
    await source.query('select pg_advisory_unlock($1)', [key])
    throw new Error('the target is the same database as the source')
  }
  return async () => {
    await target.query('select pg_advisory_unlock($1)', [key]).catch(() => {})
    await source.query('select pg_advisory_unlock($1)', [key]).catch(() => {})
  }
}

/** Text formats that read back exactly: ISO dates in UTC, shortest exact floats. */
async function setExactTextFormats(client: pg.PoolClient) {
  await client.query("set local timezone = 'UTC'")
  await client.query("set local datestyle = 'ISO, YMD'")
  await client.query('set local extra_float_digits = 1')
  await client.query("set local bytea_output = 'hex'")
}

async function copyTable(source: pg.PoolClient, target: pg.PoolClient, table: Table, progress: Progress | undefined, total: number) {
  const select = table.columns.map((c) => (c.isVector ? `vector_send(${quote(c.name)})` : `${quote(c.name)}::text`)).join(', ')
  const fetchRows = table.columns.some((c) => c.isVector) ? FETCH_ROWS_WITH_VECTORS : FETCH_ROWS
  const rowsPerInsert = Math.max(1, Math.min(fetchRows, Math.floor(MAX_PARAMETERS / table.columns.length)))
  const columnList = table.columns.map((c) => quote(c.name)).join(', ')
  let copied = 0
  await source.query(`declare llmbase_copy no scroll cursor for select ${select} from ${quote(table.name)}`)
  try {
    for (;;) {
      const { rows } = await source.query<unknown[]>({ text: `fetch forward ${fetchRows} from llmbase_copy`, rowMode: 'array' })
      for (let start = 0; start < rows.length; start += rowsPerInsert) {
        const chunk = rows.slice(start, start + rowsPerInsert)
        const values: unknown[] = []
        const tuples = chunk.map((row) => {
          const cells = table.columns.map((column, i) => {
            values.push(row[i])
            // A vector goes as a binary parameter straight into the target's type; anything
            // else as text, parsed by the target's own input function.
            return column.isVector ? `$${values.length}::${column.type}` : `$${values.length}::text::${column.type}`
          })
          return `(${cells.join(', ')})`
        })
        await target.query(`insert into ${quote(table.name)} (${columnList}) overriding system value values ${tuples.join(', ')}`, values)
        copied += chunk.length
        progress?.advance(chunk.length)
      }
      if (rows.length < fetchRows) break
    }
  } catch (error) {
    throw new CopyFailedError(table.name, copied, total, error as Error)
  } finally {
    await source.query('close llmbase_copy').catch(() => {})
  }
}

/** Sets every sequence behind a copied column (identity or serial) past the largest value. */
async function resetSequences(target: pg.PoolClient, tables: Table[]) {
  const names = tables.map((t) => t.name)
  const { rows } = await target.query<{ table: string; column: string; sequence: string }>(
    `select c.relname as table, a.attname as column, pg_get_serial_sequence(format('%I.%I', n.nspname, c.relname), a.attname) as sequence
     from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
     where n.oid = current_schema()::regnamespace and c.relname = any($1::text[]) and a.attnum > 0 and not a.attisdropped
       and pg_get_serial_sequence(format('%I.%I', n.nspname, c.relname), a.attname) is not null`,
    [names],
  )
  for (const row of rows) {
    await target.query(`select setval($1, coalesce((select max(${quote(row.column)}) from ${quote(row.table)}), 0) + 1, false)`, [row.sequence])
  }
}

/**
 * Copies every table of `source` into `target` (already migrated to the same version), which
 * must hold nothing but the rows its migrations seeded. Returns the row count of each table on
 * both sides: the source's as of its snapshot, the target's after the commit.
 */
export async function copyDatabase(options: { source: pg.Pool; target: pg.Pool; progress?: Progress }): Promise<CopyReport> {
  const { progress } = options
  const source = await options.source.connect()
  let target: pg.PoolClient | undefined
  let release: (() => Promise<void>) | undefined
  let failed = false
  try {
    target = await options.target.connect()
    release = await assertDifferentDatabases(source, target)
    await source.query('begin isolation level repeatable read read only')
    await setExactTextFormats(source)
    await target.query('begin')
    await setExactTextFormats(target)
    // Waiting forever behind a server that runs on the target helps nobody.
    await target.query("set local lock_timeout = '10s'")
    try {
      const sourceColumns = await readColumns(source)
      const targetColumns = await readColumns(target)
      const tables = planTables(sourceColumns, targetColumns, await readReferences(target))
      const everyTargetTable = [...targetColumns.keys()].filter((name) => name !== 'schema_migrations')
      await target.query(`lock table ${everyTargetTable.map(quote).join(', ')} in access exclusive mode`)
      const holding = await findData(target, everyTargetTable)
      if (holding.length > 0) throw new TargetNotEmptyError(holding)
      await target.query(`truncate ${everyTargetTable.map(quote).join(', ')}`)

      const counts = new Map<string, number>()
      for (const name of [...sourceColumns.keys()].filter((n) => n !== 'schema_migrations').sort()) counts.set(name, await countRows(source, name))
      for (const table of tables) {
        const total = counts.get(table.name) ?? 0
        progress?.step(`copying ${table.name}`, total)
        await copyTable(source, target, table, progress, total)
      }
      progress?.finish()
      await resetSequences(target, tables)
      await target.query('commit')
      await source.query('commit')

      const report: CopyReport = { tables: [], mismatched: [] }
      for (const [name, sourceRows] of counts) {
        const copied = tables.some((t) => t.name === name)
        const targetRows = copied ? await countRows(target, name) : null
        report.tables.push({ table: name, source: sourceRows, target: targetRows })
        if (copied && targetRows !== sourceRows) report.mismatched.push(name)
      }
      return report
    } catch (error) {
      failed = true
      progress?.finish()
      await target.query('rollback').catch(() => {})
      await source.query('rollback').catch(() => {})
      throw error
    }
  } finally {
    await release?.()
    // A connection that failed may be broken: it is closed rather than returned to the pool.
    source.release(failed)
    target?.release(failed)
  }
}
