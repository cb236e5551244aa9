import { sql } from 'kysely'
import { LRUCache } from 'lru-cache'
import type { Logger } from 'pino'
import type { Database } from '../../db/database.js'
import type { PgvectorOptions } from './engine.js'
import { indexDefinition, indexName, MAX_INDEXED_DIMENSIONS } from './sql.js'

/** Advisory-lock class for index builds, so that two servers never build one index twice. */
const BUILD_LOCK_CLASS = 4_711_002

type IndexRow = { state: 'building' | 'ready' | 'failed'; dimensions: number; rows_at_build: number; error: string | null }

/**
 * Builds each large project's HNSW index: a partial index over the project's rows, made once
 * the project holds more rows than are searched exactly, after writes have paused for
 * `buildDelayMs` (an index is built far faster over loaded rows than row by row during a
 * load). State lives in `vector_indexes`, so every server sees it, and a build cut short by a
 * restart is resumed.
 *
 * On the embedded database a build runs on its only connection: other queries wait for it
 * (about 2 minutes per 100k × 384 rows, see docs/performance.md), while HTTP keeps answering.
 * On a PostgreSQL server it runs CONCURRENTLY on a connection of its own.
 */
export class IndexMaintainer {
  private readonly timers = new Map<number, NodeJS.Timeout>()
  private readonly building = new Map<number, Promise<void>>()
  /** Searches ask on every request; the answer is kept a few seconds. */
  private readonly known = new LRUCache<number, { row: IndexRow | null }>({ max: 10_000, ttl: 5_000 })
  private closed = false

  constructor(
    private readonly database: Database,
    private readonly options: PgvectorOptions,
    private readonly logger: Logger,
  ) {}

  async find(projectId: number): Promise<IndexRow | null> {
    const cached = this.known.get(projectId)
    if (cached) return cached.row
    const row = await this.database.db
      .selectFrom('vector_indexes')
      .select(['state', 'dimensions', 'rows_at_build', 'error'])
      .where('project_id', '=', projectId)
      .executeTakeFirst()
    this.known.set(projectId, { row: row ?? null })
    return row ?? null
  }

  async isReady(projectId: number, dimensions: number): Promise<boolean> {
    const row = await this.find(projectId)
    return row?.state === 'ready' && row.dimensions === dimensions
  }

  schedule(projectId: number): void {
    if (this.closed) return
    clearTimeout(this.timers.get(projectId))
    const timer = setTimeout(() => {
      this.timers.delete(projectId)
      void this.build(projectId)
    }, this.options.buildDelayMs)
    timer.unref()
    this.timers.set(projectId, timer)
  }

  /** Builds the project's index if it needs one; resolves when done (or when there is nothing to do). */
  build(projectId: number): Promise<void> {
    const running = this.building.get(projectId)
    if (running) return running
    const work = this.buildNow(projectId).finally(() => this.building.delete(projectId))
    this.building.set(projectId, work)
    return work
  }

  private async buildNow(projectId: number): Promise<void> {
    const project = await sql<{ count: number; dimensions: number | null }>`
      select p.embedding_count::int as count, i.dimensions
      from projects p left join llm_instances i on i.id = p.instance_id where p.id = ${projectId}`.execute(this.database.db)
    const info = project.rows[0]
    if (!info?.dimensions || info.count <= this.options.exactSearchMaxRows || info.dimensions > MAX_INDEXED_DIMENSIONS) return
    this.known.delete(projectId)
    const existing = await this.find(projectId)
    if (existing?.state === 'ready' && existing.dimensions === info.dimensions) return

    const client = await this.database.pool.connect()
    try {
      const locked = await client.query<{ locked: boolean }>('select pg_try_advisory_lock($1, $2::int) as locked', [BUILD_LOCK_CLASS, projectId])
      if (!locked.rows[0]?.locked) return // another server builds it
      try {
        const started = performance.now()
        await client.query(`drop index if exists ${indexName(projectId)}`)
        await client.query(
          `insert into vector_indexes (project_id, index_name, dimensions, state, rows_at_build)
           values ($1, $2, $3, 'building', $4)
           on conflict (project_id) do update set index_name = excluded.index_name, dimensions = excluded.dimensions,
             state = 'building', rows_at_build = excluded.rows_at_build, error = null, started_at = now(), finished_at = null`,
          [projectId, indexName(projectId), info.dimensions, info.count],
        )
        this.logger.info({ project_id: projectId, rows: info.count, dimensions: info.dimensions }, 'building the vector index')
        const concurrently = this.database.kind === 'postgres'
        const definition = indexDefinition(projectId, info.dimensions, { m: this.options.m, efConstruction: this.options.efConstruction, concurrently })
        // The HNSW graph is built in memory when it fits; 100k × 384 needs about 170 MB.
        await client.query("set maintenance_work_mem = '512MB'")
        try {
          await client.query(definition)
        } finally {
          await client.query('reset maintenance_work_mem')
        }
        await client.query("update vector_indexes set state = 'ready', finished_at = now() where project_id = $1", [projectId])
        this.logger.info({ project_id: projectId, seconds: Math.round((performance.now() - started) / 100) / 10 }, 'vector index ready')
      } catch (error) {
        this.logger.error({ err: error, project_id: projectId }, 'building the vector index failed; searches stay exact')
        await client
          .query("update vector_indexes set state = 'failed', error = $2, finished_at = now() where project_id = $1", [projectId, 'the index build failed; see the server log'])
          .catch(() => {})
      } finally {
        await client.query('select pg_advisory_unlock($1, $2::int)', [BUILD_LOCK_CLASS, projectId]).catch(() => {})
        this.known.delete(projectId)
      }
    } finally {
      client.release()
    }
  }

  /** Drops the project's index (the project is being deleted or emptied). */
  async drop(projectId: number): Promise<void> {
    clearTimeout(this.timers.get(projectId))
    this.timers.delete(projectId)
    await this.building.get(projectId)?.catch(() => {})
    await sql`drop index if exists ${sql.raw(indexName(projectId))}`.execute(this.database.db)
    await this.database.db.deleteFrom('vector_indexes').where('project_id', '=', projectId).execute()
    this.known.delete(projectId)
  }

  /**
   * At start: drops indexes whose project is gone (its owner was deleted, which removes
   * projects without passing here), and schedules every large project without a ready index
   * (after a restart, or a crash mid-build).
   */
  async resume(): Promise<void> {
    const orphans = await sql<{ indexname: string }>`
      select indexname from pg_indexes
      where tablename = 'embeddings' and indexname ~ '^embeddings_hnsw_p[0-9]+$'
        and substring(indexname from 18)::bigint not in (select id from projects)`.execute(this.database.db)
    for (const { indexname } of orphans.rows) await sql`drop index if exists ${sql.raw(indexname)}`.execute(this.database.db)
    const { rows } = await sql<{ id: number }>`
      select p.id from projects p join llm_instances i on i.id = p.instance_id
      left join vector_indexes v on v.project_id = p.id
      where p.embedding_count > ${this.options.exactSearchMaxRows} and i.dimensions <= ${MAX_INDEXED_DIMENSIONS}
        and (v.state is null or v.state = 'building' or v.dimensions <> i.dimensions)`.execute(this.database.db)
    for (const { id } of rows) this.schedule(id)
  }

  async close(): Promise<void> {
    this.closed = true
    for (const timer of this.timers.values()) clearTimeout(timer)
    this.timers.clear()
  }
}
