import { sql } from 'kysely'
import type { Executor } from '../db/database.js'
import type { DeliveryState, WebhookDeliveryRow, WebhookEndpointRow } from '../db/tables.js'
import { DELIVER_JOB_TYPE } from './outbox.js'

/** The SQL of webhook endpoints, deliveries and attempts. Services open transactions; these never commit. */

export interface EndpointValues {
  url: string
  description: string | null
  events: string[]
  secret_ciphertext: Buffer
  secret_key_id: string
}

export const insertEndpoint = (db: Executor, ownerId: number, values: EndpointValues, now: Date) =>
  db
    .insertInto('webhook_endpoints')
    .values({ owner_id: ownerId, ...values, created_at: now, updated_at: now })
    .returningAll()
    .executeTakeFirstOrThrow()

export const listEndpoints = (db: Executor, ownerId: number, page: { limit: number; offset: number }) =>
  db
    .selectFrom('webhook_endpoints')
    .selectAll()
    .where('owner_id', '=', ownerId)
    .orderBy('created_at')
    .orderBy('id')
    .limit(page.limit)
    .offset(page.offset)
    .execute()

export const findEndpoint = (db: Executor, ownerId: number, id: string): Promise<WebhookEndpointRow | undefined> =>
  db.selectFrom('webhook_endpoints').selectAll().where('owner_id', '=', ownerId).where('id', '=', id).executeTakeFirst()

/** What PATCH and rotate may change; the service decides which fields go together. */
export type EndpointChanges = Partial<{
  url: string
  description: string | null
  events: string[]
  enabled: boolean
  disabled_at: Date | null
  disabled_reason: string | null
  failing_since: Date | null
  secret_ciphertext: Buffer
  secret_key_id: string
}>

export const updateEndpoint = (db: Executor, ownerId: number, id: string, changes: EndpointChanges, now: Date) =>
  db
    .updateTable('webhook_endpoints')
    .set({ ...changes, updated_at: now })
    .where('owner_id', '=', ownerId)
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst()

/** Its deliveries and their attempts go with it (on delete cascade). */
export const deleteEndpoint = async (db: Executor, ownerId: number, id: string): Promise<boolean> => {
  const result = await db.deleteFrom('webhook_endpoints').where('owner_id', '=', ownerId).where('id', '=', id).executeTakeFirst()
  return Number(result.numDeletedRows) > 0
}

export const listDeliveries = (db: Executor, endpointId: string, query: { state?: DeliveryState | undefined; limit: number; offset: number }) => {
  let select = db.selectFrom('webhook_deliveries').selectAll().where('endpoint_id', '=', endpointId)
  if (query.state) select = select.where('state', '=', query.state)
  return select.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(query.limit).offset(query.offset).execute()
}

export const findDelivery = (db: Executor, endpointId: string, id: string): Promise<WebhookDeliveryRow | undefined> =>
  db.selectFrom('webhook_deliveries').selectAll().where('endpoint_id', '=', endpointId).where('id', '=', id).executeTakeFirst()

export const listAttempts = (db: Executor, deliveryId: string) =>
  db
    .selectFrom('webhook_attempts')
    .select(['attempt', 'started_at', 'duration_ms', 'status', 'error', 'response_excerpt'])
    .where('delivery_id', '=', deliveryId)
    .orderBy('attempt')
    .orderBy('id')
    .execute()

/**
 * Puts a delivery back to pending, keeping its count of attempts, if it is still in one of
 * `from`: a replay that raced with the delivery's own job changes nothing.
 */
export const reopenDelivery = (db: Executor, id: string, from: DeliveryState[], now: Date) =>
  db
    .updateTable('webhook_deliveries')
    .set({ state: 'pending', updated_at: now })
    .where('id', '=', id)
    .where('state', 'in', from)
    .returningAll()
    .executeTakeFirst()

/** The `webhook.deliver` job of a delivery that waits for its next attempt, if any. */
export const findWaitingDeliverJob = (db: Executor, ownerId: number, deliveryId: string) =>
  db
    .selectFrom('jobs')
    .select(['id', 'state'])
    .where('owner_id', '=', ownerId)
    .where('type', '=', DELIVER_JOB_TYPE)
    .where(sql<string>`payload ->> 'delivery_id'`, '=', deliveryId)
    .where('state', 'in', ['pending', 'failed', 'running'])
    .executeTakeFirst()

