import type { Static } from 'typebox'
import type { Executor } from '../db/database.js'
import { AppError, errors } from '../http/errors.js'
import type { Caller } from '../identity/caller.js'
import { checkComputedVector, type Embedder } from './computed.js'
import { findEmbedding } from './queries.js'
import { usableBy } from '../registry/queries/instances.js'
import { textIdCandidates } from './text-id.js'
import type { ProjectLookup } from '../projects/lookup.js'
import type { ProjectView } from '../projects/queries.js'
import { getVisibleProject } from '../projects/service.js'
import { firstNonFinite } from '../vectors/codec.js'
import type { SearchRequest, VectorEngine } from '../vectors/engine.js'
import { parseFilter } from '../vectors/filter.js'
import type { SearchQuery } from './similarity-schemas.js'

/** Similarity search, by a stored record or by a vector, through the configured engine. */
export interface SearchContext {
  db: Executor
  caller: Caller
  engine: VectorEngine
  lookup: ProjectLookup
  /** Computes the query vector of a search by text. */
  embed: Embedder
}

type Query = Static<typeof SearchQuery>

/** The reference API checks the pairing first, before looking anything up. */
function exclusionOf(query: Query) {
  if (query.metadata_path !== undefined && query.metadata_value === undefined) throw new AppError('invalid_search', 'metadata_path is set but metadata_value is not')
  if (query.metadata_value !== undefined && query.metadata_path === undefined) throw new AppError('invalid_search', 'metadata_value is set but metadata_path is not')
  return query.metadata_path !== undefined ? { key: query.metadata_path, value: query.metadata_value as string } : undefined
}

function baseRequest(project: ProjectView & { dimensions: number }, query: Query): Omit<SearchRequest, 'vector'> {
  const include = new Set((query.include ?? '').split(',').filter(Boolean))
  return {
    project: { id: project.id, dimensions: project.dimensions, embeddingCount: project.embedding_count },
    limit: Math.min(query.count, query.limit),
    offset: query.offset,
    threshold: query.threshold,
    excludeMetadata: exclusionOf(query),
    filter: [],
    include: { text: include.has('text'), metadata: include.has('metadata') },
  }
}

const respond = (project: ProjectView, results: Awaited<ReturnType<VectorEngine['search']>>) => ({
  user_handle: project.owner,
  project_handle: project.handle,
  results,
})

/** Neighbours of a stored record (never the record itself). */
export async function searchById(ctx: SearchContext, ownerHandle: string, handle: string, textId: string, query: Query) {
  exclusionOf(query)
  const { project } = await getVisibleProject(ctx, ownerHandle, handle)
  const row = await findEmbedding(ctx.db, project.id, textIdCandidates(textId))
  if (!row) throw new AppError('embedding_not_found', `no embeddings found for user ${project.owner}, project ${project.handle}, id ${textId}.`)
  const request = { ...baseRequest({ ...project, dimensions: row.dimensions }, query), vector: row.vector, excludeTextId: row.text_id }
  return respond(project, await ctx.engine.search(request))
}

/**
 * Embedding a query spends the provider key of the project's instance. Those who may write the
 * project may (they embed its records too); a reader, or anyone reading a public project, only
 * when the instance is theirs or shared with them: otherwise opening a project to readers
 * would open its owner's provider account to them.
 */
async function assertMayEmbedWith(ctx: SearchContext, role: string, instanceId: number, instanceName: string) {
  if (role === 'owner' || role === 'admin' || role === 'editor') return
  const userId = ctx.caller.kind === 'user' ? ctx.caller.userId : null
  const usable = userId !== null &&
    (await ctx.db.selectFrom('llm_instances as i').select('i.id').where('i.id', '=', instanceId).where(usableBy(userId)).executeTakeFirst()) !== undefined
  if (!usable) {
    if (ctx.caller.kind === 'anonymous') {
      throw new AppError('unauthorized', 'computing a vector from text calls the project\'s model, which is accounted to a user: send a user API key, or send the vector', {
        headers: { 'www-authenticate': 'Bearer' },
      })
    }
    throw errors.forbidden(`searching by text computes the vector with instance ${instanceName}, which you may not use; send the vector, or ask its owner to share the instance`)
  }
}

/** A search by vector takes the vector or a text to compute it from: one of them, never both. */
function oneQuery(body: { vector?: number[] | undefined; text?: string | undefined }) {
  if (body.vector !== undefined && body.text !== undefined) {
    throw new AppError('validation_failed', 'send either vector or text, not both', { errors: [{ location: 'body.text', message: 'must be absent when vector is sent' }] })
  }
  if (body.vector === undefined && body.text === undefined) {
    throw new AppError('validation_failed', 'send either vector or text', { errors: [{ location: 'body', message: 'expected required property vector or text to be present' }] })
  }
}

/**
 * Neighbours of a vector that is not stored, optionally filtered by metadata. Given text, the
 * vector is what the project's instance computes from it; the search is then the same.
 */
export async function searchByVector(
  ctx: SearchContext, ownerHandle: string, handle: string, body: { vector?: number[] | undefined; text?: string | undefined; filter?: unknown }, query: Query,
) {
  oneQuery(body)
  exclusionOf(query)
  const { conditions, issues } = parseFilter(body.filter)
  if (issues.length > 0) throw errors.validation(issues)
  const { project, role } = await getVisibleProject(ctx, ownerHandle, handle)
  if (project.dimensions === null || project.instance_id === null) throw new AppError('invalid_search', `project ${project.owner}/${project.handle} does not have an associated LLM service instance; bind one with PUT /v1/projects/${project.owner}/${project.handle} and "instance_handle" (or "llm_service_instance_id")`)
  let vector: number[]
  if (body.text !== undefined) {
    await assertMayEmbedWith(ctx, role, project.instance_id, `${project.instance_owner}/${project.instance_handle}`)
    const [computed] = await ctx.embed(project.instance_id, [body.text])
    vector = checkComputedVector(computed, `${project.instance_owner}/${project.instance_handle}`, project.dimensions, 'the query text')
  } else {
    vector = body.vector as number[]
    if (vector.length !== project.dimensions) {
      throw new AppError('invalid_search', `vector dimension mismatch: expected ${project.dimensions} dimensions, got ${vector.length}`)
    }
    const bad = firstNonFinite(vector)
    if (bad >= 0) throw errors.validation([{ location: `body.vector[${bad}]`, message: 'must be a finite 32-bit float' }])
  }
  const request = { ...baseRequest({ ...project, dimensions: project.dimensions }, query), vector, filter: conditions }
  return respond(project, await ctx.engine.search(request))
}
