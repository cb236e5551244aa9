import { sql } from 'kysely'
import type { Executor } from '../db/database.js'
import { prepared } from '../db/prepared.js'
import type { ApiKeyRow, UserRow } from '../db/tables.js'
import type { VerifiedKey } from './api-keys.js'

/** SQL of the identity capability. Callers pass the executor (the database or a transaction). */

export const findUserByHandle = (db: Executor, handle: string): Promise<UserRow | undefined> =>
  db.selectFrom('users').selectAll().where('handle', '=', handle).executeTakeFirst()

/** Handles in byte order, so that the embedded database and a server with another collation agree. */
export const listUserHandles = async (db: Executor, page: { limit: number; offset: number }): Promise<string[]> => {
  const rows = await db
    .selectFrom('users')
    .select('handle')
    .orderBy(sql`handle collate "C"`)
    .limit(page.limit)
    .offset(page.offset)
    .execute()
  return rows.map((row) => row.handle)
}

/**
 * Creates the user or replaces its name and email (and role when given), in one statement so
 * that two concurrent PUTs of a new handle cannot both insert. `inserted` tells which happened.
 */
export const upsertUser = (
  db: Executor,
  user: { handle: string; name: string | null; email: string; role: 'user' | 'admin' | undefined },
) =>
  db
    .insertInto('users')
    .values({ handle: user.handle, name: user.name, email: user.email, role: user.role ?? 'user' })
    .onConflict((oc) =>
      oc.column('handle').doUpdateSet((eb) => ({
        name: eb.ref('excluded.name'),
        email: eb.ref('excluded.email'),
        role: user.role === undefined ? eb.ref('users.role') : eb.ref('excluded.role'),
        updated_at: sql`now()`,
      })),
    )
    .returning(['id', 'handle', sql<boolean>`(xmax = 0)`.as('inserted')])
    .executeTakeFirstOrThrow()

export const updateUser = (db: Executor, id: number, changes: { name?: string | null; email?: string; role?: 'user' | 'admin' }) =>
  db
    .updateTable('users')
    .set({ ...changes, updated_at: sql`now()` })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow()

export const deleteUserById = (db: Executor, id: number) => db.deleteFrom('users').where('id', '=', id).execute()

export const insertApiKey = (
  db: Executor,
  key: { userId: number; prefix: string; hash: Buffer; label: string | null; expiresAt: Date | null },
): Promise<ApiKeyRow> =>
  db
    .insertInto('api_keys')
    .values({ user_id: key.userId, prefix: key.prefix, hash: key.hash, label: key.label, expires_at: key.expiresAt })
    .returningAll()
    .executeTakeFirstOrThrow()

export const listApiKeys = (db: Executor, userId: number, page: { limit: number; offset: number }) =>
  db
    .selectFrom('api_keys')
    .selectAll()
    .where('user_id', '=', userId)
    .orderBy('created_at', 'desc')
    .orderBy('id')
    .limit(page.limit)
    .offset(page.offset)
    .execute()

/** Marks the key revoked (keeping the row for the audit trail); false when the user has no such key. */
export const revokeApiKey = async (db: Executor, userId: number, keyId: string): Promise<boolean> => {
  const row = await db
    .updateTable('api_keys')
    .set({ revoked_at: sql`coalesce(revoked_at, now())` })
    .where('user_id', '=', userId)
    .where('id', '=', keyId)
    .returning('id')
    .executeTakeFirst()
  return row !== undefined
}

export const findActiveKeyByHash = (db: Executor, hash: Buffer): Promise<VerifiedKey | undefined> =>
  prepared(
    db
      .selectFrom('api_keys as k')
      .innerJoin('users as u', 'u.id', 'k.user_id')
      .select(['k.id as keyId', 'k.user_id as userId', 'k.expires_at as expiresAt', 'u.handle', 'u.role'])
      .where('k.hash', '=', hash)
      .where('k.revoked_at', 'is', null),
  ).executeTakeFirst()

/** Records when keys were last used, all in one statement. */
export const recordKeyUses = async (db: Executor, uses: Array<{ keyId: string; at: Date }>) => {
  if (uses.length === 0) return
  await sql`
    update api_keys as k set last_used_at = u.at
    from unnest(${uses.map((u) => u.keyId)}::uuid[], ${uses.map((u) => u.at.toISOString())}::timestamptz[]) as u(id, at)
    where k.id = u.id and (k.last_used_at is null or k.last_used_at < u.at)
  `.execute(db)
}

/**
 * What a user has, for `GET /v1/users/{u}`: the instances it owns or was given (with its role)
 * and the definitions it owns or was given. Global and public definitions are left out; the
 * definitions list shows them.
 */
export async function listUserResources(db: Executor, userId: number) {
  const instances = await sql<{ owner: string; instance_handle: string; role: string }>`
    select * from (
    select u.handle as owner, i.handle as instance_handle, 'owner' as role
    from llm_instances i join users u on u.id = i.owner_id where i.owner_id = ${userId}
    union all
    select u.handle, i.handle, s.role
    from llm_instance_shares s join llm_instances i on i.id = s.instance_id join users u on u.id = i.owner_id
    where s.user_id = ${userId}
    ) as x order by owner collate "C", instance_handle collate "C"`.execute(db)
  const definitions = await sql<{ owner: string; definition_handle: string; role: string }>`
    select * from (
    select u.handle as owner, d.handle as definition_handle, 'owner' as role
    from llm_definitions d join users u on u.id = d.owner_id where d.owner_id = ${userId}
    union all
    select u.handle, d.handle, 'reader'
    from llm_definition_shares s join llm_definitions d on d.id = s.definition_id join users u on u.id = d.owner_id
    where s.user_id = ${userId}
    ) as x order by owner collate "C", definition_handle collate "C"`.execute(db)
  return { instances: instances.rows, definitions: definitions.rows }
}
