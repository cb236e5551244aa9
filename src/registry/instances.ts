import { retryOnUniqueViolation } from '../db/errors.js'
import { AppError, errors } from '../http/errors.js'
import { applyMergePatch, withoutReadOnly } from '../http/merge-patch.js'
import { checkBody } from '../http/validation.js'
import { isAdmin, isUser } from '../identity/caller.js'
import { normalizeHandle, SYSTEM_USER } from '../identity/handles.js'
import { findUserByHandle } from '../identity/queries.js'
import { addressShare, dropPendingSharesOf, keepPendingShare, listPendingShares, removePendingShare, withPendingShares } from '../identity/share-targets.js'
import { type Keyring, open, seal, UnknownKeyError } from '../secrets/keyring.js'
import {
  type AccessRole,
  assertApiStandardExists,
  checkModelFields,
  getOwnUser,
  modelFieldsAsInput,
  modelFieldsAsResponse,
  pricesToStore,
  type RegistryContext,
} from './context.js'
import { getVisibleDefinition } from './definitions.js'
import * as q from './queries/instances.js'
import {
  type FromDefinitionInput,
  INSTANCE_READ_ONLY,
  type InstanceInput,
  InstanceInput as InstanceInputSchema,
} from './schemas.js'

/**
 * Instances are a user's configured models, holding the provider key. The key is write-only:
 * it is encrypted before it reaches the database and never leaves the server again, except
 * to the provider. Sharing gives `reader` (use it) or `editor` (also change its non-secret
 * fields); only the owner or an admin deletes it, shares it or sets its key.
 */

/** Where instance keys live; bound into the ciphertext so it cannot be moved elsewhere. */
export const API_KEY_CONTEXT = 'llm_instances.api_key'

const notFound = (owner: string, handle: string) => new AppError('instance_not_found', `instance ${owner}/${handle} not found`)

function roleOn(ctx: RegistryContext, instance: q.InstanceView): AccessRole | null {
  if (isUser(ctx.caller, instance.owner)) return 'owner'
  if (isAdmin(ctx.caller)) return 'admin'
  return instance.share_role
}

const callerId = (ctx: RegistryContext) => (ctx.caller.kind === 'user' ? ctx.caller.userId : null)

/** An instance the caller may see, with its role; 404 alike for missing and hidden ones. */
export async function getVisibleInstance(ctx: RegistryContext, ownerHandle: string, handle: string) {
  const owner = normalizeHandle(ownerHandle)
  const name = normalizeHandle(handle)
  const instance = await q.findInstance(ctx.db, owner, name, callerId(ctx))
  const role = instance ? roleOn(ctx, instance) : null
  if (!instance || !role) throw notFound(owner, name)
  return { instance, role }
}

function assertOwnerOrAdmin(role: AccessRole, instance: q.InstanceView, action: string) {
  if (role === 'reader' || role === 'editor') {
    throw errors.forbidden(`only ${instance.owner} or an admin may ${action} instance ${instance.owner}/${instance.handle}`)
  }
}

function sealKey(keyring: Keyring, apiKey: string | null | undefined) {
  if (apiKey === undefined) return undefined
  if (apiKey === null) return null
  return seal(keyring, apiKey, API_KEY_CONTEXT)
}

/** Creates or replaces an instance (PUT, and POST with the handle in the body). Concurrent PUTs of one handle all succeed; the last writer wins. */
export const putInstance = (ctx: RegistryContext, ownerHandle: string, pathHandle: string | undefined, input: InstanceInput) =>
  retryOnUniqueViolation(() => putInstanceOnce(ctx, ownerHandle, pathHandle, input))

async function putInstanceOnce(ctx: RegistryContext, ownerHandle: string, pathHandle: string | undefined, input: InstanceInput) {
  const handle = normalizeHandle(input.instance_handle)
  if (pathHandle !== undefined && normalizeHandle(pathHandle) !== handle) {
    throw errors.handleMismatch('instance', normalizeHandle(pathHandle), handle)
  }
  const owner = normalizeHandle(ownerHandle)
  const existing = await q.findInstance(ctx.db, owner, handle, callerId(ctx))
  const role = existing ? roleOn(ctx, existing) : null
  if (existing && !role) throw notFound(owner, handle)
  if (role === 'reader') throw errors.forbidden(`a reader may not change instance ${owner}/${handle}`)
  if (role === 'editor' && input.api_key !== undefined) {
    throw errors.forbidden(`only ${owner} or an admin may set the key of instance ${owner}/${handle}`)
  }
  const values: q.InstanceValues = {
    kind: input.kind ?? 'embedding',
    api_standard: normalizeHandle(input.api_standard ?? 'openai'),
    endpoint: input.endpoint,
    model: input.model,
    dimensions: input.dimensions ?? null,
    context_limit: input.context_limit ?? null,
    description: input.description ?? null,
    cache_ttl_seconds: input.cache_ttl_seconds ?? null,
    prices: pricesToStore(input.prices),
  }
  checkModelFields(values, ctx.egress)
  await assertApiStandardExists(ctx.db, values.api_standard)
  const key = sealKey(ctx.keyring, input.api_key)
  if (existing) {
    if (values.dimensions !== existing.dimensions || values.kind !== existing.kind) {
      const projects = await q.findProjectsUsingInstance(ctx.db, existing.id, { withEmbeddingsOnly: true })
      if (projects.length > 0) {
        throw new AppError('instance_in_use', `instance ${owner}/${handle} serves projects holding embeddings of ${existing.dimensions} dimensions (${projects.join(', ')}); its kind and dimensions cannot change`)
      }
    }
    await q.updateInstance(ctx.db, existing.id, values, key)
    return { owner, instance_handle: handle, instance_id: existing.id }
  }
  const user = await getOwnUser(ctx, owner)
  if (user.handle === SYSTEM_USER) throw errors.forbidden('_system owns definitions, not instances')
  const created = await q.insertInstance(ctx.db, {
    ...values,
    owner_id: user.id,
    handle,
    definition_id: null,
    api_key_ciphertext: key?.ciphertext ?? null,
    api_key_key_id: key?.keyId ?? null,
  })
  return { owner, instance_handle: handle, instance_id: created.id }
}

