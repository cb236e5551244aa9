import type { Insertable } from 'kysely'
import type { Logger } from 'pino'
import type { Executor } from '../../db/database.js'
import { isConnectionError } from '../../db/errors.js'
import type { LlmRequestsTable, LlmResponsesTable } from '../../db/tables.js'

export type RequestRow = Insertable<LlmRequestsTable>
export type ResponseRow = Omit<Insertable<LlmResponsesTable>, 'llm_request_id'>

/** Rows kept while the database cannot take them; beyond this the oldest are dropped (and counted). */
const MAX_PENDING = 50_000
/** Rows per insert statement (well under PostgreSQL's 65,535 parameters). */
const BATCH = 500

type Entry = { request: RequestRow; responses: ResponseRow[] }

/**
 * The rows waiting to be written, oldest first. Dropping the oldest when full moves a head
 * index (compacted now and then) where `Array.shift` moved up to 50,000 rows per call; a batch
 * is taken out while it is written, so that a drop meanwhile cannot remove rows that were not.
 */
class PendingRows {
  private rows: Entry[] = []
  private head = 0

  get size() {
    return this.rows.length - this.head
  }

  push(entry: Entry) {
    this.rows.push(entry)
  }

  dropOldest() {
    this.head += 1
    this.compact()
  }

  take(count: number): Entry[] {
    const batch = this.rows.slice(this.head, this.head + count)
    this.head += batch.length
    this.compact()
    return batch
  }

  /** Returns rows that could not be written to the front, for the next attempt (rare: the database refused). */
  putBack(batch: Entry[]) {
    this.rows.splice(this.head, 0, ...batch)
  }

  private compact() {
    if (this.head > 1024 && this.head * 2 > this.rows.length) {
      this.rows = this.rows.slice(this.head)
      this.head = 0
    }
  }
}

/**
 * Writes the request log (`llm_requests`, `llm_responses`) in batches, off the request path:
 * a call adds its rows to memory and returns; a timer writes what has gathered. A database
 * that is slow or down therefore never slows a gateway call, and a burst of calls costs a
 * few multi-row inserts instead of one transaction each.
 */
export class RequestLogWriter {
  private readonly pending = new PendingRows()
  private flushing: Promise<void> | null = null
  private dropped = 0
  private readonly timer: NodeJS.Timeout
  private readonly pruneTimer: NodeJS.Timeout | null = null

  constructor(
    private readonly db: Executor,
    private readonly logger: Logger,
    intervalMs: number,
    retentionDays = 0,
  ) {
    this.timer = setInterval(() => void this.flush(), intervalMs)
    this.timer.unref()
    if (retentionDays > 0) {
      this.pruneTimer = setInterval(() => void this.prune(retentionDays), 3_600_000)
      this.pruneTimer.unref()
    }
  }

  /**
   * Deletes calls older than the retention, a few thousand rows per statement so that no
   * statement holds locks for long (their attempts go with them by the foreign key).
   */
  async prune(retentionDays: number) {
    try {
      for (;;) {
        const deleted = await this.db
          .deleteFrom('llm_requests')
          .where('id', 'in', (eb) =>
            eb.selectFrom('llm_requests').select('id').where('created_at', '<', new Date(Date.now() - retentionDays * 86_400_000)).limit(5_000),
          )
          .executeTakeFirst()
        if (Number(deleted.numDeletedRows) < 5_000) break
      }
    } catch (error) {
      this.logger.warn({ err: error }, 'could not delete old gateway request log rows')
    }
  }

  record(request: RequestRow, responses: ResponseRow[]) {
    this.pending.push({ request, responses })
    this.keepWithinLimit()
  }

  private keepWithinLimit() {
    while (this.pending.size > MAX_PENDING) {
      this.pending.dropOldest()
      this.dropped += 1
    }
  }

  /** Writes everything recorded so far (tests and shutdown wait on it). */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing.then(() => this.flush())
    if (this.pending.size === 0) return Promise.resolve()
    this.flushing = this.write().finally(() => {
      this.flushing = null
    })
    return this.flushing
  }

  private async write() {
    while (this.pending.size > 0) {
      const batch = this.pending.take(BATCH)
      try {
        await this.db.transaction().execute(async (trx) => {
          await trx.insertInto('llm_requests').values(batch.map((entry) => entry.request)).execute()
          const responses = batch.flatMap((entry) => entry.responses.map((row) => ({ ...row, llm_request_id: entry.request.id })))
          for (let start = 0; start < responses.length; start += BATCH) {
            await trx.insertInto('llm_responses').values(responses.slice(start, start + BATCH)).execute()
          }
        })
      } catch (error) {
        // Kept for the next tick; a batch the database refuses outright (a user deleted
        // meanwhile) would block the rest, so after a refusal the rows go one at a time.
        this.logger.warn({ err: error, rows: batch.length }, 'could not write the gateway request log; will retry')
        this.pending.putBack(batch.length > 1 ? await this.writeOneByOne(batch) : batch)
        this.keepWithinLimit()
        return
      }
    }
    if (this.dropped > 0) {
      this.logger.warn({ dropped: this.dropped }, 'gateway request log rows were dropped while the database was unavailable')
      this.dropped = 0
    }
  }

  /** Writes a refused batch row by row, dropping rows the database refuses; returns those left when it went away. */
  private async writeOneByOne(batch: Entry[]): Promise<Entry[]> {
    for (const [index, entry] of batch.entries()) {
      try {
        await this.db.transaction().execute(async (trx) => {
          await trx.insertInto('llm_requests').values(entry.request).execute()
          if (entry.responses.length > 0) {
            await trx.insertInto('llm_responses').values(entry.responses.map((row) => ({ ...row, llm_request_id: entry.request.id }))).execute()
          }
        })
      } catch (error) {
        if (isConnectionError(error)) return batch.slice(index)
        this.logger.warn({ err: error }, 'a gateway request log row was refused by the database and dropped')
      }
    }
    return []
  }

  async close() {
    clearInterval(this.timer)
    if (this.pruneTimer) clearInterval(this.pruneTimer)
    await this.flush()
  }
}
