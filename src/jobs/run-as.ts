import type { Executor } from '../db/database.js'
import type { UserRow } from '../db/tables.js'
import { AppError } from '../http/errors.js'
import type { Caller } from '../identity/caller.js'
import { type ClaimedJob, PermanentJobError } from './types.js'

export type UserCaller = Extract<Caller, { kind: 'user' }>

/**
 * A job runs as its owner: with the owner's rights as they are when it runs (not when it was
 * submitted, nor those of an admin who submitted it for the owner), and accounted to the owner
 * in the gateway's request log, with no API key.
 */
export function ownerCaller(owner: Pick<UserRow, 'id' | 'handle' | 'role'>): UserCaller {
  return { kind: 'user', userId: owner.id, handle: owner.handle, role: owner.role, keyId: null }
}

/** The job's owner as of now; the row is gone only if the user was deleted while the job ran. */
export async function loadOwner(db: Executor, job: ClaimedJob): Promise<UserRow> {
  const owner = await db.selectFrom('users').selectAll().where('id', '=', job.ownerId).executeTakeFirst()
  if (!owner) throw new PermanentJobError('the owner of this job no longer exists', 'user_not_found')
  return owner
}

/**
 * Runs an access check again at run time. The owner's rights may have changed since the job
 * was submitted; a refusal then cannot get better by retrying, so the job ends at once, saying
 * what was lost.
 */
export async function recheckAccess<T>(what: string, check: () => Promise<T>): Promise<T> {
  try {
    return await check()
  } catch (error) {
    if (error instanceof AppError && error.status >= 400 && error.status < 500 && error.status !== 429) {
      throw new PermanentJobError(`${what} is no longer possible: ${error.message}`, error.code)
    }
    throw error
  }
}
