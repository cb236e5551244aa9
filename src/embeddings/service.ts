import type { Executor } from '../db/database.js'
import { AppError } from '../http/errors.js'
import type { Caller } from '../identity/caller.js'
import { compileMetadataSchema, describeSchemaErrors, mergeMetadata } from '../projects/metadata.js'
import type { ProjectLookup } from '../projects/lookup.js'
import type { ProjectView } from '../projects/queries.js'
import { getVisibleProject, type ProjectRole, requireProjectRole } from '../projects/service.js'
import { firstNonFinite } from '../vectors/codec.js'
import type { VectorEngine } from '../vectors/engine.js'
import * as q from './queries.js'
import type { EmbeddingInput, EmbeddingRecord } from './schemas.js'
import { textIdCandidates } from './text-id.js'

/**
 * Writing and reading a project's embeddings. A batch is checked whole before anything is
 * written and lands in one transaction: all of it or none (the reference API wrote the items
 * before a bad one). Errors repeat the reference's messages, which clients match on, and name
 * the failing item's index.
 */
export interface EmbeddingsContext {
  db: Executor
  caller: Caller
  engine: VectorEngine
  /** Given to reads only (see the routes): writes check access and the schema afresh. */
  lookup?: ProjectLookup | undefined
}

export const WRITERS: readonly ProjectRole[] = ['owner', 'admin', 'editor']

/** A project bound to an instance, which says the dimensions of its vectors. */
export type WritableProject = ProjectView & { instance_id: number; dimensions: number; instance_handle: string; instance_owner: string }

/** A project the caller may write embeddings into, with its instance's dimensions. */
export async function getWritableProject(ctx: EmbeddingsContext, ownerHandle: string, handle: string) {
  const { project, role } = await getVisibleProject(ctx, ownerHandle, handle)
  requireProjectRole(role, WRITERS, project, 'write its embeddings')
  if (project.instance_id === null || project.dimensions === null) {
    throw new AppError('invalid_embedding', `project ${project.owner}/${project.handle} has no LLM service instance; bind one with PUT /v1/projects/${project.owner}/${project.handle} and "instance_handle" (or "llm_service_instance_id") before uploading`)
  }
  return project as WritableProject
}

/**
 * Checks one record against the project, in the reference API's order; returns the problem or
 * null. A record without a vector (to be computed from its text) is checked up to the vector.
 */
export function checkRecord(project: WritableProject, item: EmbeddingInput): { message: string; field: string } | null {
  const named = item.instance_handle ?? item.llm_service_handle
  if (named !== undefined) {
    const [first, second] = named.toLowerCase().split('/')
    const handle = second ?? first
    const owner = second !== undefined ? first : item.instance_owner?.toLowerCase()
    if (handle !== project.instance_handle || (owner !== undefined && owner !== project.instance_owner)) {
      return {
        field: 'instance_handle',
        message: `Instance handle '${named}' for embedding with text_id '${item.text_id}' does not match the instance handle '${project.instance_handle}' connected to project '${project.owner}/${project.handle}'`,
      }
    }
  }
  const prefix = `Dimension validation failed for input ${item.text_id}: `
  if (item.vector_dim !== undefined && item.vector_dim !== project.dimensions) {
    return {
      field: 'vector_dim',
      message: `${prefix}vector dimension mismatch: embedding declares ${item.vector_dim} dimensions but LLM service instance '${project.instance_handle}' expects ${project.dimensions} dimensions`,
    }
  }
  if (item.vector === undefined) return null
  if (item.vector_dim !== undefined && item.vector.length !== item.vector_dim) {
    return {
      field: 'vector',
      message: `${prefix}vector length mismatch for text_id '${item.text_id}': actual vector has ${item.vector.length} elements but vector_dim declares ${item.vector_dim}`,
    }
  }
  if (item.vector.length !== project.dimensions) {
    return {
      field: 'vector',
      message: `${prefix}vector dimension mismatch: embedding has ${item.vector.length} dimensions but LLM service instance '${project.instance_handle}' expects ${project.dimensions} dimensions`,
    }
  }
  const bad = firstNonFinite(item.vector)
  if (bad >= 0) return { field: `vector[${bad}]`, message: `${prefix}vector value ${bad} is not a finite 32-bit float` }
  return null
}

