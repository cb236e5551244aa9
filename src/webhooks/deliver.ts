import { Type, type Static } from 'typebox'
import type { Config } from '../config.js'
import type { Executor } from '../db/database.js'
import { scheduledDelayMs } from '../jobs/backoff.js'
import { type ClaimedJob, type JobContext, JobFailure, type JobHandler, type JobType, PermanentJobError } from '../jobs/types.js'
import type { Keyring } from '../secrets/keyring.js'
import { UnknownKeyError } from '../secrets/keyring.js'
import { DELIVER_JOB_TYPE } from './outbox.js'
import * as q from './queries.js'
import { openSecret, signedHeaders } from './signing.js'
import { WebhookTransport } from './transport.js'

/** What the outbox writes into a delivery job: the delivery to send. */
const DeliverPayload = Type.Object({ delivery_id: Type.String({ format: 'uuid' }) }, { additionalProperties: false })
type DeliverPayload = Static<typeof DeliverPayload>

/**
 * The `webhook.deliver` job: one attempt to POST one stored delivery (docs/webhooks.md).
 *
 * The job's attempts are the delivery's tries: the queue retries it after the delays of
 * LLMBASE_WEBHOOK_RETRY_SCHEDULE, and its last failure leaves the delivery permanently failed.
 * Every try that reached the network is one row in webhook_attempts. A delivery is sent at
 * least once: a worker that dies between the receiver's 2xx and recording it leaves the job to
 * be retried, and the receiver sees the same webhook-id again (receivers deduplicate on it).
 * Once the success is recorded, no job sends that delivery again.
 */
export const deliverJob: JobType<DeliverJobDeps> = {
  type: DELIVER_JOB_TYPE,
  payload: DeliverPayload,
  handler: (deps) => deliverHandler(deps),
}

/** What the delivery job's handler uses. */
export interface DeliverJobDeps {
  config: Config
  db: Executor
  keyring: Keyring
}

function deliverHandler(deps: DeliverJobDeps): JobHandler<DeliverPayload> {
  const { config, db, keyring } = deps
  const schedule = config.jobs.webhookRetryScheduleMs
  const transport = new WebhookTransport(config, config.jobs.webhookTimeoutMs)

  async function attempt(job: ClaimedJob<DeliverPayload>, context: JobContext): Promise<unknown> {
    const deliveryId = job.payload.delivery_id
    const delivery = await q.findDeliveryToSend(db, deliveryId)
    // Deleted with its endpoint: nothing left to send, and nobody to tell.
    if (!delivery) return { skipped: 'the delivery no longer exists' }
    if (delivery.state === 'succeeded') return { skipped: 'the delivery has already succeeded' }
    if (!delivery.enabled) {
      await q.failDeliveryWithoutAttempt(db, delivery.id, 'permanently_failed', 'the endpoint is disabled; nothing was sent', new Date())
      throw new PermanentJobError(`endpoint ${delivery.endpoint_id} is disabled`, 'endpoint_disabled')
    }
    let secret: string
    try {
      secret = openSecret(keyring, delivery)
    } catch (error) {
      // An operator can fix this (ENCRYPTION_KEY_PREVIOUS), so the schedule keeps running.
      const problem = error instanceof UnknownKeyError ? 'unknown_key' : 'does_not_decrypt'
      const final = job.attempts >= job.maxAttempts
      await q.failDeliveryWithoutAttempt(db, delivery.id, final ? 'permanently_failed' : 'retrying', `the signing secret cannot be decrypted (${problem}); nothing was sent`, new Date())
      throw new JobFailure('the endpoint secret cannot be decrypted with the configured keys', 'secret_unreadable')
    }

    const startedAt = new Date()
    const timestamp = Math.floor(startedAt.getTime() / 1000)
    const headers = signedHeaders(secret, delivery.id, timestamp, delivery.body)
    const outcome = await transport.post(delivery.url, headers, delivery.body, context.signal)
    const durationMs = Date.now() - startedAt.getTime()

    const status = outcome.kind === 'response' ? outcome.status : null
    const ok = status !== null && status >= 200 && status < 300
    const gone = status === 410
    const error = outcome.kind === 'failed' ? outcome.error : ok ? null : describeStatus(status as number)
    const final = job.attempts >= job.maxAttempts
    const recorded = await q.recordAttempt(db, {
      deliveryId: delivery.id,
      startedAt,
      durationMs,
      status,
      error,
      excerpt: outcome.kind === 'response' ? outcome.excerpt : null,
      ok,
      final,
      gone,
      runFirstAttempt: delivery.attempts + 2 - job.attempts,
      disableReason: gone
        ? 'the endpoint answered 410 Gone'
        : `delivery ${delivery.id} failed all ${job.maxAttempts} attempts and the endpoint had no successful delivery since its failures began (last: ${error})`,
      now: new Date(),
    })
    context.logger[ok ? 'debug' : 'info']({ delivery: delivery.id, endpoint: delivery.endpoint_id, attempt: recorded?.attempt, status, error }, ok ? 'webhook delivered' : 'webhook attempt failed')
    if (ok) return { status, attempt: recorded?.attempt ?? null }
    if (gone) throw new PermanentJobError('the endpoint answered 410 Gone and was disabled', 'endpoint_gone')
    const retryAfter = outcome.kind === 'response' ? (outcome.retryAfterMs ?? undefined) : undefined
    throw new JobFailure(error ?? 'the delivery failed', status === null ? 'delivery_failed' : `http_${status}`, retryAfter)
  }

  return {
    type: DELIVER_JOB_TYPE,
    payload: DeliverPayload,
    run: attempt,
    retryDelayMs: (attempt) => scheduledDelayMs(attempt, schedule),
  }
}

function describeStatus(status: number): string {
  if (status >= 300 && status < 400) return `HTTP ${status}: redirects are not followed; give the final URL`
  return `HTTP ${status}`
}
