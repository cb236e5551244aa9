import { sql } from 'kysely'
import type { Config } from '../config.js'
import { JOB_EVENTS, type JobEvent, type TransitionHook } from '../jobs/types.js'

/** The job events an endpoint may subscribe to: all of them. */
export { JOB_EVENTS, type JobEvent }

/** The job type that sends deliveries; its own transitions raise no events (no loops). */
export const DELIVER_JOB_TYPE = 'webhook.deliver'

/** Attempts of a `webhook.deliver` job: the first one and one per delay of the retry schedule. */
export const deliverAttempts = (config: Pick<Config, 'jobs'>) => config.jobs.webhookRetryScheduleMs.length + 1

/**
 * The outbox, as the queue's transition hook: common table expressions that, in the same
 * statement as a job's state change, write one delivery per endpoint that wants the event and
 * one `webhook.deliver` job per delivery. Written beside the change rather than after it, an
 * event can neither be lost (the process dies between the two) nor invented (the change rolled
 * back).
 *
 * Reads the queue's CTE `moved` (the changed jobs) and defines `delivered` and `enqueued` (the
 * delivery jobs), as the hook's contract asks (jobs/types.ts). The body is built here, once,
 * and stored: every attempt sends and signs exactly these bytes.
 */
export function webhookOutbox(attempts: number): TransitionHook {
  return (event: JobEvent, at: Date) => sql`
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
    enqueued as (
      insert into jobs (owner_id, type, payload, max_attempts)
      select owner_id, ${DELIVER_JOB_TYPE}, jsonb_build_object('delivery_id', id), ${attempts}::int
        from delivered
      returning id
    )`
}
