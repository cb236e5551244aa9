import { sql } from 'kysely'
import type { Executor } from '../../db/database.js'
import { prepared } from '../../db/prepared.js'
import type { DefinitionRow, ModelFields, Prices } from '../../db/tables.js'
import { SYSTEM_USER } from '../../identity/handles.js'

/** A definition with its owner's handle, and whether it is shared with one user. */
export type DefinitionView = DefinitionRow & { owner: string; shared_with_user: boolean }

export type DefinitionValues = ModelFields & { is_public: boolean; prices: Prices | null }

/** `shareUserId`: whose share to report (the caller's), or null. */
export const findDefinition = (db: Executor, ownerHandle: string, handle: string, shareUserId: number | null): Promise<DefinitionView | undefined> =>
  prepared(
    db
      .selectFrom('llm_definitions as d')
      .innerJoin('users as u', 'u.id', 'd.owner_id')
      .leftJoin('llm_definition_shares as s', (join) => join.onRef('s.definition_id', '=', 'd.id').on('s.user_id', '=', shareUserId ?? -1))
      .selectAll('d')
      .select(['u.handle as owner', sql<boolean>`s.user_id is not null`.as('shared_with_user')])
      .where('u.handle', '=', ownerHandle)
      .where('d.handle', '=', handle),
  ).executeTakeFirst()

/**
 * Definitions a user may use: its own, every `_system` one, every public one and those shared
 * with it, each once (the reference API listed a definition once per share).
 */
export const listDefinitionsFor = (db: Executor, userId: number, page: { limit: number; offset: number }) =>
  db
    .selectFrom('llm_definitions as d')
    .innerJoin('users as u', 'u.id', 'd.owner_id')
    .select(['d.id', 'd.handle', 'd.is_public', 'd.kind', 'd.model', 'd.dimensions', 'u.handle as owner'])
    .where((eb) =>
      eb.or([
        eb('d.owner_id', '=', userId),
        eb('d.is_public', '=', true),
        eb('u.handle', '=', SYSTEM_USER),
        eb.exists(
          eb
            .selectFrom('llm_definition_shares as s')
            .select('s.user_id')
            .whereRef('s.definition_id', '=', 'd.id')
            .where('s.user_id', '=', userId),
        ),
      ]),
    )
    .orderBy(sql`u.handle collate "C"`)
    .orderBy(sql`d.handle collate "C"`)
    .limit(page.limit)
    .offset(page.offset)
    .execute()

export const upsertDefinition = (db: Executor, ownerId: number, handle: string, values: DefinitionValues) =>
  db
    .insertInto('llm_definitions')
    .values({ owner_id: ownerId, handle, ...values })
    .onConflict((oc) =>
      oc.columns(['owner_id', 'handle']).doUpdateSet((eb) => ({
        kind: eb.ref('excluded.kind'),
        api_standard: eb.ref('excluded.api_standard'),
        endpoint: eb.ref('excluded.endpoint'),
        model: eb.ref('excluded.model'),
        dimensions: eb.ref('excluded.dimensions'),
        context_limit: eb.ref('excluded.context_limit'),
        description: eb.ref('excluded.description'),
        is_public: eb.ref('excluded.is_public'),
        prices: eb.ref('excluded.prices'),
        updated_at: sql`now()`,
      })),
    )
    .returning(['id', 'handle', 'is_public'])
    .executeTakeFirstOrThrow()

export const deleteDefinition = (db: Executor, id: number) => db.deleteFrom('llm_definitions').where('id', '=', id).execute()

export const listDefinitionShares = async (db: Executor, definitionId: number): Promise<string[]> => {
  const rows = await db
    .selectFrom('llm_definition_shares as s')
    .innerJoin('users as u', 'u.id', 's.user_id')
    .select('u.handle')
    .where('s.definition_id', '=', definitionId)
    .orderBy(sql`u.handle collate "C"`)
    .execute()
  return rows.map((r) => r.handle)
}

export const addDefinitionShare = (db: Executor, definitionId: number, userId: number) =>
  db
    .insertInto('llm_definition_shares')
    .values({ definition_id: definitionId, user_id: userId })
    .onConflict((oc) => oc.columns(['definition_id', 'user_id']).doNothing())
    .execute()

export const removeDefinitionShare = (db: Executor, definitionId: number, userId: number) =>
  db.deleteFrom('llm_definition_shares').where('definition_id', '=', definitionId).where('user_id', '=', userId).executeTakeFirst()

/** The global definitions: those `_system` owns, which every user may read. */
export const listSystemDefinitions = (db: Executor, page: { limit: number; offset: number }) =>
  db
    .selectFrom('llm_definitions as d')
    .innerJoin('users as u', 'u.id', 'd.owner_id')
    .select(['d.id', 'd.handle', 'd.is_public', 'd.kind', 'd.model', 'd.dimensions', 'u.handle as owner'])
    .where('u.handle', '=', SYSTEM_USER)
    .orderBy(sql`d.handle collate "C"`)
    .limit(page.limit)
    .offset(page.offset)
    .execute()
