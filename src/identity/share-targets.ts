import type { Executor } from '../db/database.js'
import type { PendingSharesTable, ShareRole, UserRow } from '../db/tables.js'
import { AppError, errors } from '../http/errors.js'
import { isReservedHandle, normalizeHandle, SYSTEM_USER } from './handles.js'
import { findUserByHandle } from './queries.js'

/**
 * Whom a share goes to. Sharing names a handle, and the answer must be the same whether a
 * user has that handle or not: otherwise any user could list the installation's users by
 * sharing with guesses (answers were 201 for a user and 400 for no one). A share to a handle
 * nobody has is therefore kept as a pending share: listed to the owner like any other share,
 * granting nothing to anyone. When a user with that handle is created later, the pending
 * shares addressed to it are dropped rather than granted, so a share made for someone else
 * (or a typo) never opens a resource to whoever gets the handle next.
 */
export type ShareTarget = { user: UserRow } | { pendingHandle: string }

export type SharedResource = PendingSharesTable['resource']

export async function addressShare(db: Executor, handle: string, ownerHandle: string, what: string): Promise<ShareTarget> {
  const normalized = normalizeHandle(handle)
  if (normalized === ownerHandle) throw new AppError('invalid_share', `cannot share ${what} with its owner`)
  // Reserved handles are public knowledge (docs/identity.md): refusing them tells nothing.
  if (normalized === SYSTEM_USER || isReservedHandle(normalized)) throw errors.reservedHandle(normalized)
  const user = await findUserByHandle(db, normalized)
  return user ? { user } : { pendingHandle: normalized }
}

export const keepPendingShare = (db: Executor, resource: SharedResource, resourceId: number, handle: string, role: ShareRole | null) =>
  db
    .insertInto('pending_shares')
    .values({ resource, resource_id: resourceId, handle, role })
    .onConflict((oc) => oc.columns(['resource', 'resource_id', 'handle']).doUpdateSet({ role }))
    .execute()

/** True when a pending share was removed. */
export async function removePendingShare(db: Executor, resource: SharedResource, resourceId: number, handle: string) {
  const result = await db
    .deleteFrom('pending_shares')
    .where('resource', '=', resource)
    .where('resource_id', '=', resourceId)
    .where('handle', '=', handle)
    .executeTakeFirst()
  return result.numDeletedRows > 0n
}

export const listPendingShares = (db: Executor, resource: SharedResource, resourceId: number) =>
  db
    .selectFrom('pending_shares')
    .select(['handle', 'role'])
    .where('resource', '=', resource)
    .where('resource_id', '=', resourceId)
    .execute()

/** Called in the transaction that creates the user `handle`. */
export const dropPendingSharesTo = (db: Executor, handle: string) =>
  db.deleteFrom('pending_shares').where('handle', '=', handle).execute()

/** Pending shares of a deleted resource (ids are never reused, but they would be clutter). */
export const dropPendingSharesOf = (db: Executor, resource: SharedResource, resourceId: number) =>
  db.deleteFrom('pending_shares').where('resource', '=', resource).where('resource_id', '=', resourceId).execute()

/** Real and pending shares in one list, ordered by handle as the lists always were. */
export function withPendingShares<T extends { user_handle: string }>(real: T[], pending: Array<{ handle: string; role: ShareRole | null }>, toRow: (p: { handle: string; role: ShareRole | null }) => T): T[] {
  return [...real, ...pending.map(toRow)].sort((a, b) => (a.user_handle < b.user_handle ? -1 : a.user_handle > b.user_handle ? 1 : 0))
}
