import type { Executor } from '../db/database.js'
import { getOwnUser as getOwnUserOf } from '../identity/service.js'
import type { JobRow, JobState, UserRow } from '../db/tables.js'
import { AppError, errors } from '../http/errors.js'
import { checkBody } from '../http/validation.js'
import type { Caller } from '../identity/caller.js'
import { normalizeHandle, SYSTEM_USER } from '../identity/handles.js'
import type { JobQueue } from './queue.js'
import type { SubmittableType } from './types.js'
import type { Job, JobInput, JobSummary } from './schemas.js'

/**
 * Who may do what with jobs: a user submits and manages its own jobs; an admin may act for any
 * user (the job still runs as, and is accounted to, the user in the path). Anyone else gets the
 * 404 of a user that does not exist.
 */
export async function getJobOwner(db: Executor, caller: Caller, handle: string): Promise<UserRow> {
  return getOwnUserOf({ db, caller }, handle)
}

export async function submitJob(db: Executor, queue: JobQueue, types: readonly SubmittableType[], caller: Caller, owner: UserRow, input: JobInput) {
  if (owner.handle === SYSTEM_USER) throw errors.forbidden('nobody can act as _system, so it has no jobs')
  const type = types.find((t) => t.type === input.type)
  if (!type) {
    throw new AppError('invalid_job', `unknown job type ${input.type}; submit one of ${types.map((t) => t.type).join(', ')}`)
  }
  const issues = checkBody(type.payload, input.payload).map((issue) => ({ ...issue, location: issue.location.replace(/^body/, 'body.payload') }))
  if (issues.length > 0) throw new AppError('validation_failed', `the payload of a ${type.type} job is not valid`, { errors: issues })
  if (input.webhook_url !== undefined) {
    const endpoint = await db
      .selectFrom('webhook_endpoints')
      .select('id')
      .where('owner_id', '=', owner.id)
      .where('url', '=', input.webhook_url)
      .executeTakeFirst()
    if (!endpoint) {
      throw new AppError('invalid_job', `webhook_url must be the URL of one of ${owner.handle}'s webhook endpoints (POST /v1/webhooks/${owner.handle}), so that its deliveries can be signed`)
    }
  }
  let runAt: Date | undefined
  if (input.run_at !== undefined) {
    runAt = new Date(input.run_at)
    if (Number.isNaN(runAt.getTime())) throw new AppError('invalid_job', 'run_at must be a date-time such as 2026-01-31T12:00:00Z')
  }
  // A known idempotency key answers with its job before the payload's references are checked
  // again: the retry of a submission must not fail because, say, the project filled up since.
  if (input.idempotency_key !== undefined) {
    const existing = await queue.findByIdempotencyKey(owner.id, input.idempotency_key)
    if (existing) return { job: existing, created: false }
  }
  const { total } = await type.check(db, owner, caller, input.payload)
  const { job, created } = await queue.enqueue({
    ownerId: owner.id,
    type: type.type,
    payload: input.payload,
    priority: input.priority,
    runAt,
    maxAttempts: input.max_attempts,
    idempotencyKey: input.idempotency_key,
    debug: input.debug,
    webhookUrl: input.webhook_url,
    progressTotal: total,
  })
  return { job, created }
}

export async function findJob(db: Executor, ownerId: number, id: string): Promise<JobRow> {
  const job = await db.selectFrom('jobs').selectAll().where('id', '=', id).where('owner_id', '=', ownerId).executeTakeFirst()
  if (!job) throw new AppError('job_not_found', `job ${id} not found`)
  return job
}

/**
 * A user's jobs. The server's own jobs for the user (webhook deliveries) are left out unless
 * asked for with `internal=true` or by naming their type: a user looking at its jobs wants
 * the work it submitted, and a delivery already shows under its webhook endpoint.
 */
export async function listJobs(db: Executor, types: readonly SubmittableType[], ownerId: number, filter: { state?: JobState | undefined; type?: string | undefined; internal?: boolean | undefined; limit: number; offset: number }) {
  let query = db.selectFrom('jobs').selectAll().where('owner_id', '=', ownerId)
  if (filter.state) query = query.where('state', '=', filter.state)
  if (filter.type) query = query.where('type', '=', filter.type)
  else if (!filter.internal) query = query.where('type', 'in', types.map((t) => t.type))
  return query.orderBy('created_at', 'desc').orderBy('id').limit(filter.limit).offset(filter.offset).execute()
}

export async function listDeadJobs(db: Executor, filter: { type?: string | undefined; user?: string | undefined; limit: number; offset: number }) {
  let query = db
    .selectFrom('jobs')
    .innerJoin('users', 'users.id', 'jobs.owner_id')
    .selectAll('jobs')
    .select('users.handle as owner')
    .where('jobs.state', '=', 'dead')
  if (filter.type) query = query.where('jobs.type', '=', filter.type)
  if (filter.user) query = query.where('users.handle', '=', normalizeHandle(filter.user))
  return query.orderBy('jobs.updated_at', 'desc').orderBy('jobs.id').limit(filter.limit).offset(filter.offset).execute()
}

/** Why a job in `state` cannot be cancelled or retried, for the 409. */
export function stateConflict(job: JobRow, action: 'cancel' | 'retry'): AppError {
  const why =
    action === 'cancel'
      ? `it has already ended (${job.state})`
      : job.state === 'succeeded'
        ? 'it succeeded; submit a new job to run it again'
        : `it is ${job.state} already`
  return new AppError('job_state_conflict', `job ${job.id} cannot be ${action === 'cancel' ? 'cancelled' : 'retried'}: ${why}`)
}

export function toJobSummary(row: JobRow, owner: string): JobSummary {
  return {
    id: row.id,
    owner,
    type: row.type,
    state: row.state,
    priority: row.priority,
    run_at: row.run_at.toISOString(),
    attempts: row.attempts,
    max_attempts: row.max_attempts,
    progress: { done: row.progress_done, total: row.progress_total },
    errors: row.errors,
    debug: row.debug,
    webhook_url: row.webhook_url,
    idempotency_key: row.idempotency_key,
    replays: row.replays,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    started_at: row.started_at?.toISOString() ?? null,
    finished_at: row.finished_at?.toISOString() ?? null,
  }
}

export function toJob(row: JobRow, owner: string): Job {
  return { ...toJobSummary(row, owner), payload: row.payload, result: row.result ?? null, debug_log: row.debug_log ?? null }
}
