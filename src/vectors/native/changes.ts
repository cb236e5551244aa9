import { sql } from 'kysely'
import type { Executor } from '../../db/database.js'
import { prepared } from '../../db/prepared.js'

/**
 * What the native engine reads from PostgreSQL, which stays the only source of truth: a
 * project's change numbers (migration 0006), its rows in pages, and what changed after a
 * given number. Vectors come in pgvector's binary format (`vector_send`), which both kinds of
 * storage return.
 */
export interface ProjectHead {
  /** The project's last change number: every write takes the next one. */
  seq: number
  /** The change number of the last time the project was emptied. */
  clearedSeq: number
  /** Tells a project from a later one that got the same id (after a reset). */
  createdAt: string
}

export async function readHead(db: Executor, projectId: number): Promise<ProjectHead | null> {
  const row = await prepared(
    db
      .selectFrom('projects')
      .select(['vector_seq as seq', 'vectors_cleared_seq as clearedSeq', sql<string>`(extract(epoch from created_at) * 1000000)::bigint::text`.as('createdAt')])
      .where('id', '=', projectId),
  ).executeTakeFirst()
  return row ?? null
}

export interface ChangedRow {
  id: number
  text_id: string
  vector: Buffer
  seq: number
}

/** Rows with `id` above `afterId` whose last change is at most `upTo`, in id order: a full load reads these page by page. */
export const readPage = (db: Executor, projectId: number, afterId: number, upTo: number, limit: number): Promise<ChangedRow[]> =>
  db
    .selectFrom('embeddings')
    .select(['id', 'text_id', sql<Buffer>`vector_send(vector)`.as('vector'), 'change_seq as seq'])
    .where('project_id', '=', projectId)
    .where('id', '>', afterId)
    .where('change_seq', '<=', upTo)
    .orderBy('id')
    .limit(limit)
    .execute()

/**
 * Rows written and ids deleted with a change number in (`after`, `upTo`]. A row changed again
 * after `upTo` is not among them; the next catch-up brings its newer version.
 */
export async function readChanges(db: Executor, projectId: number, after: number, upTo: number) {
  const written = await db
    .selectFrom('embeddings')
    .select(['id', 'text_id', sql<Buffer>`vector_send(vector)`.as('vector'), 'change_seq as seq'])
    .where('project_id', '=', projectId)
    .where('change_seq', '>', after)
    .where('change_seq', '<=', upTo)
    .execute()
  const deleted = await db
    .selectFrom('embedding_deletions')
    .select(['embedding_id as id', 'change_seq as seq'])
    .where('project_id', '=', projectId)
    .where('change_seq', '>', after)
    .where('change_seq', '<=', upTo)
    .execute()
  return { written, deleted }
}