/** What is wrong with records of a batch, by index; the first one is the error's detail. */
export class BatchRejected extends AppError {
  constructor(
    code: 'invalid_embedding' | 'invalid_metadata',
    readonly problems: Array<{ index: number; field: string; message: string }>,
    location: string,
  ) {
    super(code, (problems[0] as { message: string }).message, {
      errors: problems.slice(0, 100).map((p) => ({ location: `${location}[${p.index}].${p.field}`, message: p.message })),
    })
  }
}

/** Rejects a batch holding records that do not fit the project, listing every one of them. */
export function checkBatch(project: WritableProject, items: EmbeddingInput[], location: string) {
  const recordProblems = items.flatMap((item, index) => {
    const problem = checkRecord(project, item)
    return problem ? [{ index, ...problem }] : []
  })
  if (recordProblems.length > 0) throw new BatchRejected('invalid_embedding', recordProblems, location)
}

/**
 * Writes a batch: checks every record, merges metadata into what is stored (the reference's
 * shallow merge: null deletes a key), checks the result against the project's schema, and
 * upserts all rows in one transaction. Any problem rejects the whole batch, listing every
 * bad record. Returns the text ids in the order sent.
 */
export async function writeBatch(ctx: EmbeddingsContext, project: WritableProject, items: EmbeddingRecord[], location = 'body.embeddings') {
  checkBatch(project, items, location)
  const schema = project.metadata_schema === null ? null : compileMetadataSchema(project.metadata_schema)
  if (schema && 'problem' in schema) throw new AppError('invalid_metadata_schema', `the project's metadata schema is not usable: ${schema.problem}`)
  if (!schema) {
    // Nothing to check after the merge, so the database merges (one statement per 1,000 rows).
    // An id sent twice is written in rounds, each id once per round, so that the second
    // update merges into the first exactly as if they had come in two requests.
    const rounds = occurrenceRounds(items)
    await ctx.db.transaction().execute(async (tx) => {
      const seq = await q.nextChangeSeq(tx, project.id)
      await forEachRound(rounds, (round) => q.upsertEmbeddings(tx, project.id, project.dimensions, round.map(toWrite), { merge: true, seq }))
    })
  } else {
    await ctx.db.transaction().execute(async (tx) => {
      const seq = await q.nextChangeSeq(tx, project.id)
      const stored = await q.lockExisting(tx, project.id, [...new Set(items.map((item) => item.text_id))])
      const rows = new Map<string, q.EmbeddingWrite>()
      const metadataProblems: Array<{ index: number; field: string; message: string }> = []
      items.forEach((item, index) => {
        const previous = rows.get(item.text_id) ?? stored.get(item.text_id)
        const hasMetadata = item.metadata !== undefined && item.metadata !== null
        const metadata = !previous ? (hasMetadata ? item.metadata : null) : hasMetadata ? mergeMetadata(previous.metadata, item.metadata) : previous.metadata
        // The reference leaves stored metadata unchecked when an update brings none.
        if (hasMetadata || !previous) {
          const reason =
            metadata === null || metadata === undefined
              ? 'metadata is required when project has a metadata schema defined'
              : schema.validate(metadata)
                ? null
                : describeSchemaErrors(schema.validate.errors ?? [])
          if (reason) metadataProblems.push({ index, field: 'metadata', message: `metadata validation failed for text_id '${item.text_id}': ${reason}` })
        }
        const text = item.text === undefined || item.text === null || item.text === '' ? (previous?.text ?? null) : item.text
        rows.set(item.text_id, { text_id: item.text_id, text, vector: item.vector, metadata })
      })
      if (metadataProblems.length > 0) throw new BatchRejected('invalid_metadata', metadataProblems, location)
      await q.upsertEmbeddings(tx, project.id, project.dimensions, [...rows.values()], { merge: false, seq })
    })
  }
  ctx.engine.projectChanged(project.id)
  return items.map((item) => item.text_id)
}

