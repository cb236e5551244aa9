import type { Executor } from '../db/database.js'
import { checkBody } from '../http/validation.js'
import { ADMIN } from './caller.js'
import { normalizeHandle } from './handles.js'
import { findUserByHandle } from './queries.js'
import { UserInput } from './schemas.js'
import { putUser } from './service.js'

/**
 * `llmbase users create`: the same rules as `PUT /v1/users/{handle}` by an admin, except that
 * an existing user is an error rather than an update.
 */
export async function createUserFromCli(
  db: Executor,
  input: { handle: string; email: string; name?: string | undefined; admin: boolean },
): Promise<{ handle: string; key: string }> {
  const body = {
    user_handle: input.handle,
    email: input.email,
    role: input.admin ? 'admin' : 'user',
    ...(input.name !== undefined ? { name: input.name } : {}),
  } as UserInput
  const problems = checkBody(UserInput, body)
  if (problems.length > 0) {
    throw new Error(problems.map((p) => `${p.location.replace(/^body\.?/, '') || 'value'} ${p.message}`).join('; '))
  }
  if (await findUserByHandle(db, normalizeHandle(input.handle))) {
    throw new Error(`user ${normalizeHandle(input.handle)} already exists`)
  }
  const noCache = { invalidate() {}, async flushUsage() {} }
  const created = await putUser({ db, caller: ADMIN, keys: noCache }, undefined, body)
  return { handle: created.user_handle, key: created.vdb_key }
}
