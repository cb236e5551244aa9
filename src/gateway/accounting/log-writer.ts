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

/**
 * Writes the request log (`llm_requests`, `llm_responses`) in batches, off the request path:
 * a call adds its rows to memory and returns; a timer writes what has gathered. A database
 * that is slow or down therefore never slows a gateway call, and a burst of calls costs a
 * few multi-row inserts instead of one transaction each.
 */
export class RequestLogWriter {
  private pending: Array<{ request: RequestRow; responses: ResponseRow[] }> = []
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
    if (this.pending.length > MAX_PENDING) {
      this.pending.shift()
      this.dropped += 1
    }
  }

  /** Writes everything recorded so far (tests and shutdown wait on it). */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing.then(() => this.flush())
    if (this.pending.length === 0) return Promise.resolve()
    this.flushing = this.write().finally(() => {
      this.flushing = null
    })
    return this.flushing
  }

  private async write() {
    while (this.pending.length > 0) {
      const batch = this.pending.slice(0, BATCH)
      try {
        await this.db.transaction().execute(async (trx) => {
          await trx.insertInto('llm_requests').values(batch.map((entry) => entry.request)).execute()
          const responses = batch.flatMap((entry) => entry.responses.map((row) => ({ ...row, llm_request_id: entry.request.id })))
          for (let start = 0; start < responses.length; start += BATCH) {
            await trx.insertInto('llm_responses').values(responses.slice(start, start + BATCH)).execute()
          }
        })
        this.pending.splice(0, batch.length)
      } catch (error) {
        // Kept for the next tick; a batch the database refuses outright (a user deleted
        // meanwhile) would block the rest, so after a refusal the rows go one at a time.
        this.logger.warn({ err: error, rows: batch.length }, 'could not write the gateway request log; will retry')
        if (batch.length > 1) await this.writeOneByOne(batch)
        return
      }
    }
    if (this.dropped > 0) {
      this.logger.warn({ dropped: this.dropped }, 'gateway request log rows were dropped while the database was unavailable')
      this.dropped = 0
    }
  }

  private async writeOneByOne(batch: Array<{ request: RequestRow; responses: ResponseRow[] }>) {
    for (const entry of batch) {
      try {
        await this.db.transaction().execute(async (trx) => {
          await trx.insertInto('llm_requests').values(entry.request).execute()
          if (entry.responses.length > 0) {
            await trx.insertInto('llm_responses').values(entry.responses.map((row) => ({ ...row, llm_request_id: entry.request.id }))).execute()
          }
        })
        this.pending.splice(this.pending.indexOf(entry), 1)
      } catch (error) {
        if (isConnectionError(error)) return
        this.logger.warn({ err: error }, 'a gateway request log row was refused by the database and dropped')
        this.pending.splice(this.pending.indexOf(entry), 1)
      }
    }
  }

  async close() {
    clearInterval(this.timer)
    if (this.pruneTimer) clearInterval(this.pruneTimer)
    await this.flush()
  }
}
