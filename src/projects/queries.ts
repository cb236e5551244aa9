import { sql } from 'kysely'
import type { Executor } from '../db/database.js'
import { prepared } from '../db/prepared.js'
import type { ProjectRow, ShareRole } from '../db/tables.js'

/** A project with its owner's handle, its instance, and the share role of one user. */
export type ProjectView = ProjectRow & {
  owner: string
  instance_owner: string | null
  instance_handle: string | null
  dimensions: number | null
  share_role: ShareRole | null
}

export const findProject = (db: Executor, ownerHandle: string, handle: string, shareUserId: number | null): Promise<ProjectView | undefined> =>
  prepared(db
    .selectFrom('projects as p')
    .innerJoin('users as u', 'u.id', 'p.owner_id')
    .leftJoin('llm_instances as i', 'i.id', 'p.instance_id')
    .leftJoin('users as iu', 'iu.id', 'i.owner_id')
    .leftJoin('project_shares as s', (join) => join.onRef('s.project_id', '=', 'p.id').on('s.user_id', '=', shareUserId ?? -1))
    .selectAll('p')
    .select(['u.handle as owner', 'iu.handle as instance_owner', 'i.handle as instance_handle', 'i.dimensions', 's.role as share_role'])
    .where('u.handle', '=', ownerHandle)
    .where('p.handle', '=', handle))
    .executeTakeFirst()

/** Projects a user owns or was given, each once, with its role. */
export const listProjectsFor = (db: Executor, userId: number, page: { limit: number; offset: number }) =>
  db
    .selectFrom((eb) =>
      eb
        .selectFrom('projects as p')
        .select(['p.id', 'p.owner_id', 'p.handle', 'p.public_read', sql<'owner' | ShareRole>`'owner'`.as('role')])
        .where('p.owner_id', '=', userId)
        .unionAll(
          eb
            .selectFrom('project_shares as s')
            .innerJoin('projects as p', 'p.id', 's.project_id')
            .select(['p.id', 'p.owner_id', 'p.handle', 'p.public_read', 's.role'])
            .where('s.user_id', '=', userId),
        )
        .as('a'),
    )
    .innerJoin('users as u', 'u.id', 'a.owner_id')
    .select(['a.id', 'a.handle', 'a.public_read', 'a.role', 'u.handle as owner'])
    .orderBy(sql`u.handle collate "C"`)
    .orderBy(sql`a.handle collate "C"`)
    .limit(page.limit)
    .offset(page.offset)
    .execute()

export interface ProjectValues {
  description: string | null
  instance_id: number | null
  metadata_schema: string | null
  public_read: boolean
}

export const insertProject = (db: Executor, ownerId: number, handle: string, values: ProjectValues) =>
  db.insertInto('projects').values({ owner_id: ownerId, handle, ...values }).returning('id').executeTakeFirstOrThrow()

export const updateProject = (db: Executor, id: number, values: Partial<ProjectValues> & { owner_id?: number }) =>
  db.updateTable('projects').set({ ...values, updated_at: sql`now()` }).where('id', '=', id).execute()

export const deleteProject = (db: Executor, id: number) => db.deleteFrom('projects').where('id', '=', id).execute()

export const listProjectShares = (db: Executor, projectId: number) =>
  db
    .selectFrom('project_shares as s')
    .innerJoin('users as u', 'u.id', 's.user_id')
    .select(['u.handle as user_handle', 's.role'])
    .where('s.project_id', '=', projectId)
    .orderBy(sql`u.handle collate "C"`)
    .execute()

export const upsertProjectShare = (db: Executor, projectId: number, userId: number, role: ShareRole) =>
  db
    .insertInto('project_shares')
    .values({ project_id: projectId, user_id: userId, role })
    .onConflict((oc) => oc.columns(['project_id', 'user_id']).doUpdateSet({ role }))
    .execute()

export const removeProjectShare = (db: Executor, projectId: number, userId: number) =>
  db.deleteFrom('project_shares').where('project_id', '=', projectId).where('user_id', '=', userId).executeTakeFirst()

/** An open (unexpired) offer of the project, if any. */
export const findTransferOffer = (db: Executor, projectId: number) =>
  db
    .selectFrom('project_transfer_offers')
    .selectAll()
    .where('project_id', '=', projectId)
    .where('expires_at', '>', sql<Date>`now()`)
    .executeTakeFirst()

/** One offer per project: a new one replaces the last. */
export const upsertTransferOffer = (db: Executor, offer: { project_id: number; to_handle: string; offered_by: string; days: number }) =>
  db
    .insertInto('project_transfer_offers')
    .values({ project_id: offer.project_id, to_handle: offer.to_handle, offered_by: offer.offered_by, expires_at: sql`now() + make_interval(days => ${offer.days})` })
    .onConflict((oc) =>
      oc.column('project_id').doUpdateSet({
        to_handle: offer.to_handle,
        offered_by: offer.offered_by,
        created_at: sql`now()`,
        expires_at: sql`now() + make_interval(days => ${offer.days})`,
      }),
    )
    .returningAll()
    .executeTakeFirstOrThrow()

export const deleteTransferOffer = (db: Executor, projectId: number) =>
  db.deleteFrom('project_transfer_offers').where('project_id', '=', projectId).executeTakeFirst()

/** Open offers to `handle`, and of the projects `userId` owns. */
export const listTransferOffers = (db: Executor, userId: number, handle: string) =>
  db
    .selectFrom('project_transfer_offers as o')
    .innerJoin('projects as p', 'p.id', 'o.project_id')
    .innerJoin('users as u', 'u.id', 'p.owner_id')
    .select(['o.to_handle', 'o.offered_by', 'o.created_at', 'o.expires_at', 'p.id as project_id', 'p.handle as project_handle', 'u.handle as owner'])
    .where('o.expires_at', '>', sql<Date>`now()`)
    .where((eb) => eb.or([eb('o.to_handle', '=', handle), eb('p.owner_id', '=', userId)]))
    .orderBy('o.created_at')
    .limit(200)
    .execute()
