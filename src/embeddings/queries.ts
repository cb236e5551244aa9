import { sql } from 'kysely'
import type { Executor } from '../db/database.js'
import { encodeVector } from '../vectors/codec.js'

export interface EmbeddingWrite {
  text_id: string
  text: string | null
  vector: readonly number[]
  metadata: unknown
}

export interface StoredEmbedding {
  text_id: string
  text: string | null
  vector: string
  dimensions: number
  metadata: unknown
}

/** Rows per INSERT: 1,000 rows × 4 parameters stays far below PostgreSQL's 65,535. */
const ROWS_PER_STATEMENT = 1000

/** The stored text and metadata of the given ids, locked for the update that follows. */
export async function lockExisting(db: Executor, projectId: number, textIds: string[]) {
  const rows = await db
    .selectFrom('embeddings')
    .select(['text_id', 'text', 'metadata'])
    .where('project_id', '=', projectId)
    .where('text_id', '=', sql<string>`any(${textIds}::text[])`)
    .forUpdate()
    .execute()
  return new Map(rows.map((row) => [row.text_id, row]))
}

/**
 * Inserts or replaces rows, vectors as binary parameters (see `encodeVector`). Returns how
 * many rows are new, so that the project's count stays right.
 */
export async function upsertEmbeddings(db: Executor, projectId: number, dimensions: number, rows: EmbeddingWrite[]): Promise<number> {
  let inserted = 0
  for (let start = 0; start < rows.length; start += ROWS_PER_STATEMENT) {
    const chunk = rows.slice(start, start + ROWS_PER_STATEMENT)
    const values = chunk.map(
      (row) =>
        sql`(${projectId}::bigint, ${row.text_id}::text, ${row.text}::text, ${encodeVector(row.vector)}::vector, ${dimensions}::int, ${row.metadata === undefined || row.metadata === null ? null : JSON.stringify(row.metadata)}::jsonb)`,
    )
    const result = await sql<{ inserted: boolean }>`
      insert into embeddings (project_id, text_id, text, vector, dimensions, metadata)
      values ${sql.join(values)}
      on conflict (project_id, text_id) do update set
        text = excluded.text, vector = excluded.vector, dimensions = excluded.dimensions,
        metadata = excluded.metadata, updated_at = now()
      returning (xmax = 0) as inserted`.execute(db)
    inserted += result.rows.filter((r) => r.inserted).length
  }
  return inserted
}

/** Keeps the project's row count and last-write time in step with a write of its embeddings. */
export const recordWrite = (db: Executor, projectId: number, added: number) =>
  sql`update projects set embedding_count = embedding_count + ${added}, embeddings_updated_at = now() where id = ${projectId}`.execute(db)

export const listEmbeddings = (db: Executor, projectId: number, page: { limit: number; offset: number }): Promise<StoredEmbedding[]> =>
  db
    .selectFrom('embeddings')
    .select(['text_id', 'text', sql<string>`vector::text`.as('vector'), 'dimensions', 'metadata'])
    .where('project_id', '=', projectId)
    .orderBy('text_id')
    .limit(page.limit)
    .offset(page.offset)
    .execute()

/** One page of the project in id order after `after`: export reads the project this way, in constant memory. */
export const pageAfter = (db: Executor, projectId: number, after: string | null, limit: number): Promise<StoredEmbedding[]> => {
  let query = db
    .selectFrom('embeddings')
    .select(['text_id', 'text', sql<string>`vector::text`.as('vector'), 'dimensions', 'metadata'])
    .where('project_id', '=', projectId)
  if (after !== null) query = query.where('text_id', '>', after)
  return query.orderBy('text_id').limit(limit).execute()
}

/** The first of `candidates` that exists (see `textIdCandidates`). */
export async function findEmbedding(db: Executor, projectId: number, candidates: string[]): Promise<StoredEmbedding | undefined> {
  const rows = await db
    .selectFrom('embeddings')
    .select(['text_id', 'text', sql<string>`vector::text`.as('vector'), 'dimensions', 'metadata'])
    .where('project_id', '=', projectId)
    .where('text_id', '=', sql<string>`any(${candidates}::text[])`)
    .execute()
  return candidates.map((id) => rows.find((row) => row.text_id === id)).find((row) => row !== undefined)
}

export async function deleteEmbedding(db: Executor, projectId: number, textId: string): Promise<number> {
  const result = await db.deleteFrom('embeddings').where('project_id', '=', projectId).where('text_id', '=', textId).executeTakeFirst()
  return Number(result.numDeletedRows)
}

export async function deleteAllEmbeddings(db: Executor, projectId: number): Promise<number> {
  const result = await db.deleteFrom('embeddings').where('project_id', '=', projectId).executeTakeFirst()
  return Number(result.numDeletedRows)
}
