import { type Static, Type } from 'typebox'
import { Paging, problemResponses, Timestamp } from '../http/schemas.js'
import { UserHandleParam } from '../identity/handle-schemas.js'

export { problemResponses }

const JobStateSchema = Type.Union(
  [Type.Literal('pending'), Type.Literal('running'), Type.Literal('succeeded'), Type.Literal('failed'), Type.Literal('dead'), Type.Literal('cancelled')],
  { 'x-error': 'must be one of pending, running, succeeded, failed, dead, cancelled' },
)

export const JobInput = Type.Object(
  {
    type: Type.String({ minLength: 1, maxLength: 100, description: 'The job type: `embed` or `chat.batch` (docs/jobs.md)' }),
    payload: Type.Object({}, { additionalProperties: true, description: "The job's input; its shape depends on the type" }),
    webhook_url: Type.Optional(Type.String({ minLength: 1, maxLength: 2000, description: "URL of one of the owner's webhook endpoints; this job's events are sent there even if the endpoint is not subscribed to them" })),
    idempotency_key: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Submitting the same key again (same owner) returns the first job instead of adding one' })),
    priority: Type.Optional(Type.Integer({ minimum: -1000, maximum: 1000, default: 0, description: 'Higher runs first' })),
    run_at: Type.Optional(Type.String({ format: 'date-time', description: 'Not before this time (default: now)' })),
    max_attempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'Attempts before the job goes to the dead-letter queue (default LLMBASE_JOBS_MAX_ATTEMPTS, 5)' })),
    debug: Type.Optional(Type.Boolean({ default: false, description: 'Record a step log of the run in `debug_log`' })),
  },
  { additionalProperties: false },
)
export type JobInput = Static<typeof JobInput>

const JobErrorEntry = Type.Object({
  attempt: Type.Integer(),
  at: Timestamp,
  code: Type.String(),
  message: Type.String(),
})

const Progress = Type.Object({
  done: Type.Union([Type.Integer(), Type.Null()]),
  total: Type.Union([Type.Integer(), Type.Null()]),
})

const JobFields = {
  id: Type.String({ format: 'uuid' }),
  owner: Type.String(),
  type: Type.String(),
  state: JobStateSchema,
  priority: Type.Integer(),
  run_at: Timestamp,
  attempts: Type.Integer(),
  max_attempts: Type.Integer(),
  progress: Progress,
  errors: Type.Array(JobErrorEntry, { description: 'One entry per failed attempt, oldest first' }),
  debug: Type.Boolean(),
  webhook_url: Type.Union([Type.String(), Type.Null()]),
  idempotency_key: Type.Union([Type.String(), Type.Null()]),
  replays: Type.Integer({ description: 'Times the job was run again from dead or cancelled' }),
  created_at: Timestamp,
  updated_at: Timestamp,
  started_at: Type.Union([Timestamp, Type.Null()]),
  finished_at: Type.Union([Timestamp, Type.Null()]),
}

export const JobSummary = Type.Object(JobFields)
export type JobSummary = Static<typeof JobSummary>
export const Job = Type.Object({
  ...JobFields,
  payload: Type.Unknown(),
  result: Type.Unknown({ description: 'What the job produced; null until it succeeded' }),
  debug_log: Type.Unknown({ description: 'Steps recorded while `debug` is on; null otherwise' }),
})
export type Job = Static<typeof Job>

export const JobList = Type.Array(JobSummary)

export const UserParams = Type.Object({ user_handle: UserHandleParam })
const JobId = Type.String({ format: 'uuid', 'x-error': 'must be a job id (a UUID)' })
export const JobParams = Type.Object({ user_handle: UserHandleParam, job_id: JobId })
export const DeadLetterParams = Type.Object({ job_id: JobId })

export const JobListQuery = Type.Object({
  ...Paging(50).properties,
  state: Type.Optional(JobStateSchema),
  type: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  internal: Type.Optional(Type.Boolean({ default: false, description: "Also the server's own jobs for the user (webhook deliveries), which are left out by default" })),
})

export const DeadLetterQuery = Type.Object({
  ...Paging(50).properties,
  type: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  user: Type.Optional(UserHandleParam),
})

/** Dead jobs come whole: their payload and error history are what an operator decides on. */
export const DeadLetterList = Type.Array(Job)
