import { type SqlBool, sql } from 'kysely'
import type { Executor } from '../../db/database.js'
import { prepared } from '../../db/prepared.js'
import type { InstanceRow, ModelFields, Prices, ShareRole } from '../../db/tables.js'

/** An instance with its owner's handle, its definition's name, and the share role of one user. */
export type InstanceView = InstanceRow & {
  owner: string
  definition_owner: string | null
  definition_handle: string | null
  share_role: ShareRole | null
}

export type InstanceValues = ModelFields & { cache_ttl_seconds: number | null; prices: Prices | null }

/** Instances with their owner, definition and one user's share role (`shareUserId`, or null). */
const instanceViews = (db: Executor, shareUserId: number | null) =>
  db
    .selectFrom('llm_instances as i')
    .innerJoin('users as u', 'u.id', 'i.owner_id')
    .leftJoin('llm_definitions as d', 'd.id', 'i.definition_id')
    .leftJoin('users as du', 'du.id', 'd.owner_id')
    .leftJoin('llm_instance_shares as s', (join) =>
      join.onRef('s.instance_id', '=', 'i.id').on('s.user_id', '=', shareUserId ?? -1),
    )
    .selectAll('i')
    .select(['u.handle as owner', 'du.handle as definition_owner', 'd.handle as definition_handle', 's.role as share_role'])

/** `shareUserId`: whose share role to report (the caller's), or null. */
export const findInstance = (db: Executor, ownerHandle: string, handle: string, shareUserId: number | null): Promise<InstanceView | undefined> =>
  prepared(instanceViews(db, shareUserId).where('u.handle', '=', ownerHandle).where('i.handle', '=', handle)).executeTakeFirst()

/** By id, as seed 000's clients name an instance (`llm_service_instance_id`). */
export const findInstanceById = (db: Executor, id: number, shareUserId: number | null): Promise<InstanceView | undefined> =>
  instanceViews(db, shareUserId).where('i.id', '=', id).executeTakeFirst()

/**
 * Instances a user owns or has been given, with its role on each, in one index-backed union:
 * measured with `npm run bench -- registry` (docs/registry.md).
 */
export const listInstancesFor = (db: Executor, userId: number, page: { limit: number; offset: number }) =>
  db
    .selectFrom((eb) =>
      eb
        .selectFrom('llm_instances as i')
        .select(['i.id', 'i.owner_id', 'i.handle', 'i.kind', 'i.model', 'i.dimensions', sql<'owner' | ShareRole>`'owner'`.as('role')])
        .where('i.owner_id', '=', userId)
        .unionAll(
          eb
            .selectFrom('llm_instance_shares as s')
            .innerJoin('llm_instances as i', 'i.id', 's.instance_id')
            .select(['i.id', 'i.owner_id', 'i.handle', 'i.kind', 'i.model', 'i.dimensions', 's.role'])
            .where('s.user_id', '=', userId),
        )
        .as('a'),
    )
    .innerJoin('users as u', 'u.id', 'a.owner_id')
    .select(['a.id', 'a.handle', 'a.kind', 'a.model', 'a.dimensions', 'a.role', 'u.handle as owner'])
    .orderBy(sql`u.handle collate "C"`)
    .orderBy(sql`a.handle collate "C"`)
    .limit(page.limit)
    .offset(page.offset)
    .execute()

export const insertInstance = (
  db: Executor,
  row: InstanceValues & { owner_id: number; handle: string; definition_id: number | null; api_key_ciphertext: Buffer | null; api_key_key_id: string | null },
) => db.insertInto('llm_instances').values(row).returning(['id']).executeTakeFirstOrThrow()

/** Updates the fields given; the key columns only when `key` is given (null removes the key). */
export const updateInstance = (
  db: Executor,
  id: number,
  values: Partial<InstanceValues>,
  key?: { ciphertext: Buffer; keyId: string } | null,
) =>
  db
    .updateTable('llm_instances')
    .set({
      ...values,
      ...(key === undefined
        ? {}
        : { api_key_ciphertext: key?.ciphertext ?? null, api_key_key_id: key?.keyId ?? null, api_key_plaintext: null }),
      updated_at: sql`now()`,
    })
    .where('id', '=', id)
    .execute()

export const deleteInstance = (db: Executor, id: number) => db.deleteFrom('llm_instances').where('id', '=', id).execute()

export const listInstanceShares = (db: Executor, instanceId: number) =>
  db
    .selectFrom('llm_instance_shares as s')
    .innerJoin('users as u', 'u.id', 's.user_id')
    .select(['u.handle as user_handle', 's.role'])
    .where('s.instance_id', '=', instanceId)
    .orderBy(sql`u.handle collate "C"`)
    .execute()

export const upsertInstanceShare = (db: Executor, instanceId: number, userId: number, role: ShareRole) =>
  db
    .insertInto('llm_instance_shares')
    .values({ instance_id: instanceId, user_id: userId, role })
    .onConflict((oc) => oc.columns(['instance_id', 'user_id']).doUpdateSet({ role }))
    .execute()

export const removeInstanceShare = (db: Executor, instanceId: number, userId: number) =>
  db.deleteFrom('llm_instance_shares').where('instance_id', '=', instanceId).where('user_id', '=', userId).executeTakeFirst()

/** Every stored provider key, for `llmbase keys check|rotate`. */
export const listSealedKeys = (db: Executor) =>
  db
    .selectFrom('llm_instances as i')
    .innerJoin('users as u', 'u.id', 'i.owner_id')
    .select(['i.id', 'u.handle as owner', 'i.handle', 'i.api_key_ciphertext', 'i.api_key_key_id', 'i.api_key_plaintext'])
    .where((eb) => eb.or([eb('i.api_key_ciphertext', 'is not', null), eb('i.api_key_plaintext', 'is not', null)]))
    .orderBy('i.id')
    .execute()

/**
 * The condition "user `userId` may use instance `i`": they own it, or it is shared with them
 * (as reader or editor). For queries that select from `llm_instances as i`.
 */
export const usableBy = (userId: number) =>
  sql<SqlBool>`(i.owner_id = ${userId} or exists (select 1 from llm_instance_shares s where s.instance_id = i.id and s.user_id = ${userId}))`

/**
 * Projects bound to an instance, as `owner/handle`, for the 409 when it is deleted or resized.
 * Read here from the projects table (the foreign key points at instances), so that the
 * registry need not import the projects capability, which builds on it.
 */
export async function findProjectsUsingInstance(db: Executor, instanceId: number, options: { withEmbeddingsOnly: boolean }) {
  let query = db
    .selectFrom('projects as p')
    .innerJoin('users as u', 'u.id', 'p.owner_id')
    .select(sql<string>`u.handle || '/' || p.handle`.as('name'))
    .where('p.instance_id', '=', instanceId)
  if (options.withEmbeddingsOnly) query = query.where('p.embedding_count', '>', 0)
  return (await query.orderBy('name').limit(20).execute()).map((r) => r.name)
}
