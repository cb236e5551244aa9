import type pg from 'pg'
import type { Executor } from '../../db/database.js'
import { type EmbeddingWrite, nextChangeSeq, upsertEmbeddings } from '../../embeddings/queries.js'
import { decodeVector } from '../../vectors/codec.js'
import { type ImportContext, sameJson } from './context.js'
import type { ProjectTarget } from './projects.js'
import type { SourceLayout } from './schema.js'
import { countEmbeddings, readEmbeddings, type SourceEmbedding } from './source.js'
import { findRecords, type StoredRecord } from './target.js'

/**
 * The records, a page of `batchSize` at a time, each page in one transaction, written with the
 * same upsert as an upload (`upsertEmbeddings`), so vectors land in whichever storage the
 * database has and the project's count and change number move as they do for an upload.
 * A record already there as it is in the source is skipped; one that llmbase holds otherwise is
 * left as it is. dhamps-vdb's vectors are half precision: every such value is a float32 too,
 * so they are stored exactly as dhamps-vdb returned them.
 */
const MAX_TEXT_ID = 1000

interface Group {
  projectId: number
  dimensions: number
  label: string
  rows: EmbeddingWrite[]
  textIds: Set<string>
}

/** Why a source record cannot go into its project, or null. */
function recordProblem(row: SourceEmbedding, project: Extract<ProjectTarget, { id: number }>, instanceLabels: Map<number, string>): string | null {
  if (project.dimensions === null || project.sourceInstanceId === null) return 'its project has no instance'
  if (row.instanceId !== null && row.instanceId !== project.sourceInstanceId) {
    return `it was made with instance ${instanceLabels.get(row.instanceId) ?? `#${row.instanceId}`}, not with the project's instance (an llmbase project holds one model's vectors)`
  }
  if (row.textId === null || row.textId.length === 0) return 'it has no text_id'
  if (row.textId.length > MAX_TEXT_ID) return `its text_id is longer than ${MAX_TEXT_ID} characters`
  if (row.vector.length !== project.dimensions || row.vectorDim !== row.vector.length) {
    return `its vector has ${row.vector.length} dimensions (vector_dim ${row.vectorDim}); the project's instance has ${project.dimensions}`
  }
  return null
}

const sameRecord = (stored: StoredRecord, row: EmbeddingWrite) => {
  if (stored.text !== row.text || !sameJson(stored.metadata, row.metadata)) return false
  const vector = decodeVector(stored.vector)
  return vector.length === row.vector.length && vector.every((value, i) => Math.fround(value) === Math.fround(row.vector[i] as number))
}

export async function importEmbeddings(
  ctx: ImportContext,
  source: pg.ClientBase,
  layout: SourceLayout,
  projects: Map<number, ProjectTarget>,
  instanceLabels: Map<number, string>,
): Promise<void> {
  const { report } = ctx
  ctx.progress.step('embeddings', await countEmbeddings(source))
  for await (const page of readEmbeddings(source, layout, ctx.batchSize)) {
    const groups = new Map<number, Group>()
    for (const row of page) {
      const project = projects.get(row.projectId)
      const item = `${project?.label ?? `project #${row.projectId}`} ${row.textId ?? `#${row.id}`}`
      if (!project || 'skipped' in project) {
        report.problem('embeddings', 'skipped', item, project?.skipped ?? 'its project was not found')
        continue
      }
      const problem = recordProblem(row, project, instanceLabels)
      if (problem) {
        report.problem('embeddings', 'skipped', item, problem)
        continue
      }
      const group = groups.get(project.id) ?? { projectId: project.id, dimensions: project.dimensions as number, label: project.label, rows: [], textIds: new Set<string>() }
      if (group.textIds.has(row.textId as string)) {
        report.problem('embeddings', 'skipped', item, 'its text_id occurs twice in the project')
        continue
      }
      group.textIds.add(row.textId as string)
      group.rows.push({ text_id: row.textId as string, text: row.text, vector: row.vector, metadata: row.metadata ?? null })
      groups.set(project.id, group)
    }
    const write = async (db: Executor) => {
      for (const group of groups.values()) await writeGroup(ctx, db, group)
    }
    if (ctx.dryRun) await write(ctx.db)
    else await ctx.db.transaction().execute(write)
    ctx.progress.advance(page.length)
  }
}

async function writeGroup(ctx: ImportContext, db: Executor, group: Group) {
  // The change number first: it locks the project row, so no upload slips in between the
  // look at what is stored and the write (see nextChangeSeq).
  const seq = group.projectId > 0 && !ctx.dryRun ? await nextChangeSeq(db, group.projectId) : 0
  const stored = group.projectId > 0 ? await findRecords(db, group.projectId, group.rows.map((r) => r.text_id)) : []
  const byTextId = new Map(stored.map((r) => [r.text_id, r]))
  const fresh: EmbeddingWrite[] = []
  for (const row of group.rows) {
    const found = byTextId.get(row.text_id)
    if (!found) fresh.push(row)
    else if (sameRecord(found, row)) ctx.report.count('embeddings', 'unchanged')
    else ctx.report.problem('embeddings', 'differs', `${group.label} ${row.text_id}`, 'llmbase holds another text, metadata or vector under this text_id')
  }
  ctx.report.count('embeddings', 'new', fresh.length)
  if (fresh.length > 0 && !ctx.dryRun) await upsertEmbeddings(db, group.projectId, group.dimensions, fresh, { merge: false, seq })
}
