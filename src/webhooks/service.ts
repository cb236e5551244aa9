import type { Executor } from '../db/database.js'
import { getOwnUser as getOwnUserOf } from '../identity/service.js'
import type { UserRow, WebhookDeliveryRow, WebhookEndpointRow } from '../db/tables.js'
import { type EgressPolicy, endpointProblem } from '../egress/policy.js'
import { AppError, errors } from '../http/errors.js'
import type { Caller } from '../identity/caller.js'
import { SYSTEM_USER } from '../identity/handles.js'
import type { JobQueue } from '../jobs/queue.js'
import type { Keyring } from '../secrets/keyring.js'
import { DELIVER_JOB_TYPE, JOB_EVENTS } from './outbox.js'
import * as q from './queries.js'
import type { Delivery, DeliveryDetail, Endpoint, EndpointInput, EndpointPatch, EndpointWithSecret } from './schemas.js'
import { generateSecret, sealSecret } from './signing.js'

/** What every webhook operation needs: the database, who asks, and the server's parts. */
export interface WebhooksContext {
  db: Executor
  caller: Caller
  keyring: Keyring
  queue: JobQueue
  egress: EgressPolicy
  /** Attempts of a delivery job (outbox.ts, deliverAttempts). */
  deliverAttempts: number
}

/**
 * Endpoints belong to a user; the user and admins manage them. Anyone else gets the 404 of a
 * user that does not exist, whether it exists or not.
 */
export async function getOwner(ctx: Pick<WebhooksContext, 'db' | 'caller'>, handle: string): Promise<UserRow> {
  return getOwnUserOf(ctx, handle)
}

const endpointNotFound = (owner: string, id: string) =>
  new AppError('webhook_endpoint_not_found', `user ${owner} has no webhook endpoint ${id}`)

async function getEndpointRow(ctx: WebhooksContext, owner: UserRow, id: string): Promise<WebhookEndpointRow> {
  const row = await q.findEndpoint(ctx.db, owner.id, id)
  if (!row) throw endpointNotFound(owner.handle, id)
  return row
}

/**
 * The URL rules of instance endpoints (egress/policy.ts), checked again at every connection:
 * http(s) only, and no private destination the operator has not allowed, so that a webhook
 * cannot make the server call its own network. Credentials in the URL are refused too: the
 * URL is shown in every read, and the signature already proves who is calling.
 */
function checkUrl(url: string, egress: EgressPolicy) {
  let parsed: URL | undefined
  try {
    parsed = new URL(url)
  } catch {
    // endpointProblem names it.
  }
  if (parsed && (parsed.username || parsed.password)) {
    throw new AppError('endpoint_not_allowed', 'url must not contain credentials; receivers verify the webhook-signature header instead')
  }
  const problem = endpointProblem(url, egress)
  if (problem) throw new AppError('endpoint_not_allowed', `url ${problem}`)
}

export async function createEndpoint(ctx: WebhooksContext, ownerHandle: string, input: EndpointInput): Promise<EndpointWithSecret> {
  const owner = await getOwner(ctx, ownerHandle)
  if (owner.handle === SYSTEM_USER) throw errors.forbidden('nobody can act as _system, so it has no jobs to send events of')
  checkUrl(input.url, ctx.egress)
  const secret = generateSecret()
  const sealed = sealSecret(ctx.keyring, secret)
  const row = await q.insertEndpoint(ctx.db, owner.id, {
    url: input.url,
    description: input.description ?? null,
    events: input.events ?? [...JOB_EVENTS],
    secret_ciphertext: sealed.ciphertext,
    secret_key_id: sealed.keyId,
  }, new Date())
  return { ...toEndpoint(row, owner.handle), secret }
}

export async function listEndpoints(ctx: WebhooksContext, ownerHandle: string, page: { limit: number; offset: number }): Promise<Endpoint[]> {
  const owner = await getOwner(ctx, ownerHandle)
  const rows = await q.listEndpoints(ctx.db, owner.id, page)
  return rows.map((row) => toEndpoint(row, owner.handle))
}

export async function getEndpoint(ctx: WebhooksContext, ownerHandle: string, id: string): Promise<Endpoint> {
  const owner = await getOwner(ctx, ownerHandle)
  return toEndpoint(await getEndpointRow(ctx, owner, id), owner.handle)
}

export async function patchEndpoint(ctx: WebhooksContext, ownerHandle: string, id: string, patch: EndpointPatch): Promise<Endpoint> {
  const owner = await getOwner(ctx, ownerHandle)
  const current = await getEndpointRow(ctx, owner, id)
  const changes: q.EndpointChanges = {}
  const now = new Date()
  if (patch.url !== undefined && patch.url !== current.url) {
    checkUrl(patch.url, ctx.egress)
    changes.url = patch.url
    // The failures were another receiver's.
    changes.failing_since = null
  }
  if (patch.description !== undefined) changes.description = patch.description
  if (patch.events !== undefined) changes.events = patch.events
  if (patch.enabled === true && !current.enabled) {
    Object.assign(changes, { enabled: true, disabled_at: null, disabled_reason: null, failing_since: null })
  } else if (patch.enabled === false && current.enabled) {
    Object.assign(changes, { enabled: false, disabled_at: now, disabled_reason: 'disabled through the API' })
  }
  const row = await q.updateEndpoint(ctx.db, owner.id, id, changes, now)
  if (!row) throw endpointNotFound(owner.handle, id)
  return toEndpoint(row, owner.handle)
}

export async function deleteEndpoint(ctx: WebhooksContext, ownerHandle: string, id: string): Promise<void> {
  const owner = await getOwner(ctx, ownerHandle)
  if (!(await q.deleteEndpoint(ctx.db, owner.id, id))) throw endpointNotFound(owner.handle, id)
}

