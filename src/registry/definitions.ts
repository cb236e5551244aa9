import { AppError, errors } from '../http/errors.js'
import { applyMergePatch, withoutReadOnly } from '../http/merge-patch.js'
import { checkBody } from '../http/validation.js'
import { isAdmin, isUser } from '../identity/caller.js'
import { normalizeHandle, SYSTEM_USER } from '../identity/handles.js'
import { findUserByHandle } from '../identity/queries.js'
import { addressShare, dropPendingSharesOf, keepPendingShare, listPendingShares, removePendingShare, withPendingShares } from '../identity/share-targets.js'
import {
  type AccessRole,
  assertApiStandardExists,
  assertMayWriteUnder,
  checkModelFields,
  getOwnUser,
  modelFieldsAsInput,
  modelFieldsAsResponse,
  pricesToStore,
  type RegistryContext,
} from './context.js'
import * as q from './queries/definitions.js'
import { DEFINITION_READ_ONLY, type DefinitionInput, DefinitionInput as DefinitionInputSchema } from './schemas.js'

/**
 * Definitions are model templates. Every user may read (and build instances from) its own,
 * the global ones of `_system`, public ones and those shared with it; only the owner or an
 * admin changes, deletes or shares one, and only an admin touches `_system`'s.
 */
const notFound = (owner: string, handle: string) => new AppError('definition_not_found', `llm definition ${owner}/${handle} not found`)

/** The caller's role on a definition, or null when it may not see it. */
function roleOn(ctx: RegistryContext, definition: q.DefinitionView): AccessRole | null {
  if (isUser(ctx.caller, definition.owner)) return 'owner'
  if (isAdmin(ctx.caller)) return 'admin'
  if (ctx.caller.kind !== 'user') return null
  if (definition.is_public || definition.owner === SYSTEM_USER || definition.shared_with_user) return 'reader'
  return null
}

async function findVisibleDefinition(ctx: RegistryContext, owner: string, name: string) {
  const definition = await q.findDefinition(ctx.db, owner, name, ctx.caller.kind === 'user' ? ctx.caller.userId : null)
  if (!definition) return undefined
  const role = roleOn(ctx, definition)
  return role ? { definition, role } : undefined
}

/** A definition the caller may see, with the caller's role; 404 alike for missing and hidden ones. */
export async function getVisibleDefinition(ctx: RegistryContext, ownerHandle: string, handle: string) {
  const owner = normalizeHandle(ownerHandle)
  const name = normalizeHandle(handle)
  const found = await findVisibleDefinition(ctx, owner, name)
  if (!found) throw notFound(owner, name)
  return found
}

async function getManagedDefinition(ctx: RegistryContext, ownerHandle: string, handle: string) {
  const found = await getVisibleDefinition(ctx, ownerHandle, handle)
  if (found.role === 'reader') throw errors.forbidden(`only ${found.definition.owner} or an admin may change llm definition ${found.definition.owner}/${found.definition.handle}`)
  assertMayWriteUnder(ctx, found.definition.owner, 'definitions')
  return found.definition
}

export async function putDefinition(ctx: RegistryContext, ownerHandle: string, pathHandle: string | undefined, input: DefinitionInput) {
  const handle = normalizeHandle(input.definition_handle)
  if (pathHandle !== undefined && normalizeHandle(pathHandle) !== handle) {
    throw errors.handleMismatch('definition', normalizeHandle(pathHandle), handle)
  }
  // Someone the definition is shared with can see it, so it is told why it may not (403).
  const existing = await findVisibleDefinition(ctx, normalizeHandle(ownerHandle), handle)
  if (existing?.role === 'reader') {
    throw errors.forbidden(`only ${existing.definition.owner} or an admin may change llm definition ${existing.definition.owner}/${handle}`)
  }
  // `_system`'s namespace is visible to everyone (its list is public), so a write there is a
  // 403, not the 404 of a user one may not see.
  if (normalizeHandle(ownerHandle) === SYSTEM_USER && !isAdmin(ctx.caller)) {
    throw errors.forbidden('only an admin may create or change global definitions (owned by _system)')
  }
  const owner = await getOwnUser(ctx, ownerHandle)
  assertMayWriteUnder(ctx, owner.handle, 'definitions')
  const values: q.DefinitionValues = {
    kind: input.kind ?? 'embedding',
    api_standard: normalizeHandle(input.api_standard),
    endpoint: input.endpoint,
    model: input.model,
    dimensions: input.dimensions ?? null,
    context_limit: input.context_limit ?? null,
    description: input.description ?? null,
    is_public: input.is_public ?? false,
    prices: pricesToStore(input.prices),
  }
  checkModelFields(values, ctx.egress)
  await assertApiStandardExists(ctx.db, values.api_standard)
  const saved = await q.upsertDefinition(ctx.db, owner.id, handle, values)
  return { definition_id: saved.id, definition_handle: saved.handle, owner: owner.handle, is_public: saved.is_public }
}

