import { sql } from 'kysely'
import type { Database, Executor } from '../db/database.js'
import { AppError, errors } from '../http/errors.js'
import { type Caller, isAdmin } from '../identity/caller.js'
import { compileMetadataSchema, describeSchemaErrors } from '../projects/metadata.js'
import type { VectorEngine } from '../vectors/engine.js'

const MAX_LISTED = 1000
const PAGE = 1000

export interface SanityReport {
  status: 'PASSED' | 'WARNING' | 'FAILED'
  total_projects: number
  issues_count: number
  warnings_count: number
  issues: string[]
  warnings: string[]
}

/**
 * The reference API's audit of stored data, in its wording: records whose dimensions differ
 * from their project's instance, metadata that breaks the project's (possibly changed)
 * schema, projects without an instance; warnings for data without a schema. Reads projects
 * and records page by page, never one query per record.
 */
export async function sanityCheck(db: Executor): Promise<SanityReport> {
  const issues: string[] = []
  const warnings: string[] = []
  let issuesCount = 0
  let warningsCount = 0
  const issue = (text: string) => {
    issuesCount++
    if (issues.length < MAX_LISTED) issues.push(text)
  }
  const projects = await sql<{ id: number; name: string; dimensions: number | null; has_instance: boolean; metadata_schema: unknown; embedding_count: number }>`
    select p.id, u.handle || '/' || p.handle as name, i.dimensions, p.instance_id is not null as has_instance,
      p.metadata_schema, p.embedding_count::int as embedding_count
    from projects p join users u on u.id = p.owner_id
    left join llm_instances i on i.id = p.instance_id
    order by u.handle collate "C", p.handle collate "C"`.execute(db)
  for (const project of projects.rows) {
    if (!project.has_instance) issue(`Project ${project.name}: unable to get LLM service instance: the project has none`)
    if (project.dimensions !== null) {
      const wrong = await sql<{ text_id: string; dimensions: number }>`
        select text_id, dimensions from embeddings where project_id = ${project.id} and dimensions <> ${project.dimensions}
        order by text_id limit ${MAX_LISTED}`.execute(db)
      for (const row of wrong.rows) {
        issue(`Project ${project.name}: text_id '${row.text_id}': vector dimension ${row.dimensions} does not match LLM service dimension ${project.dimensions}`)
      }
    }
    if (project.metadata_schema === null) {
      if (project.embedding_count > 0) {
        warningsCount++
        if (warnings.length < MAX_LISTED) warnings.push(`Project ${project.name} has ${project.embedding_count} embeddings but no metadata schema defined`)
      }
      continue
    }
    const schema = compileMetadataSchema(project.metadata_schema)
    if ('problem' in schema) {
      issue(`Project ${project.name}: the metadata schema is not usable: ${schema.problem}`)
      continue
    }
    let after: string | null = null
    for (;;) {
      const page: { rows: Array<{ text_id: string; metadata: unknown }> } = await sql<{ text_id: string; metadata: unknown }>`
        select text_id, metadata from embeddings
        where project_id = ${project.id} ${after === null ? sql`` : sql`and text_id > ${after}`}
        order by text_id limit ${PAGE}`.execute(db)
      for (const row of page.rows) {
        if (row.metadata === null) issue(`Project ${project.name}: text_id '${row.text_id}': metadata is required when project has a metadata schema defined`)
        else if (!schema.validate(row.metadata)) issue(`Project ${project.name}: text_id '${row.text_id}': ${describeSchemaErrors(schema.validate.errors ?? [])}`)
      }
      if (page.rows.length < PAGE) break
      after = (page.rows[page.rows.length - 1] as { text_id: string }).text_id
    }
  }
  return {
    status: issuesCount > 0 ? 'FAILED' : warningsCount > 0 ? 'WARNING' : 'PASSED',
    total_projects: projects.rows.length,
    issues_count: issuesCount,
    warnings_count: warningsCount,
    issues,
    warnings,
  }
}

/**
 * Wipes all data, for test setups: every user but `_system` (and with them their keys,
 * instances, projects and embeddings), users' definitions. Kept: API standards, `_system` and
 * its definitions, and the migration history (the reference wiped that too, D15). Ids start
 * again at 1, as the reference's tests expect.
 */
export async function resetAll(database: Database, engine: VectorEngine | null, options: { allowed: boolean; caller: Caller }) {
  if (!isAdmin(options.caller)) throw errors.forbidden('only an admin may reset the database')
  if (!options.allowed) throw new AppError('reset_disabled', 'resetting is disabled; start the server with LLMBASE_ALLOW_RESET=true to allow it')
  const { db } = database
  const projects = await db.selectFrom('projects').select('id').execute()
  for (const { id } of projects) await engine?.projectCleared(id)
  await db.transaction().execute(async (tx) => {
    await sql`delete from projects`.execute(tx)
    await sql`delete from llm_instances`.execute(tx)
    await sql`delete from llm_definitions where owner_id <> (select id from users where handle = '_system')`.execute(tx)
    await sql`delete from users where handle <> '_system'`.execute(tx)
    await sql`alter table projects alter column id restart with 1`.execute(tx)
    await sql`alter table llm_instances alter column id restart with 1`.execute(tx)
    await sql`alter table embeddings alter column id restart with 1`.execute(tx)
    for (const table of ['users', 'llm_definitions']) {
      const next = await sql<{ next: number }>`select coalesce(max(id), 0)::int + 1 as next from ${sql.table(table)}`.execute(tx)
      await sql`alter table ${sql.table(table)} alter column id restart with ${sql.lit(next.rows[0]?.next ?? 1)}`.execute(tx)
    }
  })
}
