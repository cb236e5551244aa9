import { retryOnUniqueViolation } from '../db/errors.js'
import type { Executor } from '../db/database.js'
import { AppError, errors } from '../http/errors.js'
import { applyMergePatch, withoutReadOnly } from '../http/merge-patch.js'
import { checkBody } from '../http/validation.js'
import { type Caller, isAdmin, isUser } from '../identity/caller.js'
import { isReservedHandle, normalizeHandle, SYSTEM_USER } from '../identity/handles.js'
import { findUserByHandle } from '../identity/queries.js'
import { addressShare, dropPendingSharesOf, keepPendingShare, listPendingShares, removePendingShare, withPendingShares } from '../identity/share-targets.js'
import type { UserRow } from '../db/tables.js'
import { findInstance, findInstanceById } from '../registry/queries/instances.js'
import type { VectorEngine } from '../vectors/engine.js'
import type { ProjectLookup } from './lookup.js'
import { parseMetadataSchemaInput } from './metadata.js'
import * as q from './queries.js'
import { PROJECT_READ_ONLY, type ProjectInput, ProjectInput as ProjectInputSchema } from './schemas.js'

/**
 * Projects hold embeddings of one instance's dimensions. The owner and admins manage a
 * project; a share gives `reader` (read and search) or `editor` (also write embeddings);
 * `public_read` lets anyone read and search without a key.
 */
export interface ProjectsContext {
  db: Executor
  caller: Caller
  /** Null when the database has no vector support. */
  engine: VectorEngine | null
  /** For reads; writes look projects up afresh. */
  lookup?: ProjectLookup
}

export type ProjectRole = 'owner' | 'admin' | 'editor' | 'reader' | 'public'

export const projectNotFound = (owner: string, handle: string) =>
  new AppError('project_not_found', `user ${owner}'s project ${handle} not found`)

function roleOn(caller: Caller, project: q.ProjectView): ProjectRole | null {
  if (isUser(caller, project.owner)) return 'owner'
  if (isAdmin(caller)) return 'admin'
  if (project.share_role) return project.share_role
  return project.public_read ? 'public' : null
}

const callerId = (caller: Caller) => (caller.kind === 'user' ? caller.userId : null)

/**
 * A project the caller may see, with its role. Hidden and missing projects look the same:
 * 404 to a caller with a key, 401 to one without (it may simply have forgotten the key).
 */
export async function getVisibleProject(ctx: Pick<ProjectsContext, 'db' | 'caller' | 'lookup'>, ownerHandle: string, handle: string) {
  const owner = normalizeHandle(ownerHandle)
  const name = normalizeHandle(handle)
  const project = ctx.lookup
    ? await ctx.lookup.find(owner, name, callerId(ctx.caller))
    : await q.findProject(ctx.db, owner, name, callerId(ctx.caller))
  const role = project ? roleOn(ctx.caller, project) : null
  if (!project || !role) {
    if (ctx.caller.kind === 'anonymous') throw errors.unauthorized()
    throw projectNotFound(owner, name)
  }
  return { project, role }
}

/** 403 unless the caller's role is one of `allowed`. */
export function requireProjectRole(role: ProjectRole, allowed: readonly ProjectRole[], project: q.ProjectView, action: string) {
  if (allowed.includes(role)) return
  // A valid key that is no member of a public project: it can see the project, so 403 (it was
  // 401 "authentication failed", which sent users hunting for a key problem). Anonymous callers
  // never get here: every route that changes a project requires a key.
  if (role === 'public') throw errors.forbidden(`project ${project.owner}/${project.handle} is public to read; only its owner, editors and admins may ${action}`)
  throw errors.forbidden(`a ${role} of project ${project.owner}/${project.handle} may not ${action}`)
}

const MANAGERS: readonly ProjectRole[] = ['owner', 'admin']

