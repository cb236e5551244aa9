import type { KeyMethod } from '../../db/tables.js'
import { SYSTEM_USER } from '../../identity/handles.js'
import { upsertDefinition } from '../../registry/queries/definitions.js'
import { insertInstance, updateInstance } from '../../registry/queries/instances.js'
import { contextLimitOf, type ImportContext, textOrNull, type UserRef, writeInBatches } from './context.js'
import { mapOwnedHandles } from './handles.js'
import { carryKey, readStoredKey } from './legacy-keys.js'
import type { SourceApiStandard, SourceDefinition, SourceInstance } from './source.js'
import * as target from './target.js'

/**
 * API standards, definitions and instances. All of dhamps-vdb's models are embedding models.
 * Where llmbase's rules are stricter (dimensions 1 to 16,000, an existing API standard) an
 * item that breaks them is reported and skipped, with what depends on it.
 */
const KEY_METHODS: readonly KeyMethod[] = ['auth_bearer', 'custom_header', 'query_param', 'body_form', 'none']
const RESOURCE_HANDLE = /^[a-z0-9][a-z0-9._-]{2,39}$/

/** Source handle → llmbase handle of every API standard models may name. */
export async function importApiStandards(ctx: ImportContext, standards: SourceApiStandard[]): Promise<Map<string, string>> {
  const existing = await target.listApiStandardHandles(ctx.db)
  const usable = new Map<string, string>()
  const toInsert: Array<{ handle: string; description: string; keyMethod: KeyMethod; keyField: string | null }> = []
  for (const standard of standards) {
    const handle = standard.handle.toLowerCase()
    if (existing.has(handle)) {
      usable.set(standard.handle, handle)
      ctx.report.count('api standards', 'unchanged')
      continue
    }
    const problem = !RESOURCE_HANDLE.test(handle)
      ? 'is not a valid llmbase handle'
      : !KEY_METHODS.includes(standard.keyMethod as KeyMethod)
        ? `key method ${standard.keyMethod} is unknown`
        : (standard.keyField?.length ?? 0) > 100
          ? 'its key field is longer than 100 characters'
          : usable.has(standard.handle) || [...usable.values()].includes(handle)
            ? `folds to ${handle}, as another one does`
            : null
    if (problem) {
      ctx.report.problem('api standards', 'skipped', standard.handle, `${problem}; the models that use it are skipped too`)
      continue
    }
    usable.set(standard.handle, handle)
    toInsert.push({ handle, description: standard.description ?? '', keyMethod: standard.keyMethod as KeyMethod, keyField: standard.keyField })
    ctx.report.count('api standards', 'new')
  }
  await writeInBatches(ctx, 'api standards', toInsert, (tx, standard) => target.insertApiStandard(tx, standard))
  return usable
}

/** The llmbase values of a source model, or why it cannot be one. */
function modelValues(model: SourceDefinition | SourceInstance, standards: Map<string, string>) {
  const standard = standards.get(model.apiStandard)
  if (!standard) return { problem: `its API standard ${model.apiStandard} was not imported` }
  if (!Number.isInteger(model.dimensions) || model.dimensions < 1 || model.dimensions > 16000) {
    return { problem: `it has ${model.dimensions} dimensions; llmbase embedding models have 1 to 16000` }
  }
  return {
    values: {
      kind: 'embedding' as const,
      api_standard: standard,
      endpoint: model.endpoint,
      model: model.model,
      dimensions: model.dimensions,
      context_limit: contextLimitOf(model.contextLimit),
      description: textOrNull(model.description),
    },
  }
}

type ModelValues = NonNullable<ReturnType<typeof modelValues>['values']>
const FIELDS = ['kind', 'api_standard', 'endpoint', 'model', 'dimensions', 'context_limit', 'description'] as const
const differingFields = (stored: Record<string, unknown>, values: Record<string, unknown>, fields: readonly string[]) => fields.filter((f) => stored[f] !== values[f])

/** Source definition id → llmbase definition id. `_system`'s are matched to ours by handle. */
export async function importDefinitions(ctx: ImportContext, definitions: SourceDefinition[], users: Map<string, UserRef>, standards: Map<string, string>): Promise<Map<number, number>> {
  const { report } = ctx
  const existing = await target.listDefinitions(ctx.db)
  const find = (ownerId: number, handle: string) => existing.find((d) => d.owner_id === ownerId && d.handle === handle)
  const handleOf = mapOwnedHandles(definitions)
  const mapped = new Map<number, number>()
  const toInsert: Array<{ source: number; ownerId: number; handle: string; values: ModelValues & { is_public: boolean } }> = []
  for (const definition of definitions) {
    const label = `${definition.owner}/${definition.handle}`
    const owner = users.get(definition.owner)
    const handle = handleOf(definition)
    const model = modelValues(definition, standards)
    const problem = !owner ? `its owner ${definition.owner} was not imported` : 'problem' in handle ? handle.problem : model.problem
    if (problem || !owner || 'problem' in handle || !model.values) {
      report.problem('definitions', 'skipped', label, problem ?? 'it cannot be imported')
      continue
    }
    const values = { ...model.values, is_public: definition.isPublic }
    const found = find(owner.id, handle.handle)
    if (found) {
      mapped.set(definition.id, found.id)
      // The global definitions are llmbase's own: matching the handle is enough.
      const differs = owner.handle === SYSTEM_USER ? [] : differingFields(found, values, [...FIELDS, 'is_public'])
      if (differs.length === 0) report.count('definitions', 'unchanged')
      else report.problem('definitions', 'differs', label, `llmbase's ${owner.handle}/${handle.handle} has other ${differs.join(', ')}`)
      continue
    }
    toInsert.push({ source: definition.id, ownerId: owner.id, handle: handle.handle, values })
    report.count('definitions', 'new')
    if (ctx.dryRun) mapped.set(definition.id, ctx.plannedId())
  }
  await writeInBatches(ctx, 'definitions', toInsert, async (tx, d) => {
    const saved = await upsertDefinition(tx, d.ownerId, d.handle, { ...d.values, prices: null })
    mapped.set(d.source, saved.id)
  })
  return mapped
}

