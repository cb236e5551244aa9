import { sql } from 'kysely'
import type { Executor } from '../db/database.js'
import { prepared } from '../db/prepared.js'
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
 * The reference API's update rule, in SQL: text sent empty keeps the stored text; metadata sent
 * as an object is shallow-merged into the stored object (a key set to null is removed); other
 * metadata replaces it; metadata not sent keeps it.
 */
const MERGED_TEXT = sql`coalesce(nullif(excluded.text, ''), embeddings.text)`
const MERGED_METADATA = sql`case
  when excluded.metadata is null then embeddings.metadata
  when jsonb_typeof(excluded.metadata) = 'object' then (
    select coalesce(jsonb_object_agg(merged.key, merged.value), '{}'::jsonb)
    from jsonb_each(case when jsonb_typeof(embeddings.metadata) = 'object' then embeddings.metadata else '{}'::jsonb end || excluded.metadata) as merged
    where merged.value <> 'null'::jsonb)
  else excluded.metadata
end`

/**
 * Inserts or replaces rows, vectors as binary parameters (see `encodeVector`), and keeps the
 * project's row count and last-write time in step, all in one statement per 1,000 rows: a
 * batch into a project without a schema is one round trip and needs no transaction.
 * `merge`: apply the update rule in the database (rows carry the values as sent); without
 * it, rows carry final values, merged by the caller.
 */
export async function upsertEmbeddings(db: Executor, projectId: number, dimensions: number, rows: EmbeddingWrite[], options: { merge: boolean }): Promise<void> {
  for (let start = 0; start < rows.length; start += ROWS_PER_STATEMENT) {
    const chunk = rows.slice(start, start + ROWS_PER_STATEMENT)
    const values = chunk.map(
      (row) =>
        sql`(${projectId}::bigint, ${row.text_id}::text, ${row.text}::text, ${encodeVector(row.vector)}::vector, ${dimensions}::int, ${row.metadata === undefined || row.metadata === null ? null : JSON.stringify(row.metadata)}::jsonb)`,
    )
    await sql`
      with written as (
        insert into embeddings (project_id, text_id, text, vector, dimensions, metadata)
        values ${sql.join(values)}
        on conflict (project_id, text_id) do update set
          text = ${options.merge ? MERGED_TEXT : sql`excluded.text`},
          metadata = ${options.merge ? MERGED_METADATA : sql`excluded.metadata`},
          vector = excluded.vector, dimensions = excluded.dimensions, updated_at = now()
        returning (xmax = 0) as inserted)
      update projects set
        embedding_count = embedding_count + (select count(*) from written where inserted),
        embeddings_updated_at = now()
      where id = ${projectId}`.execute(db)
  }
}

/** Keeps the project's row count and last-write time in step with a deletion. */
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
  const rows = await prepared(
    db
      .selectFrom('embeddings')
      .select(['text_id', 'text', sql<string>`vector::text`.as('vector'), 'dimensions', 'metadata'])
      .where('project_id', '=', projectId)
      .where('text_id', '=', sql<string>`any(${candidates}::text[])`),
  ).execute()
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
