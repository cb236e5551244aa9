import { sql } from 'kysely'
import type { Executor } from '../../db/database.js'
import type { ApiStandardRow, KeyMethod } from '../../db/tables.js'

export const findApiStandard = (db: Executor, handle: string): Promise<ApiStandardRow | undefined> =>
  db.selectFrom('api_standards').selectAll().where('handle', '=', handle).executeTakeFirst()

export const listApiStandards = (db: Executor, page: { limit: number; offset: number }) =>
  db.selectFrom('api_standards').selectAll().orderBy(sql`handle collate "C"`).limit(page.limit).offset(page.offset).execute()

export const upsertApiStandard = (
  db: Executor,
  standard: { handle: string; description: string; documentationUrl: string | null; keyMethod: KeyMethod; keyField: string | null },
) =>
  db
    .insertInto('api_standards')
    .values({
      handle: standard.handle,
      description: standard.description,
      documentation_url: standard.documentationUrl,
      key_method: standard.keyMethod,
      key_field: standard.keyField,
    })
    .onConflict((oc) =>
      oc.column('handle').doUpdateSet((eb) => ({
        description: eb.ref('excluded.description'),
        documentation_url: eb.ref('excluded.documentation_url'),
        key_method: eb.ref('excluded.key_method'),
        key_field: eb.ref('excluded.key_field'),
        updated_at: sql`now()`,
      })),
    )
    .returningAll()
    .executeTakeFirstOrThrow()

/** Who uses a standard, as `owner/handle`, definitions first; at most `limit` of each. */
export async function findApiStandardUsers(db: Executor, handle: string, limit: number) {
  const definitions = await db
    .selectFrom('llm_definitions as d')
    .innerJoin('users as u', 'u.id', 'd.owner_id')
    .select(sql<string>`u.handle || '/' || d.handle`.as('name'))
    .where('d.api_standard', '=', handle)
    .orderBy('name')
    .limit(limit)
    .execute()
  const instances = await db
    .selectFrom('llm_instances as i')
    .innerJoin('users as u', 'u.id', 'i.owner_id')
    .select(sql<string>`u.handle || '/' || i.handle`.as('name'))
    .where('i.api_standard', '=', handle)
    .orderBy('name')
    .limit(limit)
    .execute()
  return { definitions: definitions.map((r) => r.name), instances: instances.map((r) => r.name) }
}

export const deleteApiStandard = (db: Executor, handle: string) =>
  db.deleteFrom('api_standards').where('handle', '=', handle).executeTakeFirst()