/** Finds the instance a project body names, and checks that the project's owner may use it (D6). */
async function resolveInstance(db: Executor, owner: UserRow, input: ProjectInput) {
  if (input.llm_service_instance_id !== undefined) {
    const byId = await findInstanceById(db, input.llm_service_instance_id, owner.id)
    // A stranger's id answers exactly like an id nobody has.
    const usable = byId && (byId.owner_id === owner.id || byId.share_role) ? byId : undefined
    if (!usable) throw new AppError('instance_not_found', `LLM Service Instance with id ${input.llm_service_instance_id} not found`)
    if (input.instance_handle !== undefined) {
      const named = input.instance_handle.includes('/') ? input.instance_handle : `${input.instance_owner ?? owner.handle}/${input.instance_handle}`
      if (normalizeHandle(named) !== `${usable.owner}/${usable.handle}`) {
        throw new AppError('bad_request', `llm_service_instance_id ${usable.id} is ${usable.owner}/${usable.handle}, not ${normalizeHandle(named)}; send one of the two`)
      }
    }
    if (usable.kind !== 'embedding' || usable.dimensions === null) {
      throw new AppError('bad_request', `instance ${usable.owner}/${usable.handle} is a chat model; a project needs an embedding model`)
    }
    return usable
  }
  if (input.instance_handle === undefined) return null
  const [first, second] = input.instance_handle.split('/')
  const instanceOwner = normalizeHandle(second !== undefined ? (first as string) : (input.instance_owner ?? owner.handle))
  const handle = normalizeHandle(second ?? (first as string))
  const instance = await findInstance(db, instanceOwner, handle, owner.id)
  // An instance the owner may not use answers exactly like a missing one: a 403 "not shared"
  // told any user which private instances exist.
  if (!instance || (instance.owner_id !== owner.id && !instance.share_role)) {
    throw new AppError('instance_not_found', `LLM Service Instance ${handle} owned by ${instanceOwner} not found`)
  }
  if (instance.kind !== 'embedding' || instance.dimensions === null) {
    throw new AppError('bad_request', `instance ${instanceOwner}/${handle} is a chat model; a project needs an embedding model`)
  }
  return instance
}

/** Creates or replaces a project. Concurrent PUTs of one handle all succeed; the last writer wins. */
export const putProject = (ctx: ProjectsContext, ownerHandle: string, pathHandle: string | undefined, input: ProjectInput) =>
  retryOnUniqueViolation(() => putProjectOnce(ctx, ownerHandle, pathHandle, input))

async function putProjectOnce(ctx: ProjectsContext, ownerHandle: string, pathHandle: string | undefined, input: ProjectInput) {
  const handle = normalizeHandle(input.project_handle)
  if (pathHandle !== undefined && normalizeHandle(pathHandle) !== handle) {
    throw errors.handleMismatch('project', normalizeHandle(pathHandle), handle)
  }
  const ownerName = normalizeHandle(ownerHandle)
  const existing = await q.findProject(ctx.db, ownerName, handle, callerId(ctx.caller))
  if (existing) {
    const role = roleOn(ctx.caller, existing)
    if (!role) throw projectNotFound(ownerName, handle)
    requireProjectRole(role, MANAGERS, existing, 'change its settings')
  } else if (!isAdmin(ctx.caller) && !isUser(ctx.caller, ownerName)) {
    throw errors.userNotFound(ownerName)
  }
  const owner = await findUserByHandle(ctx.db, ownerName)
  if (!owner) throw errors.userNotFound(ownerName)
  if (owner.handle === SYSTEM_USER) throw errors.forbidden('_system owns definitions, not projects')

  const schema = parseMetadataSchemaInput(input.metadataScheme)
  if ('problem' in schema) throw new AppError('invalid_metadata_schema', `metadataScheme ${schema.problem}`)
  const instance = await resolveInstance(ctx.db, owner, input)
  const values: q.ProjectValues = {
    description: input.description ?? null,
    instance_id: instance?.id ?? null,
    metadata_schema: schema.schema === null ? null : JSON.stringify(schema.schema),
    public_read: input.public_read ?? false,
  }
  if (existing) {
    const dimensions = instance?.dimensions ?? null
    if (existing.embedding_count > 0 && dimensions !== existing.dimensions) {
      throw new AppError(
        'project_has_embeddings',
        `project ${existing.owner}/${existing.handle} holds ${existing.embedding_count} embeddings of ${existing.dimensions} dimensions; ` +
          `bind an instance of ${existing.dimensions} dimensions, or delete the embeddings first`,
      )
    }
    await q.updateProject(ctx.db, existing.id, values)
    return brief(existing.owner, handle, existing.id, values.public_read, roleOn(ctx.caller, existing) ?? 'owner')
  }
  const created = await q.insertProject(ctx.db, owner.id, handle, values)
  return brief(owner.handle, handle, created.id, values.public_read, isUser(ctx.caller, owner.handle) ? 'owner' : 'admin')
}