export async function patchDefinition(ctx: RegistryContext, ownerHandle: string, handle: string, patch: Record<string, unknown>) {
  const current = await getManagedDefinition(ctx, ownerHandle, handle)
  const merged = applyMergePatch(toDefinitionInput(current), withoutReadOnly(patch, DEFINITION_READ_ONLY))
  const issues = checkBody(DefinitionInputSchema, merged)
  if (issues.length > 0) throw errors.validation(issues)
  await putDefinition(ctx, current.owner, current.handle, merged as DefinitionInput)
  return (await getVisibleDefinition(ctx, current.owner, (merged as DefinitionInput).definition_handle)).definition
}

/**
 * The definitions a user may use. `_system`'s list is the global definitions, readable by
 * every caller: its namespace is visible to all, only writing under it is the admin's.
 */
export async function listDefinitions(ctx: RegistryContext, userHandle: string, page: { limit: number; offset: number }) {
  if (normalizeHandle(userHandle) === SYSTEM_USER && ctx.caller.kind !== 'anonymous') return q.listSystemDefinitions(ctx.db, page)
  const user = await getOwnUser(ctx, userHandle)
  return q.listDefinitionsFor(ctx.db, user.id, page)
}

/** `GET /v1/llm-definitions`: the caller's own list; for the admin key, the global definitions. */
export async function listDefinitionsOfCaller(ctx: RegistryContext, page: { limit: number; offset: number }) {
  if (ctx.caller.kind !== 'user') return q.listSystemDefinitions(ctx.db, page)
  return q.listDefinitionsFor(ctx.db, ctx.caller.userId, page)
}

/** Instances built from it keep working; they only lose the link to their template. */
export async function deleteDefinition(ctx: RegistryContext, ownerHandle: string, handle: string) {
  const definition = await getManagedDefinition(ctx, ownerHandle, handle)
  await q.deleteDefinition(ctx.db, definition.id)
  await dropPendingSharesOf(ctx.db, 'definition', definition.id)
}

export async function shareDefinition(ctx: RegistryContext, ownerHandle: string, handle: string, shareWith: string) {
  const definition = await getManagedDefinition(ctx, ownerHandle, handle)
  if (definition.owner === SYSTEM_USER) {
    throw new AppError('invalid_share', 'global definitions are visible to every user and need no sharing')
  }
  const target = await addressShare(ctx.db, shareWith, definition.owner, 'a definition')
  if ('user' in target) await q.addDefinitionShare(ctx.db, definition.id, target.user.id)
  else await keepPendingShare(ctx.db, 'definition', definition.id, target.pendingHandle, null)
  return { owner: definition.owner, definition_handle: definition.handle, shared_with: await definitionShares(ctx.db, definition.id) }
}

/** Handles the definition is shared with, pending shares included (see identity/share-targets.ts). */
async function definitionShares(db: RegistryContext['db'], definitionId: number): Promise<string[]> {
  const real = (await q.listDefinitionShares(db, definitionId)).map((handle) => ({ user_handle: handle }))
  return withPendingShares(real, await listPendingShares(db, 'definition', definitionId), (p) => ({ user_handle: p.handle })).map((row) => row.user_handle)
}

/** The owner or an admin may unshare; a user may also drop a share it was given. */
export async function unshareDefinition(ctx: RegistryContext, ownerHandle: string, handle: string, unshareWith: string) {
  const target = normalizeHandle(unshareWith)
  const { definition, role } = await getVisibleDefinition(ctx, ownerHandle, handle)
  if (role === 'reader' && !isUser(ctx.caller, target)) {
    throw errors.forbidden(`only ${definition.owner} or an admin may change who llm definition ${definition.owner}/${definition.handle} is shared with`)
  }
  const user = await findUserByHandle(ctx.db, target)
  if (user) await q.removeDefinitionShare(ctx.db, definition.id, user.id)
  else await removePendingShare(ctx.db, 'definition', definition.id, target)
}

export async function listDefinitionShares(ctx: RegistryContext, ownerHandle: string, handle: string) {
  const { definition, role } = await getVisibleDefinition(ctx, ownerHandle, handle)
  if (role === 'reader') throw errors.forbidden(`only ${definition.owner} or an admin may see who llm definition ${definition.owner}/${definition.handle} is shared with`)
  return definitionShares(ctx.db, definition.id)
}

function toDefinitionInput(row: q.DefinitionView): DefinitionInput {
  return { definition_handle: row.handle, ...modelFieldsAsInput(row), is_public: row.is_public, ...(row.prices !== null ? { prices: row.prices } : {}) }
}

export function toDefinitionResponse(row: q.DefinitionView) {
  return {
    definition_id: row.id,
    definition_handle: row.handle,
    owner: row.owner,
    is_public: row.is_public,
    prices: row.prices,
    ...modelFieldsAsResponse(row),
  }
}