/** A delivery with what sending it needs from its endpoint. */
export const findDeliveryToSend = (db: Executor, id: string) =>
  db
    .selectFrom('webhook_deliveries as d')
    .innerJoin('webhook_endpoints as e', 'e.id', 'd.endpoint_id')
    .select([
      'd.id',
      'd.body',
      'd.state',
      'd.attempts',
      'e.id as endpoint_id',
      'e.url',
      'e.enabled',
      'e.secret_ciphertext',
      'e.secret_key_id',
    ])
    .where('d.id', '=', id)
    .executeTakeFirst()

/** Ends a delivery without a request (its endpoint was disabled, its secret unreadable). */
export const failDeliveryWithoutAttempt = (db: Executor, id: string, state: 'retrying' | 'permanently_failed', error: string, now: Date) =>
  db
    .updateTable('webhook_deliveries')
    .set({ state, last_error: error, updated_at: now })
    .where('id', '=', id)
    .where('state', '<>', 'succeeded')
    .execute()

export interface AttemptRecord {
  deliveryId: string
  startedAt: Date
  durationMs: number
  status: number | null
  error: string | null
  excerpt: string | null
  /** The receiver answered 2xx. */
  ok: boolean
  /** No attempt follows this one. */
  final: boolean
  /** The receiver answered 410 Gone: the endpoint is disabled at once. */
  gone: boolean
  /**
   * The delivery's attempt number of this job's first try. Counted back from the job's
   * attempts rather than by time, so clocks of other machines do not matter; a try that was
   * never recorded only widens the window, which errs towards keeping the endpoint.
   */
  runFirstAttempt: number
  /** Stored as the endpoint's disabled_reason if this attempt disables it. */
  disableReason: string
  now: Date
}

/**
 * Records one HTTP attempt in one statement: the attempt row (numbered on from the
 * delivery's count, which replays continue), the delivery's state, and the endpoint's
 * health. `failing_since` is the start of the endpoint's current run of failures (cleared by
 * any success); a final failure disables the endpoint only when that run began no later than
 * this delivery's own first attempt, that is when the endpoint answered nothing right during
 * the whole retry schedule (about 24 hours by default). A 410 disables it at once. Returns the
 * attempt number and whether the endpoint is still enabled (nothing if the delivery is gone).
 */
export async function recordAttempt(db: Executor, r: AttemptRecord): Promise<{ attempt: number; enabled: boolean } | undefined> {
  const state: DeliveryState = r.ok ? 'succeeded' : r.final || r.gone ? 'permanently_failed' : 'retrying'
  const runStart = sql`least(${r.startedAt}::timestamptz, (select min(a.started_at) from webhook_attempts a
                              where a.delivery_id = ${r.deliveryId} and a.attempt >= ${r.runFirstAttempt}::int))`
  const disable = sql`(${r.gone}::boolean or (${r.final && !r.ok}::boolean and coalesce(e.failing_since, ${r.startedAt}::timestamptz) <= ${runStart}))`
  const { rows } = await sql<{ attempt: number; enabled: boolean }>`
    with delivery as (
      update webhook_deliveries
         set attempts = attempts + 1, state = ${state}, last_status = ${r.status}, last_error = ${r.error},
             delivered_at = case when ${r.ok}::boolean then ${r.now}::timestamptz else delivered_at end,
             updated_at = ${r.now}
       where id = ${r.deliveryId}
      returning id, endpoint_id, attempts
    ),
    attempt as (
      insert into webhook_attempts (delivery_id, attempt, started_at, duration_ms, status, error, response_excerpt)
      select id, attempts, ${r.startedAt}, ${r.durationMs}, ${r.status}, ${r.error}, ${r.excerpt} from delivery
      returning attempt
    ),
    endpoint as (
      update webhook_endpoints e
         set failing_since = case when ${r.ok}::boolean then null else coalesce(e.failing_since, ${r.startedAt}::timestamptz) end,
             enabled = e.enabled and not ${disable},
             disabled_at = case when e.enabled and ${disable} then ${r.now}::timestamptz else e.disabled_at end,
             disabled_reason = case when e.enabled and ${disable} then ${r.disableReason}::text else e.disabled_reason end,
             updated_at = case when e.enabled and ${disable} then ${r.now}::timestamptz else e.updated_at end
        from delivery d
       where e.id = d.endpoint_id
      returning e.enabled
    )
    select (select attempt from attempt) as attempt, (select enabled from endpoint) as enabled`.execute(db)
  const row = rows[0]
  return row && row.attempt !== null ? row : undefined
}