/** A new instance from a definition the caller may see; fields not given come from it. */
export async function createInstanceFromDefinition(ctx: RegistryContext, ownerHandle: string, input: FromDefinitionInput, pathHandle?: string) {
  const user = await getOwnUser(ctx, ownerHandle)
  if (user.handle === SYSTEM_USER) throw errors.forbidden('_system owns definitions, not instances')
  if (input.user_handle !== undefined && normalizeHandle(input.user_handle) !== user.handle) {
    throw errors.handleMismatch('user', user.handle, normalizeHandle(input.user_handle))
  }
  const handle = normalizeHandle(input.instance_handle)
  if (pathHandle !== undefined && normalizeHandle(pathHandle) !== handle) throw errors.handleMismatch('instance', normalizeHandle(pathHandle), handle)
  const { definition } = await getVisibleDefinition(ctx, input.definition_owner ?? SYSTEM_USER, input.definition_handle)
  if (await q.findInstance(ctx.db, user.handle, handle, null)) {
    throw new AppError('conflict', `instance ${user.handle}/${handle} already exists; change it with PUT or PATCH`)
  }
  const values: q.InstanceValues = {
    kind: definition.kind,
    api_standard: normalizeHandle(input.api_standard ?? definition.api_standard),
    endpoint: input.endpoint ?? definition.endpoint,
    model: input.model ?? definition.model,
    dimensions: input.dimensions ?? definition.dimensions,
    context_limit: input.context_limit ?? definition.context_limit,
    description: input.description ?? definition.description,
    cache_ttl_seconds: input.cache_ttl_seconds ?? null,
    // Not the definition's prices: the gateway falls back to them while the instance has
    // none, so a later change of the definition's prices reaches this instance too.
    prices: pricesToStore(input.prices),
  }
  checkModelFields(values, ctx.egress)
  await assertApiStandardExists(ctx.db, values.api_standard)
  const key = sealKey(ctx.keyring, input.api_key)
  const created = await q.insertInstance(ctx.db, {
    ...values,
    owner_id: user.id,
    handle,
    definition_id: definition.id,
    api_key_ciphertext: key?.ciphertext ?? null,
    api_key_key_id: key?.keyId ?? null,
  })
  return { owner: user.handle, instance_handle: handle, instance_id: created.id }
}

export async function patchInstance(ctx: RegistryContext, ownerHandle: string, handle: string, patch: Record<string, unknown>) {
  const { instance, role } = await getVisibleInstance(ctx, ownerHandle, handle)
  if (role === 'reader') throw errors.forbidden(`a reader may not change instance ${instance.owner}/${instance.handle}`)
  // `api_key` keeps PATCH's own meaning (null removes the key, absent keeps it), so it is
  // set aside before merging: the stored key is never part of the merged document.
  const { api_key: apiKey, ...rest } = withoutReadOnly(patch, INSTANCE_READ_ONLY)
  const merged = applyMergePatch(toInstanceInput(instance), rest) as Record<string, unknown>
  if ('api_key' in patch) merged.api_key = apiKey
  const issues = checkBody(InstanceInputSchema, merged)
  if (issues.length > 0) throw errors.validation(issues)
  await putInstance(ctx, instance.owner, instance.handle, merged as InstanceInput)
  return getVisibleInstance(ctx, instance.owner, (merged as InstanceInput).instance_handle)
}

export async function listInstances(ctx: RegistryContext, userHandle: string, page: { limit: number; offset: number }) {
  const user = await getOwnUser(ctx, userHandle)
  return q.listInstancesFor(ctx.db, user.id, page)
}

