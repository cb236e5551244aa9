import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { Executor } from '../db/database.js'
import { AppError, errors } from '../http/errors.js'
import { isAdmin } from '../identity/caller.js'
import type { JobQueue } from './queue.js'
import type { SubmittableType } from './types.js'
import * as s from './schemas.js'
import { findJob, getJobOwner, listDeadJobs, listJobs, stateConflict, submitJob, toJob, toJobSummary } from './service.js'

/** `/v1/jobs/{user}…` and the admin's dead-letter queue (docs/jobs.md). */
export const jobRoutes: FastifyPluginAsyncTypebox<{ db: Executor; queue: JobQueue; types: readonly SubmittableType[] }> = async (app, { db, queue, types }) => {
  const common = { tags: ['jobs'] }

  app.post('/v1/jobs/:user_handle', {
    schema: {
      ...common,
      operationId: 'jobs.submit',
      summary: 'Submit a job (201); with a known idempotency_key, the earlier job (200)',
      params: s.UserParams,
      body: s.JobInput,
      response: { 200: s.Job, 201: s.Job, ...s.problemResponses },
    },
  }, async (request, reply) => {
    const owner = await getJobOwner(db, request.caller, request.params.user_handle)
    const { job, created } = await submitJob(db, queue, types, request.caller, owner, request.body)
    reply.header('location', `/v1/jobs/${owner.handle}/${job.id}`)
    return reply.code(created ? 201 : 200).send(toJob(job, owner.handle))
  })

  app.get('/v1/jobs/:user_handle', {
    schema: { ...common, operationId: 'jobs.list', summary: "A user's jobs, newest first (without payloads and results)", params: s.UserParams, querystring: s.JobListQuery, response: { 200: s.JobList, ...s.problemResponses } },
  }, async (request) => {
    const owner = await getJobOwner(db, request.caller, request.params.user_handle)
    const rows = await listJobs(db, types, owner.id, request.query)
    return rows.map((row) => toJobSummary(row, owner.handle))
  })

  app.get('/v1/jobs/:user_handle/:job_id', {
    schema: { ...common, operationId: 'jobs.get', summary: 'A job: state, progress, attempts, errors and result', params: s.JobParams, response: { 200: s.Job, ...s.problemResponses } },
  }, async (request) => {
    const owner = await getJobOwner(db, request.caller, request.params.user_handle)
    return toJob(await findJob(db, owner.id, request.params.job_id), owner.handle)
  })

  app.post('/v1/jobs/:user_handle/:job_id/cancel', {
    schema: { ...common, operationId: 'jobs.cancel', summary: 'Cancel a job that has not ended; a running job stops at once', params: s.JobParams, response: { 200: s.Job, ...s.problemResponses } },
  }, async (request) => {
    const owner = await getJobOwner(db, request.caller, request.params.user_handle)
    const cancelled = await queue.cancel(owner.id, request.params.job_id)
    if (cancelled) return toJob(cancelled, owner.handle)
    throw stateConflict(await findJob(db, owner.id, request.params.job_id), 'cancel')
  })

  app.post('/v1/jobs/:user_handle/:job_id/retry', {
    schema: {
      ...common,
      operationId: 'jobs.retry',
      summary: 'Run a failed job now, or a dead or cancelled one again with fresh attempts',
      params: s.JobParams,
      response: { 200: s.Job, ...s.problemResponses },
    },
  }, async (request) => {
    const owner = await getJobOwner(db, request.caller, request.params.user_handle)
    const retried = await queue.retry(owner.id, request.params.job_id)
    if (retried) return toJob(retried, owner.handle)
    throw stateConflict(await findJob(db, owner.id, request.params.job_id), 'retry')
  })

  app.get('/v1/admin/dead-letter', {
    schema: {
      ...common,
      operationId: 'jobs.deadLetter.list',
      summary: 'Jobs that used up their attempts, newest first, with their error history (admin)',
      querystring: s.DeadLetterQuery,
      response: { 200: s.DeadLetterList, ...s.problemResponses },
    },
  }, async (request) => {
    if (!isAdmin(request.caller)) throw errors.forbidden('only an admin may read the dead-letter queue; a user finds its own dead jobs with GET /v1/jobs/{user}?state=dead')
    const rows = await listDeadJobs(db, request.query)
    return rows.map((row) => toJob(row, row.owner))
  })

  app.post('/v1/admin/dead-letter/:job_id/replay', {
    schema: {
      ...common,
      operationId: 'jobs.deadLetter.replay',
      summary: 'Run a dead job again with fresh attempts, keeping its error history (admin)',
      params: s.DeadLetterParams,
      response: { 200: s.Job, ...s.problemResponses },
    },
  }, async (request) => {
    if (!isAdmin(request.caller)) throw errors.forbidden('only an admin may replay from the dead-letter queue; a user retries its own jobs with POST /v1/jobs/{user}/{id}/retry')
    const current = await db
      .selectFrom('jobs')
      .innerJoin('users', 'users.id', 'jobs.owner_id')
      .select(['jobs.state', 'users.handle as owner'])
      .where('jobs.id', '=', request.params.job_id)
      .executeTakeFirst()
    if (!current || current.state !== 'dead') throw new AppError('job_not_found', `job ${request.params.job_id} is not in the dead-letter queue`)
    const replayed = await queue.retry(null, request.params.job_id)
    if (!replayed) throw new AppError('job_not_found', `job ${request.params.job_id} is not in the dead-letter queue`)
    return toJob(replayed, current.owner)
  })
}

