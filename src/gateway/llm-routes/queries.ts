import { sql } from 'kysely'
import type { Executor } from '../../db/database.js'
import type { ModelKind, ShareRole } from '../../db/tables.js'

/** SQL of LLM routes. Callers pass the executor (the database or a transaction). */

export interface RouteRow {
  id: number
  owner: string
  handle: string
  description: string | null
  strategy: 'fallback' | 'weighted'
  created_at: Date
  updated_at: Date
}

export interface TargetRow {
  route_id: number
  position: number
  weight: number
  instance_id: number
  instance_owner: string
  instance_handle: string
  kind: ModelKind
  model: string
}

/** An instance as a possible route target: who owns it and the route owner's share role on it. */
export const findCandidateInstance = (db: Executor, ownerHandle: string, handle: string, userId: number) =>
  db
    .selectFrom('llm_instances as i')
    .innerJoin('users as u', 'u.id', 'i.owner_id')
    .leftJoin('llm_instance_shares as s', (join) => join.onRef('s.instance_id', '=', 'i.id').on('s.user_id', '=', userId))
    .select(['i.id', 'i.owner_id', 'i.kind', 's.role as share_role'])
    .where('u.handle', '=', ownerHandle)
    .where('i.handle', '=', handle)
    .executeTakeFirst() as Promise<{ id: number; owner_id: number; kind: ModelKind; share_role: ShareRole | null } | undefined>

export const instanceHandleTaken = async (db: Executor, ownerId: number, handle: string) =>
  (await db.selectFrom('llm_instances').select('id').where('owner_id', '=', ownerId).where('handle', '=', handle).executeTakeFirst()) !== undefined

const routeColumns = ['r.id', 'u.handle as owner', 'r.handle', 'r.description', 'r.strategy', 'r.created_at', 'r.updated_at'] as const

export const findRoute = (db: Executor, ownerId: number, handle: string): Promise<RouteRow | undefined> =>
  db
    .selectFrom('llm_routes as r')
    .innerJoin('users as u', 'u.id', 'r.owner_id')
    .select(routeColumns)
    .where('r.owner_id', '=', ownerId)
    .where('r.handle', '=', handle)
    .executeTakeFirst()

export const listRoutes = (db: Executor, ownerId: number, page: { limit: number; offset: number }): Promise<RouteRow[]> =>
  db
    .selectFrom('llm_routes as r')
    .innerJoin('users as u', 'u.id', 'r.owner_id')
    .select(routeColumns)
    .where('r.owner_id', '=', ownerId)
    .orderBy(sql`r.handle collate "C"`)
    .limit(page.limit)
    .offset(page.offset)
    .execute()

export const listTargets = async (db: Executor, routeIds: number[]): Promise<TargetRow[]> => {
  if (routeIds.length === 0) return []
  return db
    .selectFrom('llm_route_targets as t')
    .innerJoin('llm_instances as i', 'i.id', 't.instance_id')
    .innerJoin('users as u', 'u.id', 'i.owner_id')
    .select(['t.route_id', 't.position', 't.weight', 'i.id as instance_id', 'u.handle as instance_owner', 'i.handle as instance_handle', 'i.kind', 'i.model'])
    .where('t.route_id', 'in', routeIds)
    .orderBy('t.route_id')
    .orderBy('t.position')
    .execute()
}

/** Creates the route or replaces its fields, in one statement so that two concurrent PUTs cannot both insert. */
export const upsertRoute = (
  db: Executor,
  route: { owner_id: number; handle: string; description: string | null; strategy: 'fallback' | 'weighted' },
) =>
  db
    .insertInto('llm_routes')
    .values(route)
    .onConflict((oc) =>
      oc.columns(['owner_id', 'handle']).doUpdateSet((eb) => ({
        description: eb.ref('excluded.description'),
        strategy: eb.ref('excluded.strategy'),
        updated_at: sql`now()`,
      })),
    )
    .returning(['id'])
    .executeTakeFirstOrThrow()

export const replaceTargets = async (db: Executor, routeId: number, targets: Array<{ instance_id: number; weight: number }>) => {
  await db.deleteFrom('llm_route_targets').where('route_id', '=', routeId).execute()
  await db
    .insertInto('llm_route_targets')
    .values(targets.map((target, index) => ({ route_id: routeId, position: index + 1, ...target })))
    .execute()
}

export const deleteRoute = async (db: Executor, ownerId: number, handle: string) => {
  const result = await db.deleteFrom('llm_routes').where('owner_id', '=', ownerId).where('handle', '=', handle).executeTakeFirst()
  return result.numDeletedRows > 0n
}