export async function patchProject(ctx: ProjectsContext, ownerHandle: string, handle: string, patch: Record<string, unknown>) {
  const { project, role } = await getVisibleProject(ctx, ownerHandle, handle)
  requireProjectRole(role, MANAGERS, project, 'change its settings')
  const current: Record<string, unknown> = {
    project_handle: project.handle,
    ...(project.description !== null ? { description: project.description } : {}),
    ...(project.metadata_schema !== null ? { metadataScheme: project.metadata_schema } : {}),
    ...(project.instance_handle !== null ? { instance_owner: project.instance_owner, instance_handle: project.instance_handle } : {}),
    public_read: project.public_read,
  }
  const update = withoutReadOnly(patch, PROJECT_READ_ONLY)
  // Naming a new instance by "owner/handle" replaces the stored owner too.
  if (typeof update.instance_handle === 'string' && update.instance_handle.includes('/')) delete current.instance_owner
  // Naming it by id replaces the stored name.
  if (update.llm_service_instance_id !== undefined && update.instance_handle === undefined) {
    delete current.instance_owner
    delete current.instance_handle
  }
  const merged = applyMergePatch(current, update)
  const issues = checkBody(ProjectInputSchema, merged)
  if (issues.length > 0) throw errors.validation(issues)
  await putProject(ctx, project.owner, project.handle, merged as ProjectInput)
  return getVisibleProject(ctx, project.owner, project.handle)
}

export async function deleteProject(ctx: ProjectsContext, ownerHandle: string, handle: string) {
  const { project, role } = await getVisibleProject(ctx, ownerHandle, handle)
  requireProjectRole(role, MANAGERS, project, 'delete it')
  await ctx.engine?.projectCleared(project.id)
  await q.deleteProject(ctx.db, project.id)
  await dropPendingSharesOf(ctx.db, 'project', project.id)
}

export async function listProjects(ctx: ProjectsContext, userHandle: string, page: { limit: number; offset: number }) {
  const handle = normalizeHandle(userHandle)
  const user = isAdmin(ctx.caller) || isUser(ctx.caller, handle) ? await findUserByHandle(ctx.db, handle) : undefined
  if (!user) {
    if (ctx.caller.kind === 'anonymous') throw errors.unauthorized()
    throw errors.userNotFound(handle)
  }
  return (await q.listProjectsFor(ctx.db, user.id, page)).map((row) => brief(row.owner, row.handle, row.id, row.public_read, row.role))
}


export async function shareProject(ctx: ProjectsContext, ownerHandle: string, handle: string, shareWith: string, shareRole: 'reader' | 'editor') {
  const { project, role } = await getVisibleProject(ctx, ownerHandle, handle)
  requireProjectRole(role, MANAGERS, project, 'share it')
  const target = await addressShare(ctx.db, shareWith, project.owner, 'a project')
  if ('user' in target) await q.upsertProjectShare(ctx.db, project.id, target.user.id, shareRole)
  else await keepPendingShare(ctx.db, 'project', project.id, target.pendingHandle, shareRole)
  return { owner: project.owner, project_handle: project.handle, shared_with: await projectShares(ctx.db, project.id) }
}

const projectShares = async (db: Executor, projectId: number) =>
  withPendingShares(await q.listProjectShares(db, projectId), await listPendingShares(db, 'project', projectId), (p) => ({ user_handle: p.handle, role: p.role ?? 'reader' }))

/** The owner or an admin may unshare; a user may also drop a share it was given. */
export async function unshareProject(ctx: ProjectsContext, ownerHandle: string, handle: string, unshareWith: string) {
  const target = normalizeHandle(unshareWith)
  const { project, role } = await getVisibleProject(ctx, ownerHandle, handle)
  if (!isUser(ctx.caller, target)) requireProjectRole(role, MANAGERS, project, 'change who it is shared with')
  const user = await findUserByHandle(ctx.db, target)
  const removed = user
    ? ((await q.removeProjectShare(ctx.db, project.id, user.id)).numDeletedRows > 0n)
    : await removePendingShare(ctx.db, 'project', project.id, target)
  if (!removed) throw new AppError('share_not_found', `project ${project.owner}/${project.handle} is not shared with user ${target}`)
}

