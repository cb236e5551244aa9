import { sql } from 'kysely'
import type { Logger } from 'pino'
import type { VectorSettings } from '../../config.js'
import type { Database } from '../../db/database.js'
import { encodeVector } from '../codec.js'
import type { IndexStatus, SearchHit, SearchProject, SearchRequest, VectorEngine } from '../engine.js'
import { IndexMaintainer } from './indexes.js'
import { projectWhere, searchConditions } from '../filter-sql.js'
import { distanceSql, MAX_INDEXED_DIMENSIONS } from './sql.js'

/**
 * - `exactSearchMaxRows`: projects (and filtered subsets) up to this many rows are searched
 *   exactly: recall 1.0, and at 20k × 384 about 15 ms in the embedded database. Larger
 *   projects get an HNSW index.
 * - `efSearch`: HNSW candidates per search (see docs/performance.md for the recall it gives).
 * - `m`, `efConstruction`: HNSW build parameters.
 * - `buildDelayMs`: quiet time after the last write before an index is built, so that bulk
 *   loads are not slowed by index upkeep.
 */
export type PgvectorOptions = VectorSettings

/**
 * Session settings every database connection gets (see `openDatabase`): ef_search, and
 * iterative index scans, which keep reading the index until enough rows pass a filter
 * (pgvector 0.8); unfiltered searches are unaffected by the latter. Set per session rather
 * than per query: a transaction with SET LOCAL would cost three more round trips per search.
 */
export const pgvectorSessionSettings = (options: PgvectorOptions): Record<string, string> => ({
  'hnsw.ef_search': String(options.efSearch),
  'hnsw.iterative_scan': 'relaxed_order',
})

/**
 * Search with pgvector inside the database. Small projects, and filters that leave few rows,
 * are searched exactly; large projects through a partial HNSW index of their own, with
 * iterative index scans so that filtered searches still fill `limit` when enough rows match.
 */
export class PgvectorEngine implements VectorEngine {
  readonly name = 'pgvector'
  readonly description: string
  private readonly indexes: IndexMaintainer

  constructor(
    private readonly database: Database,
    private readonly options: PgvectorOptions,
    logger: Logger,
  ) {
    this.indexes = new IndexMaintainer(database, options, logger)
    this.description = `pgvector ${database.capabilities.pgvectorVersion ?? ''}`.trim()
  }

  /** Resumes index work that a restart interrupted. */
  async start(): Promise<void> {
    await this.indexes.resume()
  }

  async search(request: SearchRequest): Promise<SearchHit[]> {
    const { project } = request
    const filters = searchConditions(request)
    const where = projectWhere(project.id, filters)
    const indexed = await this.useIndex(project, where, filters.length > 0)
    const distance = distanceSql(project.dimensions, indexed, encodeVector(request.vector))
    const columns = [
      sql`text_id`,
      sql`${distance} as distance`,
      ...(request.include.text ? [sql`text`] : []),
      ...(request.include.metadata ? [sql`metadata`] : []),
    ]
    const { rows } = await sql<{ text_id: string; distance: number; text?: string | null; metadata?: unknown }>`
      select ${sql.join(columns)} from embeddings where ${where}
      order by distance limit ${request.limit + request.offset}`.execute(this.database.db)
    // Iterative index scans may return neighbours slightly out of order; the threshold cuts
    // a sorted list, which keeps it out of the scan (a WHERE on the distance would make the
    // index read on to its end looking for rows that can never come).
    rows.sort((a, b) => a.distance - b.distance)
    return rows
      .slice(request.offset)
      .map((row) => ({
        id: row.text_id,
        similarity: 1 - row.distance,
        ...(request.include.text ? { text: row.text ?? null } : {}),
        ...(request.include.metadata ? { metadata: row.metadata ?? null } : {}),
      }))
      .filter((hit) => hit.similarity >= request.threshold)
  }

  /** The index pays off only when it exists and the rows to consider are many. */
  private async useIndex(project: SearchProject, where: ReturnType<typeof sql.join>, filtered: boolean): Promise<boolean> {
    if (project.embeddingCount <= this.options.exactSearchMaxRows || project.dimensions > MAX_INDEXED_DIMENSIONS) return false
    if (!(await this.indexes.isReady(project.id, project.dimensions))) return false
    if (!filtered) return true
    // Few rows pass the filter: reading them all is exact and cheaper than walking the graph.
    const limit = this.options.exactSearchMaxRows + 1
    const { rows } = await sql<{ n: number }>`
      select count(*)::int as n from (select 1 from embeddings where ${where} limit ${limit}) as matching`.execute(this.database.db)
    return (rows[0]?.n ?? 0) > this.options.exactSearchMaxRows
  }

  projectChanged(projectId: number): void {
    this.indexes.schedule(projectId)
  }

  projectCleared(projectId: number): Promise<void> {
    return this.indexes.drop(projectId)
  }

  async indexStatus(project: SearchProject): Promise<IndexStatus> {
    const index = await this.indexes.find(project.id)
    const ready = index?.state === 'ready' && index.dimensions === project.dimensions
    const search = ready && project.embeddingCount > this.options.exactSearchMaxRows && project.dimensions <= MAX_INDEXED_DIMENSIONS ? 'index' : 'exact'
    return {
      state: index?.state ?? 'none',
      search,
      rows_at_build: index?.rows_at_build ?? null,
      error: index?.error ?? null,
    }
  }

  close(): Promise<void> {
    return this.indexes.close()
  }
}