export async function listEmbeddings(ctx: EmbeddingsContext, ownerHandle: string, handle: string, page: { limit: number; offset: number }) {
  const { project } = await getVisibleProject(ctx, ownerHandle, handle)
  return (await q.listEmbeddings(ctx.db, project.id, page)).map((row) => toEmbeddingResponse(project, row))
}

const embeddingNotFound = (project: ProjectView, textId: string) =>
  new AppError('embedding_not_found', `no embeddings found for user ${project.owner}, project ${project.handle}, id ${textId}.`)

export async function getEmbedding(ctx: EmbeddingsContext, ownerHandle: string, handle: string, textId: string) {
  const { project } = await getVisibleProject(ctx, ownerHandle, handle)
  const row = await q.findEmbedding(ctx.db, project.id, textIdCandidates(textId))
  if (!row) throw embeddingNotFound(project, textId)
  return { project, row }
}

export async function deleteEmbedding(ctx: EmbeddingsContext, ownerHandle: string, handle: string, textId: string) {
  const { project, role } = await getVisibleProject(ctx, ownerHandle, handle)
  requireProjectRole(role, WRITERS, project, 'delete its embeddings')
  const removed = await ctx.db.transaction().execute(async (tx) => {
    const row = await q.findEmbedding(tx, project.id, textIdCandidates(textId))
    if (!row) return 0
    const count = await q.deleteEmbedding(tx, project.id, row.text_id, await q.nextChangeSeq(tx, project.id))
    await q.recordWrite(tx, project.id, -count)
    return count
  })
  if (removed === 0) throw embeddingNotFound(project, textId)
  ctx.engine.projectChanged(project.id)
}

export async function deleteAllEmbeddings(ctx: EmbeddingsContext, ownerHandle: string, handle: string) {
  const { project, role } = await getVisibleProject(ctx, ownerHandle, handle)
  requireProjectRole(role, WRITERS, project, 'delete its embeddings')
  await ctx.engine.projectCleared(project.id)
  await ctx.db.transaction().execute(async (tx) => {
    const count = await q.deleteAllEmbeddings(tx, project.id, await q.nextChangeSeq(tx, project.id))
    await q.recordWrite(tx, project.id, -count)
  })
}

/** A stored record as the reference API returns it; absent text and metadata are left out (D8). */
const toWrite = (item: EmbeddingRecord): q.EmbeddingWrite => ({ text_id: item.text_id, text: item.text ?? null, vector: item.vector, metadata: item.metadata ?? null })

/** Splits items into rounds in which every text_id occurs once, keeping their order. */
function occurrenceRounds(items: EmbeddingRecord[]): EmbeddingRecord[][] {
  const rounds: EmbeddingRecord[][] = []
  const seen = new Map<string, number>()
  for (const item of items) {
    const round = seen.get(item.text_id) ?? 0
    seen.set(item.text_id, round + 1)
    ;(rounds[round] ??= []).push(item)
  }
  return rounds
}

async function forEachRound<T>(rounds: T[], work: (round: T) => Promise<void>) {
  for (const round of rounds) await work(round)
}

export function toEmbeddingResponse(project: ProjectView, row: q.StoredEmbedding) {
  return {
    text_id: row.text_id,
    user_handle: project.owner,
    project_handle: project.handle,
    project_id: project.id,
    instance_handle: project.instance_handle,
    instance_owner: project.instance_owner,
    ...(row.text !== null ? { text: row.text } : {}),
    vector: row.vector,
    vector_dim: row.dimensions,
    ...(row.metadata !== null && row.metadata !== undefined ? { metadata: row.metadata } : {}),
  }
}