export async function listProjectShares(ctx: ProjectsContext, ownerHandle: string, handle: string) {
  const { project, role } = await getVisibleProject(ctx, ownerHandle, handle)
  requireProjectRole(role, MANAGERS, project, 'see who it is shared with')
  return { owner: project.owner, project_handle: project.handle, shared_with: await projectShares(ctx.db, project.id) }
}

/** How long a transfer offer waits for the receiver. */
export const TRANSFER_OFFER_DAYS = 7

/**
 * Offers the project to another user, who accepts it (`…/transfer/accept`) or not. The answer
 * is the same whether a user has that handle or not, and nothing moves without the receiver's
 * consent: a transfer used to push a project into another account at once and to say whether
 * the handle existed, whether it already had a project of that name and which instances it
 * may use. An admin's transfer still happens at once (admins act for every user).
 */
export async function transferProject(ctx: ProjectsContext, ownerHandle: string, handle: string, newOwnerHandle: string) {
  const { project, role } = await getVisibleProject(ctx, ownerHandle, handle)
  requireProjectRole(role, MANAGERS, project, 'transfer it')
  const target = normalizeHandle(newOwnerHandle)
  if (target === project.owner) throw new AppError('bad_request', `user ${target} already owns project ${project.owner}/${project.handle}`)
  if (target === SYSTEM_USER || isReservedHandle(target)) throw errors.reservedHandle(target)
  if (isAdmin(ctx.caller)) {
    const newOwner = await findUserByHandle(ctx.db, target)
    if (!newOwner) throw new AppError('bad_request', `user ${target} does not exist`)
    return { offered: null, transferred: await moveProject(ctx.db, project, newOwner) }
  }
  const offer = await q.upsertTransferOffer(ctx.db, { project_id: project.id, to_handle: target, offered_by: ctx.caller.kind === 'user' ? ctx.caller.handle : 'admin', days: TRANSFER_OFFER_DAYS })
  return { offered: toOffer(project.owner, project.handle, project.id, offer), transferred: null }
}

/**
 * The receiver takes an offered project. Until then the project is invisible to it, so a
 * caller without an open offer gets the 404 of a missing project. The checks that could not
 * be made when the offer was made, without telling the owner about the receiver, happen here.
 */
export async function acceptProjectTransfer(ctx: ProjectsContext, ownerHandle: string, handle: string) {
  const { project, offer } = await getOfferedProject(ctx, ownerHandle, handle)
  const receiver = await findUserByHandle(ctx.db, offer.to_handle)
  if (!receiver) throw projectNotFound(project.owner, project.handle)
  return moveProject(ctx.db, project, receiver)
}

/** The receiver refuses an offer; the project stays where it is. */
export async function declineProjectTransfer(ctx: ProjectsContext, ownerHandle: string, handle: string) {
  const { project } = await getOfferedProject(ctx, ownerHandle, handle)
  await q.deleteTransferOffer(ctx.db, project.id)
}

/** The owner (or an admin) takes an offer back. */
export async function withdrawProjectTransfer(ctx: ProjectsContext, ownerHandle: string, handle: string) {
  const { project, role } = await getVisibleProject(ctx, ownerHandle, handle)
  requireProjectRole(role, MANAGERS, project, 'withdraw its transfer')
  if ((await q.deleteTransferOffer(ctx.db, project.id)).numDeletedRows === 0n) {
    throw new AppError('not_found', `project ${project.owner}/${project.handle} has no open transfer offer`)
  }
}

/** Open offers to the user and of its projects to others. */
export async function listTransferOffers(ctx: ProjectsContext, userHandle: string) {
  const handle = normalizeHandle(userHandle)
  const user = isAdmin(ctx.caller) || isUser(ctx.caller, handle) ? await findUserByHandle(ctx.db, handle) : undefined
  if (!user) throw errors.userNotFound(handle)
  const rows = await q.listTransferOffers(ctx.db, user.id, user.handle)
  const toRow = (row: (typeof rows)[number]) => toOffer(row.owner, row.project_handle, row.project_id, row)
  return {
    received: rows.filter((row) => row.to_handle === user.handle).map(toRow),
    sent: rows.filter((row) => row.owner === user.handle).map(toRow),
  }
}

