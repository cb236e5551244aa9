import type { Executor } from '../db/database.js'
import { isPgError, SQLSTATE } from '../db/errors.js'
import type { ApiKeyRow, UserRow } from '../db/tables.js'
import { AppError, errors } from '../http/errors.js'
import { type ApiKeyVerifier, generateApiKey } from './api-keys.js'
import { type Caller, isAdmin, isUser } from './caller.js'
import { isReservedHandle, normalizeHandle, SYSTEM_USER } from './handles.js'
import * as q from './queries.js'
import { dropPendingSharesTo } from './share-targets.js'
import type { KeyInput, UserInput, UserPatch } from './schemas.js'

/**
 * Users and API keys. Access follows the reference's deviation D22: a caller who cannot see a
 * user at all gets 404 (as if it did not exist); one who can see it but may not do this gets 403.
 * Users see only themselves; admins see everyone.
 */
export interface IdentityContext {
  db: Executor
  caller: Caller
  keys: Pick<ApiKeyVerifier, 'invalidate' | 'flushUsage'>
}

const canSee = (caller: Caller, handle: string) => isAdmin(caller) || isUser(caller, handle)

/** The user named in a path, if the caller may see it; otherwise 404 with the same text either way. */
export async function getVisibleUser(ctx: IdentityContext, handle: string): Promise<UserRow> {
  const normalized = normalizeHandle(handle)
  const user = canSee(ctx.caller, normalized) ? await q.findUserByHandle(ctx.db, normalized) : undefined
  if (!user) throw errors.userNotFound(normalized)
  return user
}

export async function putUser(ctx: IdentityContext, pathHandle: string | undefined, input: UserInput) {
  if (!isAdmin(ctx.caller)) throw errors.forbidden('only an admin may create or replace users')
  const handle = normalizeHandle(input.user_handle)
  if (pathHandle !== undefined && normalizeHandle(pathHandle) !== handle) {
    throw errors.handleMismatch('user', normalizeHandle(pathHandle), handle)
  }
  if (isReservedHandle(handle)) throw errors.reservedHandle(handle)
  return ctx.db.transaction().execute(async (tx) => {
    const saved = await q
      .upsertUser(tx, { handle, name: input.name ?? null, email: input.email, role: input.role })
      .catch(rethrowEmailTaken(input.email))
    if (!saved.inserted) return { user_handle: handle, vdb_key: 'not changed' }
    await dropPendingSharesTo(tx, handle)
    const key = await createKeyRow(tx, saved.id, { label: 'initial key' })
    return { user_handle: handle, vdb_key: key.key, key: key.key, key_id: key.row.id }
  })
}

export async function listUsers(ctx: IdentityContext, page: { limit: number; offset: number }) {
  if (!isAdmin(ctx.caller)) throw errors.forbidden('only an admin may list users')
  return q.listUserHandles(ctx.db, page)
}

export async function deleteUser(ctx: IdentityContext, handle: string) {
  const user = await getVisibleUser(ctx, handle)
  if (user.handle === SYSTEM_USER) throw errors.forbidden('the _system user owns the global definitions and cannot be deleted')
  await q.deleteUserById(ctx.db, user.id)
  ctx.keys.invalidate()
}

export async function patchUser(ctx: IdentityContext, handle: string, patch: UserPatch) {
  const user = await getVisibleUser(ctx, handle)
  if (user.handle === SYSTEM_USER && !isAdmin(ctx.caller)) throw errors.forbidden('only an admin may change _system')
  if (patch.user_handle !== undefined && normalizeHandle(patch.user_handle) !== user.handle) {
    throw errors.handleMismatch('user', user.handle, normalizeHandle(patch.user_handle))
  }
  if (patch.role !== undefined && patch.role !== user.role && !isAdmin(ctx.caller)) {
    throw errors.forbidden('only an admin may change a role')
  }
  const changes = {
    ...(patch.name !== undefined ? { name: patch.name } : {}),
    ...(patch.email !== undefined ? { email: patch.email } : {}),
    ...(patch.role !== undefined ? { role: patch.role } : {}),
  }
  if (Object.keys(changes).length === 0) return user
  const updated = await q.updateUser(ctx.db, user.id, changes).catch(rethrowEmailTaken(patch.email ?? ''))
  if (changes.role !== undefined) ctx.keys.invalidate()
  return updated
}

