import { sql } from 'kysely'
import type { Executor } from '../db/database.js'
import { prepared } from '../db/prepared.js'
import { decodeVector, encodeVector } from '../vectors/codec.js'

export interface EmbeddingWrite {
  text_id: string
  text: string | null
  vector: readonly number[]
  metadata: unknown
}

export interface StoredEmbedding {
  text_id: string
  text: string | null
  vector: number[]
  dimensions: number
  metadata: unknown
}

/** Vectors are read in pgvector's binary format (see `decodeVector`), on either storage. */
const VECTOR_BYTES = sql<Buffer>`vector_send(vector)`.as('vector')
const decoded = <T extends { vector: Buffer }>(row: T): Omit<T, 'vector'> & { vector: number[] } => ({ ...row, vector: decodeVector(row.vector) })

/**
 * Starts a write to the project's embeddings: takes the project's next change number (see
 * migration 0006), which also locks the project row until the transaction ends, so writers of
 * one project take numbers in commit order. Every write transaction calls it first.
 */
export async function nextChangeSeq(tx: Executor, projectId: number): Promise<number> {
  const { rows } = await sql<{ seq: number }>`update projects set vector_seq = vector_seq + 1 where id = ${projectId} returning vector_seq as seq`.execute(tx)
  return rows[0]?.seq ?? 0
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
 * project's row count and last-write time in step, all in one statement per 1,000 rows.
 * `merge`: apply the update rule in the database (rows carry the values as sent); without
 * it, rows carry final values, merged by the caller. `seq`: from `nextChangeSeq`, in the same
 * transaction.
 */
export async function upsertEmbeddings(db: Executor, projectId: number, dimensions: number, rows: EmbeddingWrite[], options: { merge: boolean; seq: number }): Promise<void> {
  for (let start = 0; start < rows.length; start += ROWS_PER_STATEMENT) {
    const chunk = rows.slice(start, start + ROWS_PER_STATEMENT)
    const values = chunk.map(
      (row) =>
        sql`(${projectId}::bigint, ${row.text_id}::text, ${row.text}::text, ${encodeVector(row.vector)}::vector, ${dimensions}::int, ${row.metadata === undefined || row.metadata === null ? null : JSON.stringify(row.metadata)}::jsonb, ${options.seq}::bigint)`,
    )
    await sql`
      with written as (
        insert into embeddings (project_id, text_id, text, vector, dimensions, metadata, change_seq)
        values ${sql.join(values)}
        on conflict (project_id, text_id) do update set
          text = ${options.merge ? MERGED_TEXT : sql`excluded.text`},
          metadata = ${options.merge ? MERGED_METADATA : sql`excluded.metadata`},
          vector = excluded.vector, dimensions = excluded.dimensions, change_seq = excluded.change_seq, updated_at = now()
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

export const listEmbeddings = async (db: Executor, projectId: number, page: { limit: number; offset: number }): Promise<StoredEmbedding[]> =>
  (
    await db
      .selectFrom('embeddings')
      .select(['text_id', 'text', VECTOR_BYTES, 'dimensions', 'metadata'])
      .where('project_id', '=', projectId)
      .orderBy('text_id')
      .limit(page.limit)
      .offset(page.offset)
      .execute()
  ).map(decoded)

/** One page of the project in id order after `after`: export reads the project this way, in constant memory. */
export const pageAfter = async (db: Executor, projectId: number, after: string | null, limit: number): Promise<StoredEmbedding[]> => {
  let query = db.selectFrom('embeddings').select(['text_id', 'text', VECTOR_BYTES, 'dimensions', 'metadata']).where('project_id', '=', projectId)
  if (after !== null) query = query.where('text_id', '>', after)
  return (await query.orderBy('text_id').limit(limit).execute()).map(decoded)
}

/** The first of `candidates` that exists (see `textIdCandidates`). */
export async function findEmbedding(db: Executor, projectId: number, candidates: string[]): Promise<StoredEmbedding | undefined> {
  const rows = await prepared(
    db
      .selectFrom('embeddings')
      .select(['text_id', 'text', VECTOR_BYTES, 'dimensions', 'metadata'])
      .where('project_id', '=', projectId)
      .where('text_id', '=', sql<string>`any(${candidates}::text[])`),
  ).execute()
  const row = candidates.map((id) => rows.find((r) => r.text_id === id)).find((r) => r !== undefined)
  return row && decoded(row)
}

/** Deletes one record and leaves its id for engines that follow changes (`seq` from `nextChangeSeq`). */
export async function deleteEmbedding(db: Executor, projectId: number, textId: string, seq: number): Promise<number> {
  const { rows } = await sql<{ n: number }>`
    with gone as (delete from embeddings where project_id = ${projectId} and text_id = ${textId} returning id),
    noted as (insert into embedding_deletions (project_id, change_seq, embedding_id) select ${projectId}, ${seq}, id from gone)
    select count(*)::int as n from gone`.execute(db)
  return rows[0]?.n ?? 0
}

/** Empties the project; engines that follow changes start it afresh from `seq` (`nextChangeSeq`). */
export async function deleteAllEmbeddings(db: Executor, projectId: number, seq: number): Promise<number> {
  await sql`update projects set vectors_cleared_seq = ${seq} where id = ${projectId}`.execute(db)
  await sql`delete from embedding_deletions where project_id = ${projectId}`.execute(db)
  const result = await db.deleteFrom('embeddings').where('project_id', '=', projectId).executeTakeFirst()
  return Number(result.numDeletedRows)
}