async function getOfferedProject(ctx: ProjectsContext, ownerHandle: string, handle: string) {
  const owner = normalizeHandle(ownerHandle)
  const name = normalizeHandle(handle)
  const project = ctx.caller.kind === 'user' ? await q.findProject(ctx.db, owner, name, null) : undefined
  const offer = project ? await q.findTransferOffer(ctx.db, project.id) : undefined
  if (!project || !offer || ctx.caller.kind !== 'user' || offer.to_handle !== ctx.caller.handle) {
    if (ctx.caller.kind === 'anonymous') throw errors.unauthorized()
    throw projectNotFound(owner, name)
  }
  return { project, offer }
}

/**
 * Gives the project to `newOwner`, embeddings and shares included, and clears any offer. The
 * new owner must be able to use the project's instance (own it, or have it shared), else 409:
 * share it first. The previous owner keeps no access unless the new owner shares it back.
 */
async function moveProject(db: Executor, project: q.ProjectView, newOwner: UserRow) {
  if (await q.findProject(db, newOwner.handle, project.handle, null)) {
    throw new AppError('conflict', `user ${newOwner.handle} already has a project ${project.handle}`)
  }
  if (project.instance_id !== null && project.instance_owner !== newOwner.handle) {
    const instance = await findInstance(db, project.instance_owner as string, project.instance_handle as string, newOwner.id)
    if (!instance?.share_role) {
      throw new AppError(
        'instance_not_shared',
        `user ${newOwner.handle} may not use instance ${project.instance_owner}/${project.instance_handle}; share it with ${newOwner.handle} first`,
      )
    }
  }
  await db.transaction().execute(async (tx) => {
    await q.removeProjectShare(tx, project.id, newOwner.id)
    await q.updateProject(tx, project.id, { owner_id: newOwner.id })
    await q.deleteTransferOffer(tx, project.id)
  })
  return { owner: newOwner.handle, project_handle: project.handle, project_id: project.id, previous_owner: project.owner }
}

function toOffer(owner: string, projectHandle: string, projectId: number, offer: { to_handle: string; offered_by: string; created_at: Date; expires_at: Date }) {
  return {
    owner,
    project_handle: projectHandle,
    project_id: projectId,
    offered_to: offer.to_handle,
    offered_by: offer.offered_by,
    created_at: offer.created_at.toISOString(),
    expires_at: offer.expires_at.toISOString(),
  }
}

function brief(owner: string, handle: string, id: number, publicRead: boolean, role: ProjectRole) {
  return { owner, project_handle: handle, project_id: id, public_read: publicRead, role }
}

export async function describeProject(ctx: ProjectsContext, project: q.ProjectView, role: ProjectRole) {
  const manages = role === 'owner' || role === 'admin'
  const instanceRole =
    project.instance_owner === null ? null : project.instance_owner === project.owner ? 'owner' : await instanceShareRole(ctx, project)
  const searchIndex =
    ctx.engine && project.dimensions !== null
      ? await ctx.engine.indexStatus({ id: project.id, dimensions: project.dimensions, embeddingCount: project.embedding_count })
      : null
  return {
    project_id: project.id,
    project_handle: project.handle,
    owner: project.owner,
    description: project.description,
    metadataScheme: project.metadata_schema === null ? null : JSON.stringify(project.metadata_schema),
    public_read: project.public_read,
    instance:
      project.instance_id === null
        ? null
        : { owner: project.instance_owner as string, instance_handle: project.instance_handle as string, instance_id: project.instance_id, access_role: instanceRole },
    role,
    ...(manages ? { shared_with: await projectShares(ctx.db, project.id), transfer_offer: await openOffer(ctx.db, project) } : {}),
    number_of_embeddings: project.embedding_count,
    dimensions: project.dimensions,
    last_updated: project.embeddings_updated_at?.toISOString() ?? null,
    search_index: searchIndex,
    created_at: project.created_at.toISOString(),
    updated_at: project.updated_at.toISOString(),
  }
}

async function openOffer(db: Executor, project: q.ProjectView) {
  const offer = await q.findTransferOffer(db, project.id)
  return offer ? toOffer(project.owner, project.handle, project.id, offer) : null
}

/** How the project's owner holds its instance (a share role), as the reference API reports it. */
async function instanceShareRole(ctx: ProjectsContext, project: q.ProjectView) {
  const instance = await findInstance(ctx.db, project.instance_owner as string, project.instance_handle as string, project.owner_id)
  return instance?.share_role ?? null
}