export async function createKey(ctx: IdentityContext, handle: string, input: KeyInput) {
  const user = await getVisibleUser(ctx, handle)
  if (user.handle === SYSTEM_USER) throw errors.forbidden('nobody can act as _system, so it cannot have keys')
  const expiresAt = input.expires_at === undefined ? null : new Date(input.expires_at)
  if (expiresAt && expiresAt.getTime() <= Date.now()) {
    throw errors.validation([{ message: 'must be in the future', location: 'body.expires_at', value: input.expires_at }])
  }
  return createKeyRow(ctx.db, user.id, { label: input.label ?? null, expiresAt })
}

export async function listKeys(ctx: IdentityContext, handle: string, page: { limit: number; offset: number }) {
  const user = await getVisibleUser(ctx, handle)
  await ctx.keys.flushUsage()
  return q.listApiKeys(ctx.db, user.id, page)
}

export async function revokeKey(ctx: IdentityContext, handle: string, keyId: string) {
  const user = await getVisibleUser(ctx, handle)
  const found = await q.revokeApiKey(ctx.db, user.id, keyId)
  if (!found) throw new AppError('api_key_not_found', `user ${user.handle} has no key ${keyId}`)
  ctx.keys.invalidate()
}

async function createKeyRow(db: Executor, userId: number, options: { label: string | null; expiresAt?: Date | null }) {
  const { key, prefix, hash } = generateApiKey()
  const row = await q.insertApiKey(db, { userId, prefix, hash, label: options.label, expiresAt: options.expiresAt ?? null })
  return { key, row }
}

function rethrowEmailTaken(email: string) {
  return (error: unknown): never => {
    if (isPgError(error, SQLSTATE.uniqueViolation) && error.constraint === 'users_email_key') {
      throw new AppError('email_taken', `the email address ${email} is already used by another user`, { cause: error })
    }
    throw error
  }
}

/** The user with what it has (the reference API's GET user, with the lists it left empty). */
export async function describeUser(ctx: IdentityContext, user: UserRow) {
  return { ...toUserResponse(user), ...(await q.listUserResources(ctx.db, user.id)) }
}

function toUserResponse(user: UserRow) {
  return {
    user_handle: user.handle,
    name: user.name,
    email: user.email,
    role: user.role,
    created_at: user.created_at.toISOString(),
    updated_at: user.updated_at.toISOString(),
  }
}

export function toKeyResponse(row: ApiKeyRow) {
  const now = Date.now()
  return {
    key_id: row.id,
    prefix: row.prefix,
    label: row.label,
    created_at: row.created_at.toISOString(),
    expires_at: row.expires_at?.toISOString() ?? null,
    last_used_at: row.last_used_at?.toISOString() ?? null,
    revoked_at: row.revoked_at?.toISOString() ?? null,
    status: row.revoked_at ? ('revoked' as const) : row.expires_at && row.expires_at.getTime() <= now ? ('expired' as const) : ('active' as const),
  }
}

/**
 * The user named in a path, when the caller may act under it (itself, or any user for an
 * admin). Anyone else gets the same 404 whether the user exists or not.
 */
export async function getOwnUser(ctx: { db: Executor; caller: Caller }, handle: string): Promise<UserRow> {
  const normalized = normalizeHandle(handle)
  const mayAct = isAdmin(ctx.caller) || isUser(ctx.caller, normalized)
  const user = mayAct ? await q.findUserByHandle(ctx.db, normalized) : undefined
  if (!user) throw errors.userNotFound(normalized)
  return user
}
