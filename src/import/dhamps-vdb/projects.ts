import { SYSTEM_USER } from '../../identity/handles.js'
import { parseMetadataSchemaInput } from '../../projects/metadata.js'
import { insertProject } from '../../projects/queries.js'
import { type ImportContext, sameJson, textOrNull, type UserRef, writeInBatches } from './context.js'
import { mapOwnedHandles } from './handles.js'
import type { InstanceRef } from './registry.js'
import type { SourceProject } from './source.js'
import * as target from './target.js'

/** Where a source project's records go, or why they do not. */
export type ProjectTarget =
  | { label: string; id: number; dimensions: number | null; sourceInstanceId: number | null }
  | { label: string; skipped: string }

const MAX_DESCRIPTION = 2000

/**
 * Projects, bound to their instance. dhamps-vdb let a project bind any user's instance;
 * llmbase needs the project's owner to own it or have it shared (deviation D6), so a project
 * bound to someone else's instance that is not shared with its owner is skipped: importing it
 * would let that owner use the other user's provider key.
 */
export async function importProjects(
  ctx: ImportContext,
  projects: SourceProject[],
  users: Map<string, UserRef>,
  instances: Map<number, InstanceRef>,
  instanceShares: Set<string>,
): Promise<Map<number, ProjectTarget>> {
  const { report } = ctx
  const existing = await target.listProjects(ctx.db)
  const handleOf = mapOwnedHandles(projects)
  const mapped = new Map<number, ProjectTarget>()
  const toInsert: Array<{ source: number; label: string; ownerId: number; handle: string; values: { description: string | null; instance_id: number | null; metadata_schema: string | null; public_read: boolean }; instance: InstanceRef | null; sourceInstanceId: number | null }> = []

  for (const project of projects) {
    const label = `${project.owner}/${project.handle}`
    const skip = (reason: string) => {
      report.problem('projects', 'skipped', label, `${reason}; its embeddings are skipped too`)
      mapped.set(project.id, { label, skipped: `its project ${label} was not imported` })
    }
    const owner = users.get(project.owner)
    if (!owner || owner.handle === SYSTEM_USER) {
      skip(`its owner ${project.owner} was not imported`)
      continue
    }
    const handle = handleOf(project)
    if ('problem' in handle) {
      skip(handle.problem)
      continue
    }
    const description = textOrNull(project.description)
    if (description !== null && description.length > MAX_DESCRIPTION) {
      skip(`its description is longer than ${MAX_DESCRIPTION} characters`)
      continue
    }
    const schema = parseMetadataSchemaInput(project.metadataScheme?.trim() ?? null)
    if ('problem' in schema) {
      skip(`its metadata schema ${schema.problem}; fix it in dhamps-vdb and import again`)
      continue
    }
    const instance = project.instanceId === null ? null : (instances.get(project.instanceId) ?? null)
    if (project.instanceId !== null && !instance) {
      skip('its instance was not imported')
      continue
    }
    if (instance && instance.ownerId !== owner.id && !instanceShares.has(`${instance.id}:${owner.id}`)) {
      skip(`it is bound to instance ${instance.label}, which ${owner.handle} neither owns nor has been given (llmbase does not allow that binding); share the instance with ${owner.handle} and import again`)
      continue
    }
    const values = {
      description,
      instance_id: instance?.id ?? null,
      metadata_schema: schema.schema === null ? null : JSON.stringify(schema.schema),
      public_read: project.publicRead,
    }
    const into = { label, dimensions: instance?.dimensions ?? null, sourceInstanceId: project.instanceId }
    const found = existing.find((p) => p.owner_id === owner.id && p.handle === handle.handle)
    if (found) {
      const differs = [
        found.description !== values.description && 'description',
        found.public_read !== values.public_read && 'public_read',
        !sameJson(found.metadata_schema, schema.schema) && 'metadata schema',
        found.instance_id !== values.instance_id && 'instance',
      ].filter((f): f is string => typeof f === 'string')
      if (differs.length === 0) report.count('projects', 'unchanged')
      else report.problem('projects', 'differs', label, `llmbase's ${owner.handle}/${handle.handle} has another ${differs.join(', ')}`)
      // Records go into it only while it is bound to the same instance: same model, same dimensions.
      if (found.instance_id === values.instance_id) mapped.set(project.id, { id: found.id, ...into })
      else mapped.set(project.id, { label, skipped: `llmbase's project ${owner.handle}/${handle.handle} is bound to another instance` })
      continue
    }
    toInsert.push({ source: project.id, label, ownerId: owner.id, handle: handle.handle, values, instance, sourceInstanceId: project.instanceId })
    report.count('projects', 'new')
    if (ctx.dryRun) mapped.set(project.id, { id: ctx.plannedId(), ...into })
  }
  await writeInBatches(ctx, 'projects', toInsert, async (tx, p) => {
    const created = await insertProject(tx, p.ownerId, p.handle, p.values)
    mapped.set(p.source, { label: p.label, id: created.id, dimensions: p.instance?.dimensions ?? null, sourceInstanceId: p.sourceInstanceId })
  })
  return mapped
}
