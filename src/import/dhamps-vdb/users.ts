import { checkBody } from '../../http/validation.js'
import { SYSTEM_USER } from '../../identity/handles.js'
import { UserInput } from '../../identity/schemas.js'
import { dropPendingSharesTo } from '../../identity/share-targets.js'
import { type ImportContext, type UserRef, writeInBatches } from './context.js'
import { mapHandles } from './handles.js'
import type { SourceUser } from './source.js'
import * as target from './target.js'

/**
 * Users, with the key each had: dhamps-vdb stored the hex SHA-256 of a user's key, llmbase
 * stores the raw SHA-256, so the same 32 bytes make the old key work unchanged. `_system` is
 * matched to ours and its key (a placeholder nobody holds) is not carried over. A user already
 * in llmbase under the same handle and email is the same person; under the same handle with
 * another email it is someone else, and nothing of the source's user is imported.
 *
 * Returns the source handle → llmbase user of every user whose belongings may be imported.
 */
export async function importUsers(ctx: ImportContext, users: SourceUser[]): Promise<Map<string, UserRef>> {
  const { report } = ctx
  const existing = await target.listUsers(ctx.db)
  const byHandle = new Map(existing.map((u) => [u.handle, u]))
  const byEmail = new Map(existing.map((u) => [u.email.toLowerCase(), u.handle]))
  const hashOf = (user: SourceUser) => (user.keyHash && /^[0-9a-f]{64}$/i.test(user.keyHash) ? Buffer.from(user.keyHash, 'hex') : null)
  const keyOwners = await target.findKeyOwners(ctx.db, users.flatMap((u) => hashOf(u) ?? []))
  const handles = mapHandles(users.map((u) => u.handle), 'user')
  const mapped = new Map<string, UserRef>()
  const system = byHandle.get(SYSTEM_USER)
  if (system) mapped.set(SYSTEM_USER, { id: system.id, handle: SYSTEM_USER })

  const toInsert: Array<{ source: string; handle: string; name: string | null; email: string; hash: Buffer | null }> = []
  const toCompleteKey: Array<{ userId: number; hash: Buffer }> = []
  for (const user of users) {
    if (user.handle === SYSTEM_USER) continue
    const handle = handles.get(user.handle) as { handle: string } | { problem: string }
    if ('problem' in handle) {
      report.problem('users', 'skipped', user.handle, `${handle.problem}; what it owns is skipped too`)
      continue
    }
    const name = user.name === '' ? null : user.name
    const issues = checkBody(UserInput, { user_handle: handle.handle, email: user.email, ...(name !== null ? { name } : {}) })
    if (issues.length > 0) {
      report.problem('users', 'skipped', user.handle, `${issues.map((i) => `${i.location.replace(/^body\./, '')} ${i.message}`).join('; ')}; what it owns is skipped too`)
      continue
    }
    const hash = hashOf(user)
    const keyOwner = hash ? keyOwners.get(hash.toString('hex')) : undefined
    const found = byHandle.get(handle.handle)
    if (found) {
      if (found.email.toLowerCase() !== user.email.toLowerCase()) {
        report.problem('users', 'differs', user.handle, `llmbase has a user ${found.handle} with another email; it is someone else, so nothing of this user is imported`)
        continue
      }
      mapped.set(user.handle, { id: found.id, handle: found.handle })
      if (hash && keyOwner === undefined) {
        toCompleteKey.push({ userId: found.id, hash })
        report.count('users', 'completed')
      } else {
        report.count('users', 'unchanged')
        if (hash && keyOwner !== found.id) report.problem('users', 'note', user.handle, 'its key is the key of another llmbase user; it was not carried over')
      }
      continue
    }
    const emailHolder = byEmail.get(user.email.toLowerCase())
    if (emailHolder) {
      report.problem('users', 'skipped', user.handle, `its email is taken by ${emailHolder} (emails are unique regardless of case); what it owns is skipped too`)
      continue
    }
    byEmail.set(user.email.toLowerCase(), handle.handle)
    if (!hash) report.problem('users', 'note', user.handle, 'it has no key dhamps-vdb could check (not 64 hex characters); create one with POST /v1/users/{user}/keys')
    else if (keyOwner !== undefined) report.problem('users', 'note', user.handle, 'its key is the key of another llmbase user; it was not carried over')
    toInsert.push({ source: user.handle, handle: handle.handle, name, email: user.email, hash: keyOwner === undefined ? hash : null })
    report.count('users', 'new')
    if (ctx.dryRun) mapped.set(user.handle, { id: ctx.plannedId(), handle: handle.handle })
  }

  await writeInBatches(ctx, 'users', toInsert, async (tx, user) => {
    const id = await target.insertUser(tx, user)
    if (id === undefined) throw new Error(`user ${user.handle} (or its email) appeared in llmbase while the import ran; run the import again`)
    if (user.hash) await target.insertImportedKey(tx, id, user.hash)
    // As for any new user: shares that waited under the handle were meant for someone else.
    await dropPendingSharesTo(tx, user.handle)
    mapped.set(user.source, { id, handle: user.handle })
  })
  await writeInBatches(ctx, 'user keys', toCompleteKey, (tx, key) => target.insertImportedKey(tx, key.userId, key.hash))
  return mapped
}