/**
 * A new secret, shown once. The old one stops signing at once: from the next attempt on,
 * deliveries carry only the new signature, and a receiver that still checks the old secret
 * fails them until it is updated, after which the retry schedule brings them through.
 */
export async function rotateSecret(ctx: WebhooksContext, ownerHandle: string, id: string): Promise<EndpointWithSecret> {
  const owner = await getOwner(ctx, ownerHandle)
  await getEndpointRow(ctx, owner, id)
  const secret = generateSecret()
  const sealed = sealSecret(ctx.keyring, secret)
  const row = await q.updateEndpoint(ctx.db, owner.id, id, { secret_ciphertext: sealed.ciphertext, secret_key_id: sealed.keyId }, new Date())
  if (!row) throw endpointNotFound(owner.handle, id)
  return { ...toEndpoint(row, owner.handle), secret }
}

export async function listDeliveries(
  ctx: WebhooksContext,
  ownerHandle: string,
  id: string,
  query: { state?: WebhookDeliveryRow['state'] | undefined; limit: number; offset: number },
): Promise<Delivery[]> {
  const owner = await getOwner(ctx, ownerHandle)
  const endpoint = await getEndpointRow(ctx, owner, id)
  return (await q.listDeliveries(ctx.db, endpoint.id, query)).map(toDelivery)
}

async function getDeliveryRow(ctx: WebhooksContext, endpoint: WebhookEndpointRow, deliveryId: string) {
  const delivery = await q.findDelivery(ctx.db, endpoint.id, deliveryId)
  if (!delivery) throw new AppError('webhook_delivery_not_found', `webhook endpoint ${endpoint.id} has no delivery ${deliveryId}`)
  return delivery
}

export async function getDelivery(ctx: WebhooksContext, ownerHandle: string, id: string, deliveryId: string): Promise<DeliveryDetail> {
  const owner = await getOwner(ctx, ownerHandle)
  const endpoint = await getEndpointRow(ctx, owner, id)
  const delivery = await getDeliveryRow(ctx, endpoint, deliveryId)
  const attempts = await q.listAttempts(ctx.db, delivery.id)
  return {
    ...toDelivery(delivery),
    body: delivery.body,
    attempt_log: attempts.map((a) => ({
      attempt: a.attempt,
      started_at: a.started_at.toISOString(),
      duration_ms: a.duration_ms,
      status: a.status,
      error: a.error,
      response_excerpt: a.response_excerpt,
    })),
  }
}

/**
 * Sends a delivery again with a fresh set of attempts (its count goes on). An ended delivery
 * (succeeded or permanently failed) goes back to pending with a new `webhook.deliver` job; one
 * waiting for a retry is tried now. The delivery keeps its id, so a receiver that saw it
 * before recognises it. A disabled endpoint gets nothing: it is re-enabled first.
 */
export async function replayDelivery(ctx: WebhooksContext, ownerHandle: string, id: string, deliveryId: string): Promise<Delivery> {
  const owner = await getOwner(ctx, ownerHandle)
  const endpoint = await getEndpointRow(ctx, owner, id)
  const delivery = await getDeliveryRow(ctx, endpoint, deliveryId)
  if (!endpoint.enabled) {
    throw new AppError('conflict', `webhook endpoint ${endpoint.id} is disabled; re-enable it (PATCH with {"enabled": true}) before replaying its deliveries`)
  }
  let reopenStates: WebhookDeliveryRow['state'][] = ['succeeded', 'permanently_failed']
  if (delivery.state === 'pending' || delivery.state === 'retrying') {
    const job = await q.findWaitingDeliverJob(ctx.db, owner.id, delivery.id)
    if (job?.state === 'failed') {
      await ctx.queue.retry(owner.id, job.id)
      return toDelivery(delivery)
    }
    if (job) throw new AppError('conflict', `delivery ${delivery.id} is being sent now (state ${delivery.state}); wait for it to end before replaying it`)
    // Its job was cancelled or deleted: nothing would ever send it, so it may start over.
    reopenStates = ['pending', 'retrying']
  }
  const reopened = await ctx.db.transaction().execute(async (tx) => {
    const row = await q.reopenDelivery(tx, delivery.id, reopenStates, new Date())
    if (!row) return undefined
    await ctx.queue.enqueue({ ownerId: owner.id, type: DELIVER_JOB_TYPE, payload: { delivery_id: row.id }, maxAttempts: ctx.deliverAttempts }, tx)
    return row
  })
  if (!reopened) throw new AppError('conflict', `delivery ${delivery.id} changed state while being replayed; read it and try again`)
  // Enqueued inside a transaction, the job wakes no worker by itself.
  ctx.queue.options.wakeups?.notify('')
  return toDelivery(reopened)
}

/** The only place an endpoint row becomes API fields; the secret never does. */
export function toEndpoint(row: WebhookEndpointRow, owner: string): Endpoint {
  return {
    id: row.id,
    owner,
    url: row.url,
    description: row.description,
    events: row.events,
    enabled: row.enabled,
    disabled_at: row.disabled_at?.toISOString() ?? null,
    disabled_reason: row.disabled_reason,
    failing_since: row.failing_since?.toISOString() ?? null,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  }
}

export function toDelivery(row: WebhookDeliveryRow): Delivery {
  return {
    id: row.id,
    endpoint_id: row.endpoint_id,
    event: row.event,
    job_id: row.job_id,
    state: row.state,
    attempts: row.attempts,
    last_status: row.last_status,
    last_error: row.last_error,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    delivered_at: row.delivered_at?.toISOString() ?? null,
  }
}
