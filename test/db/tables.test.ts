import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { ROOT } from '../helpers/cli.js'
import { DATABASES } from '../helpers/databases.js'
import { startTestServer, type TestServer } from '../helpers/server.js'

/**
 * `src/db/tables.ts` is written by hand to follow the migrations, and the compiler trusts it:
 * a column it misses, names wrongly or declares not-null when it may be null is a bug no type
 * check finds. This reads the file's interfaces and compares them with the migrated schema.
 */

/** Splits `text` at `separator` where it is not inside <…>, (…), {…} or […]. */
function splitTopLevel(text: string, separator: string): string[] {
  const parts: string[] = []
  let depth = 0
  let current = ''
  for (const char of text) {
    if ('<({['.includes(char)) depth++
    if ('>)}]'.includes(char)) depth--
    if (char === separator && depth === 0) {
      parts.push(current.trim())
      current = ''
    } else current += char
  }
  parts.push(current.trim())
  return parts
}

const ALIASES: Record<string, string> = { Timestamp: 'Date', Decimal: 'string | null' }

/** The type a select gives for a column's declared type, as text. */
function selectType(declared: string): string {
  const alternatives = splitTopLevel(declared, '|')
  const rest = alternatives.filter((a) => a !== 'null')
  const outerNull = rest.length < alternatives.length
  let inner = rest.join(' | ')
  const generic = /^(Generated|ColumnType)<(.*)>$/s.exec(inner)
  if (generic) inner = splitTopLevel(generic[2] as string, ',')[0] as string
  inner = ALIASES[inner] ?? inner
  return outerNull ? `${inner} | null` : inner
}

interface DeclaredColumn {
  name: string
  type: string
}

/** The tables of the `Tables` interface, with their columns (following `extends`). */
function declaredTables(): Map<string, DeclaredColumn[]> {
  const source = readFileSync(join(ROOT, 'src/db/tables.ts'), 'utf8')
  const interfaces = new Map<string, { parents: string[]; members: DeclaredColumn[] }>()
  for (const match of source.matchAll(/^(?:export )?interface (\w+)(?: extends ([\w, ]+))? \{\n([\s\S]*?)^\}/gm)) {
    const members = [...(match[3] as string).matchAll(/^ {2}(\w+)\??: (.+)$/gm)].map((m) => ({ name: m[1] as string, type: m[2] as string }))
    interfaces.set(match[1] as string, { parents: match[2] ? match[2].split(',').map((p) => p.trim()) : [], members })
  }
  const columnsOf = (name: string): DeclaredColumn[] => {
    const found = interfaces.get(name)
    assert.ok(found, `interface ${name} is in tables.ts`)
    return [...found.parents.flatMap(columnsOf), ...found.members]
  }
  const tables = new Map<string, DeclaredColumn[]>()
  for (const { name, type } of columnsOf('Tables')) tables.set(name, columnsOf(type))
  return tables
}

/** The TypeScript types a column of this PostgreSQL type may be read as. */
function compatible(dataType: string, udtName: string, tsType: string): boolean {
  const base = tsType.replace(/ \| null$/, '')
  // JSON shapes and named types (ShareRole, Prices): what they stand for is checked where they are defined.
  if (base === 'unknown' || base.startsWith('Record<') || (/^[A-Z]\w*(\[\])?$/.test(base) && !['Date', 'Buffer'].includes(base))) return true
  const literals = splitTopLevel(base, '|').every((part) => /^'.*'$/.test(part))
  switch (dataType) {
    case 'integer': case 'bigint': case 'smallint': case 'real': case 'double precision': return base === 'number'
    case 'numeric': return base === 'string' || base === 'number'
    case 'text': case 'character varying': case 'uuid': case 'inet': return base === 'string' || literals
    case 'boolean': return base === 'boolean'
    case 'timestamp with time zone': case 'timestamp without time zone': case 'date': return base === 'Date'
    case 'bytea': return base === 'Buffer'
    case 'jsonb': case 'json': return true
    case 'ARRAY': return base.endsWith('[]')
    case 'USER-DEFINED': return udtName === 'vector' || udtName === 'halfvec' || base === 'Buffer' || base === 'string'
    default: return false
  }
}

for (const kind of DATABASES) {
  describe(`src/db/tables.ts against the migrated schema on the ${kind} database`, () => {
    let server: TestServer
    let actual: Map<string, Array<{ column_name: string; is_nullable: string; data_type: string; udt_name: string }>>
    before(async () => {
      server = await startTestServer(kind)
      const { rows } = await server.running.database.pool.query<{ table_name: string; column_name: string; is_nullable: string; data_type: string; udt_name: string }>(
        `select table_name, column_name, is_nullable, data_type, udt_name from information_schema.columns
          where table_schema = current_schema() order by table_name, ordinal_position`,
      )
      actual = new Map()
      for (const row of rows) actual.set(row.table_name, [...(actual.get(row.table_name) ?? []), row])
    })
    after(async () => server?.close())

    it('declares every table and column the migrations made, and nothing else', () => {
      const declared = declaredTables()
      assert.ok(declared.size >= 20, `${declared.size} tables read from tables.ts`)
      const problems: string[] = []
      for (const [table, columns] of declared) {
        const found = actual.get(table)
        if (!found) {
          problems.push(`${table}: declared, but no such table`)
          continue
        }
        const names = new Set(found.map((c) => c.column_name))
        for (const column of columns) if (!names.has(column.name)) problems.push(`${table}.${column.name}: declared, but no such column`)
        const declaredNames = new Set(columns.map((c) => c.name))
        for (const column of found) if (!declaredNames.has(column.column_name)) problems.push(`${table}.${column.column_name}: in the schema, not declared`)
      }
      for (const table of actual.keys()) if (!declared.has(table)) problems.push(`${table}: in the schema, not declared`)
      assert.deepEqual(problems, [])
    })

    it('declares each column nullable exactly when it is, with a type its values are read as', () => {
      const problems: string[] = []
      for (const [table, columns] of declaredTables()) {
        for (const column of columns) {
          const found = actual.get(table)?.find((c) => c.column_name === column.name)
          if (!found) continue
          const type = selectType(column.type)
          if (type === 'unknown') continue // a JSON column read as anything, null included
          const nullable = splitTopLevel(type, '|').includes('null')
          if (nullable !== (found.is_nullable === 'YES')) problems.push(`${table}.${column.name}: declared ${type}, the column is ${found.is_nullable === 'YES' ? 'nullable' : 'not null'}`)
          if (!compatible(found.data_type, found.udt_name, type)) problems.push(`${table}.${column.name}: declared ${type}, the column is ${found.data_type} (${found.udt_name})`)
        }
      }
      assert.deepEqual(problems, [])
    })
  })
}