export async function deleteInstance(ctx: RegistryContext, ownerHandle: string, handle: string) {
  const { instance, role } = await getVisibleInstance(ctx, ownerHandle, handle)
  assertOwnerOrAdmin(role, instance, 'delete')
  const projects = await q.findProjectsUsingInstance(ctx.db, instance.id, { withEmbeddingsOnly: false })
  if (projects.length > 0) {
    throw new AppError('instance_in_use', `instance ${instance.owner}/${instance.handle} is used by projects ${projects.join(', ')}; bind them to another instance or delete them first`)
  }
  await q.deleteInstance(ctx.db, instance.id)
  await dropPendingSharesOf(ctx.db, 'instance', instance.id)
}

export async function shareInstance(ctx: RegistryContext, ownerHandle: string, handle: string, shareWith: string, shareRole: 'reader' | 'editor') {
  const { instance, role } = await getVisibleInstance(ctx, ownerHandle, handle)
  assertOwnerOrAdmin(role, instance, 'share')
  const target = await addressShare(ctx.db, shareWith, instance.owner, 'an instance')
  if ('user' in target) await q.upsertInstanceShare(ctx.db, instance.id, target.user.id, shareRole)
  else await keepPendingShare(ctx.db, 'instance', instance.id, target.pendingHandle, shareRole)
  return { owner: instance.owner, instance_handle: instance.handle, shared_with: await instanceShares(ctx.db, instance.id) }
}

const instanceShares = async (db: RegistryContext['db'], instanceId: number) =>
  withPendingShares(await q.listInstanceShares(db, instanceId), await listPendingShares(db, 'instance', instanceId), (p) => ({ user_handle: p.handle, role: p.role ?? 'reader' }))

/** The owner or an admin may unshare; a user may also drop a share it was given. */
export async function unshareInstance(ctx: RegistryContext, ownerHandle: string, handle: string, unshareWith: string) {
  const target = normalizeHandle(unshareWith)
  const { instance, role } = await getVisibleInstance(ctx, ownerHandle, handle)
  if (!isUser(ctx.caller, target)) assertOwnerOrAdmin(role, instance, 'unshare')
  const user = await findUserByHandle(ctx.db, target)
  const removed = user
    ? ((await q.removeInstanceShare(ctx.db, instance.id, user.id)).numDeletedRows > 0n)
    : await removePendingShare(ctx.db, 'instance', instance.id, target)
  if (!removed) throw new AppError('share_not_found', `instance ${instance.owner}/${instance.handle} is not shared with user ${target}`)
}

export async function listInstanceShares(ctx: RegistryContext, ownerHandle: string, handle: string) {
  const { instance, role } = await getVisibleInstance(ctx, ownerHandle, handle)
  assertOwnerOrAdmin(role, instance, 'see the shares of')
  return { owner: instance.owner, instance_handle: instance.handle, shared_with: await instanceShares(ctx.db, instance.id) }
}

/**
 * The provider key of an instance, for the code that calls the provider. A key encrypted
 * under a key this server lacks is a 503 (the configuration is wrong), never garbage.
 */
export function readApiKey(keyring: Keyring, instance: Pick<q.InstanceView, 'owner' | 'handle' | 'api_key_ciphertext' | 'api_key_key_id' | 'api_key_plaintext'>): string | null {
  if (instance.api_key_ciphertext && instance.api_key_key_id) {
    try {
      return open(keyring, { ciphertext: instance.api_key_ciphertext, keyId: instance.api_key_key_id }, API_KEY_CONTEXT)
    } catch (error) {
      const why = error instanceof UnknownKeyError ? 'was encrypted with a key this server does not have' : 'does not decrypt'
      throw new AppError('secret_unreadable', `the provider key of instance ${instance.owner}/${instance.handle} ${why}; check ENCRYPTION_KEY (llmbase keys check)`, { cause: error })
    }
  }
  if (instance.api_key_plaintext) {
    throw new AppError('secret_unreadable', `the provider key of instance ${instance.owner}/${instance.handle} is not encrypted yet; run llmbase keys import-plaintext`)
  }
  return null
}

function keyStatus(keyring: Keyring, row: q.InstanceView) {
  if (row.api_key_ciphertext && row.api_key_key_id) return keyring.byId.has(row.api_key_key_id) ? ('ok' as const) : ('unreadable' as const)
  return row.api_key_plaintext ? ('not_encrypted' as const) : null
}

function toInstanceInput(row: q.InstanceView): InstanceInput {
  return {
    instance_handle: row.handle,
    ...modelFieldsAsInput(row),
    ...(row.cache_ttl_seconds !== null ? { cache_ttl_seconds: row.cache_ttl_seconds } : {}),
    ...(row.prices !== null ? { prices: row.prices } : {}),
  }
}

export function toInstanceResponse(keyring: Keyring, row: q.InstanceView, role: AccessRole) {
  return {
    owner: row.owner,
    instance_handle: row.handle,
    instance_id: row.id,
    access_role: role,
    definition_id: row.definition_id,
    definition_owner: row.definition_owner,
    definition_handle: row.definition_handle,
    has_api_key: row.api_key_ciphertext !== null || row.api_key_plaintext !== null,
    api_key_status: keyStatus(keyring, row),
    cache_ttl_seconds: row.cache_ttl_seconds,
    prices: row.prices,
    ...modelFieldsAsResponse(row),
  }
}
