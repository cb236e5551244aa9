import type { Static } from 'typebox'
import type { Executor } from '../db/database.js'
import { AppError, errors } from '../http/errors.js'
import type { Caller } from '../identity/caller.js'
import { findEmbedding } from '../embeddings/queries.js'
import { textIdCandidates } from '../embeddings/text-id.js'
import type { ProjectLookup } from '../projects/lookup.js'
import type { ProjectView } from '../projects/queries.js'
import { getVisibleProject } from '../projects/service.js'
import { firstNonFinite } from './codec.js'
import type { SearchRequest, VectorEngine } from './engine.js'
import { parseFilter } from './filter.js'
import type { SearchQuery } from './schemas.js'

/** Similarity search, by a stored record or by a vector, through the configured engine. */
export interface SearchContext {
  db: Executor
  caller: Caller
  engine: VectorEngine
  lookup: ProjectLookup
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

/** Neighbours of a vector that is not stored, optionally filtered by metadata. */
export async function searchByVector(ctx: SearchContext, ownerHandle: string, handle: string, body: { vector: number[]; filter?: unknown }, query: Query) {
  exclusionOf(query)
  const { conditions, issues } = parseFilter(body.filter)
  if (issues.length > 0) throw errors.validation(issues)
  const { project } = await getVisibleProject(ctx, ownerHandle, handle)
  if (project.dimensions === null) throw new AppError('invalid_search', 'project does not have an associated LLM service instance')
  if (body.vector.length !== project.dimensions) {
    throw new AppError('invalid_search', `vector dimension mismatch: expected ${project.dimensions} dimensions, got ${body.vector.length}`)
  }
  const bad = firstNonFinite(body.vector)
  if (bad >= 0) throw errors.validation([{ location: `body.vector[${bad}]`, message: 'must be a finite 32-bit float' }])
  const request = { ...baseRequest({ ...project, dimensions: project.dimensions }, query), vector: body.vector, filter: conditions }
  return respond(project, await ctx.engine.search(request))
}