/** An imported instance as the steps after it need it. */
export interface InstanceRef {
  id: number
  ownerId: number
  label: string
  dimensions: number
}

/**
 * Source instance id → llmbase instance, for every instance whose projects may be bound to it.
 * Provider keys are re-encrypted under our keyring (legacy-keys.ts); an instance imported
 * earlier without its key (the old encryption key was wrong or missing) gets it now.
 */
export async function importInstances(
  ctx: ImportContext,
  instances: SourceInstance[],
  users: Map<string, UserRef>,
  standards: Map<string, string>,
  definitions: Map<number, number>,
): Promise<Map<number, InstanceRef>> {
  const { report } = ctx
  const existing = await target.listInstances(ctx.db)
  const handleOf = mapOwnedHandles(instances)
  const mapped = new Map<number, InstanceRef>()
  const toInsert: Array<{ source: number; ref: Omit<InstanceRef, 'id'>; handle: string; values: ModelValues; definitionId: number | null; key: ReturnType<typeof carryKey> }> = []
  const toAddKey: Array<{ id: number; key: { ciphertext: Buffer; keyId: string } }> = []
  for (const instance of instances) {
    const label = `${instance.owner}/${instance.handle}`
    const owner = users.get(instance.owner)
    const handle = handleOf(instance)
    const model = modelValues(instance, standards)
    const problem = !owner
      ? `its owner ${instance.owner} was not imported`
      : owner.handle === SYSTEM_USER
        ? '_system owns definitions, not instances'
        : 'problem' in handle
          ? handle.problem
          : model.problem
    if (problem || !owner || 'problem' in handle || !model.values) {
      report.problem('instances', 'skipped', label, `${problem ?? 'it cannot be imported'}; the projects bound to it are skipped too`)
      continue
    }
    const values = model.values
    const key = carryKey(instance, ctx.oldKey, ctx.keyring)
    const name = `${owner.handle}/${handle.handle}`
    report.key(name, key.status, key.from)
    const definitionId = instance.definitionId === null ? null : (definitions.get(instance.definitionId) ?? null)
    if (instance.definitionId !== null && definitionId === null) {
      report.problem('instances', 'note', label, 'the definition it was made from was not imported; it is imported without that link')
    }
    const ref = { ownerId: owner.id, label: name, dimensions: values.dimensions }
    const found = existing.find((i) => i.owner_id === owner.id && i.handle === handle.handle)
    if (found) {
      const differs = differingFields(found, values, FIELDS)
      const hasKey = found.api_key_ciphertext !== null || found.api_key_plaintext !== null
      const stored = readStoredKey(ctx.keyring, found)
      const addsKey = !hasKey && key.sealed !== null
      if (addsKey && key.sealed) toAddKey.push({ id: found.id, key: key.sealed })
      if (hasKey && key.plaintext !== null && stored !== null && stored !== key.plaintext) differs.push('provider key')
      if (differs.length > 0) report.problem('instances', 'differs', label, `llmbase's ${name} has other ${differs.join(', ')}`)
      else report.count('instances', addsKey ? 'completed' : 'unchanged')
      if (found.dimensions === values.dimensions) mapped.set(instance.id, { id: found.id, ...ref })
      continue
    }
    toInsert.push({ source: instance.id, ref, handle: handle.handle, values, definitionId, key })
    report.count('instances', 'new')
    if (ctx.dryRun) mapped.set(instance.id, { id: ctx.plannedId(), ...ref })
  }
  await writeInBatches(ctx, 'instances', toInsert, async (tx, i) => {
    const created = await insertInstance(tx, {
      ...i.values,
      cache_ttl_seconds: null,
      prices: null,
      owner_id: i.ref.ownerId,
      handle: i.handle,
      definition_id: i.definitionId,
      api_key_ciphertext: i.key.sealed?.ciphertext ?? null,
      api_key_key_id: i.key.sealed?.keyId ?? null,
    })
    mapped.set(i.source, { id: created.id, ...i.ref })
  })
  await writeInBatches(ctx, 'instance keys', toAddKey, (tx, k) => updateInstance(tx, k.id, {}, k.key))
  return mapped
}
