import type { ShareRole } from '../../db/tables.js'
import type { Executor } from '../../db/database.js'
import { SYSTEM_USER } from '../../identity/handles.js'
import { type ImportContext, type UserRef, writeInBatches } from './context.js'
import type { Kind } from './report.js'
import type { SourceShare } from './source.js'

/**
 * Shares of projects (`users_projects`), instances (`instances_shared_with`, or before version
 * 4 the other users of `users_llm_services`) and definitions (version 5). The owner's own row
 * is not a share. dhamps-vdb's roles were `reader` and `editor` (`writer` in early builds);
 * `owner` for someone who is not the owner has no counterpart: llmbase resources have one.
 */
export interface SharedResource {
  /** `owner/handle` in the source, for the report. */
  label: string
  /** The owner's handle in the source. */
  owner: string
  /** The llmbase id, or null when the resource was not imported. */
  id: number | null
}

const ROLES: Record<string, ShareRole> = { reader: 'reader', editor: 'editor', writer: 'editor' }

/** Returns the `resourceId:userId` pairs shared in llmbase once the import is done. */
export async function importShares(
  ctx: ImportContext,
  options: {
    kind: Extract<Kind, 'project shares' | 'instance shares' | 'definition shares'>
    shares: SourceShare[]
    resources: Map<number, SharedResource>
    users: Map<string, UserRef>
    existing: Array<{ id: number; user_id: number; role: ShareRole }>
    write: (tx: Executor, share: { resourceId: number; userId: number; role: ShareRole }) => Promise<unknown>
  },
): Promise<Set<string>> {
  const { report } = ctx
  const { kind } = options
  const present = new Map(options.existing.map((s) => [`${s.id}:${s.user_id}`, s.role]))
  const toInsert: Array<{ resourceId: number; userId: number; role: ShareRole }> = []
  for (const share of options.shares) {
    const resource = options.resources.get(share.id)
    if (!resource || share.user === resource.owner) continue
    const item = `${resource.label} with ${share.user}`
    const user = options.users.get(share.user)
    const role = ROLES[share.role]
    const problem =
      resource.id === null
        ? `${resource.label} was not imported`
        : !user
          ? `user ${share.user} was not imported`
          : !role
            ? `role ${share.role} has no counterpart in llmbase (one owner; shares are reader or editor)`
            : kind === 'definition shares' && resource.owner === SYSTEM_USER
              ? 'global definitions are visible to every user and need no sharing'
              : null
    if (problem || resource.id === null || !user || !role) {
      report.problem(kind, 'skipped', item, problem ?? 'it cannot be imported')
      continue
    }
    const key = `${resource.id}:${user.id}`
    const stored = present.get(key)
    if (stored !== undefined) {
      if (kind === 'definition shares' || stored === role) report.count(kind, 'unchanged')
      else report.problem(kind, 'differs', item, `llmbase shares it as ${stored}, dhamps-vdb as ${role}`)
      continue
    }
    present.set(key, role)
    toInsert.push({ resourceId: resource.id, userId: user.id, role })
    report.count(kind, 'new')
  }
  await writeInBatches(ctx, kind, toInsert, options.write)
  return new Set(present.keys())
}
