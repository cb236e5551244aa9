import { type RawBuilder, sql } from 'kysely'

/** The job events an endpoint may subscribe to. */
export const JOB_EVENTS = ['job.succeeded', 'job.failed', 'job.dead'] as const
export type JobEvent = (typeof JOB_EVENTS)[number]

/** The job type that sends deliveries; its own transitions raise no events (no loops). */
export const DELIVER_JOB_TYPE = 'webhook.deliver'

/**
 * The outbox: common table expressions that, in the same statement as a job's state change,
 * write one delivery per endpoint that wants the event and one `webhook.deliver` job per
 * delivery. Written beside the change rather than after it, an event can neither be lost (the
 * process dies between the two) nor invented (the change rolled back).
 *
 * Expects a preceding CTE `moved` returning the changed jobs (id, owner_id, type, state,
 * attempts, max_attempts, errors, progress_done, progress_total, webhook_url); defines
 * `delivered` and `delivery_jobs`. The body is built here, once, and stored: every attempt
 * sends and signs exactly these bytes.
 */
export function outboxCtes(event: JobEvent, at: Date, deliverAttempts: number): RawBuilder<unknown> {
  return sql`
    delivered as (
      insert into webhook_deliveries (endpoint_id, owner_id, event, job_id, body)
      select e.id, e.owner_id, ${event}, m.id,
             jsonb_build_object(
               'type', ${event}::text,
               'timestamp', ${at.toISOString()}::text,
               'data', jsonb_build_object(
                 'id', m.id, 'type', m.type, 'state', m.state, 'attempts', m.attempts,
                 'max_attempts', m.max_attempts, 'progress', jsonb_build_object('done', m.progress_done, 'total', m.progress_total),
                 'error', m.errors -> -1))::text
        from moved m
        join webhook_endpoints e
          on e.owner_id = m.owner_id and e.enabled
         and (${event}::text = any (e.events) or e.url = m.webhook_url)
       where m.type <> ${DELIVER_JOB_TYPE}
      returning id, owner_id
    ),
    delivery_jobs as (
      insert into jobs (owner_id, type, payload, max_attempts)
      select owner_id, ${DELIVER_JOB_TYPE}, jsonb_build_object('delivery_id', id), ${deliverAttempts}::int
        from delivered
      returning id
    )`
}
