import type { RawBuilder } from 'kysely'
import type { Logger } from 'pino'
import type { TSchema } from 'typebox'
import type { Executor } from '../db/database.js'
import type { JobError, JobState, UserRow } from '../db/tables.js'
import type { Caller } from '../identity/caller.js'

export type { JobError, JobState }

/** A job as a worker holds it: the row's fields plus the token of this claim. */
export interface ClaimedJob<Payload = unknown> {
  id: string
  ownerId: number
  type: string
  payload: Payload
  priority: number
  attempts: number
  maxAttempts: number
  progressDone: number | null
  progressTotal: number | null
  /** What an earlier attempt saved with `context.progress` to resume from. */
  checkpoint: unknown
  debug: boolean
  runAt: Date
  createdAt: Date
  /** Names this claim; every write of the worker carries it (see 0008_jobs.sql). */
  leaseToken: string
}

/** What a handler gets besides the job. */
export interface JobContext {
  /**
   * Aborted when the job is cancelled, when the worker lost its lease (another worker may now
   * run the job) or when a shutdown ran out of time. A handler passes it to everything slow.
   */
  signal: AbortSignal
  /**
   * Records progress (`done` of `total`, shown by the API and the CLI) and, optionally, what a
   * later attempt needs to resume without redoing work. Renews the lease too.
   */
  progress(done: number, total: number, checkpoint?: unknown): Promise<void>
  /** A step for the job's debug log; kept only when the job was created with `debug: true`. */
  debug(message: string, data?: Record<string, unknown>): void
  logger: Logger
}

/** Runs the jobs of one type. The value it returns is stored as the job's `result`. */
export interface JobHandler<Payload = unknown> {
  type: string
  /**
   * The payload's schema. The worker checks each job's payload against it before `run`, so
   * that `run` gets a value of the declared type (a stored payload may predate a change of the
   * schema); one that does not match ends the job at once (`invalid_payload`).
   */
  payload?: TSchema
  run(job: ClaimedJob<Payload>, context: JobContext): Promise<unknown>
  /**
   * Delay before the attempt after attempt `attempt` failed; the queue's exponential backoff
   * when absent. Webhook deliveries use their own schedule.
   */
  retryDelayMs?(attempt: number): number
}

/** Thrown by a handler when another attempt cannot help (bad payload, a 410 from a receiver). */
export class PermanentJobError extends Error {
  constructor(message: string, readonly code = 'permanent_failure') {
    super(message)
    this.name = 'PermanentJobError'
  }
}

/**
 * An error a handler throws on purpose, with a code for the job's error history and, when the
 * other side said how long to wait (a Retry-After), the shortest delay before the next attempt.
 */
export class JobFailure extends Error {
  constructor(message: string, readonly code: string, readonly retryAfterMs?: number) {
    super(message)
    this.name = 'JobFailure'
  }
}

export interface Clock {
  now(): Date
}

export const systemClock: Clock = { now: () => new Date() }

/**
 * A kind of job, declared in the folder of the capability it belongs to (the embed job in
 * `embeddings/`, chat batches in `gateway/`, webhook deliveries in `webhooks/`) and handed to
 * the queue's runtime by the application (`src/job-types.ts`): the queue itself knows no type.
 * `Deps` is what the type's handler needs, from the parts the application has built.
 */
export interface JobType<Deps> {
  type: string
  /** Checked when a client submits the job (422 with locations) and again when a worker runs it. */
  payload: TSchema
  /** Present for the types clients may submit with `POST /v1/jobs/{user}`; the server makes the others. */
  submission?: SubmissionCheck
  handler(deps: Deps): JobHandler
}

/**
 * Checks beyond the payload's schema, as of submission: the project exists and the owner may
 * write it, the model is one the owner may use. Throws an AppError; returns how many items the
 * job has, shown as its progress total from the start.
 */
export interface SubmissionCheck {
  check(db: Executor, owner: UserRow, caller: Caller, payload: unknown): Promise<{ total: number }>
}

/** A job type clients may submit, as the jobs API sees it. */
export interface SubmittableType {
  type: string
  payload: TSchema
  check: SubmissionCheck['check']
}

/** The events of a job's state changes (webhooks subscribe to them). */
export const JOB_EVENTS = ['job.succeeded', 'job.failed', 'job.dead'] as const
export type JobEvent = (typeof JOB_EVENTS)[number]

/**
 * Work that must happen in the same SQL statement as a job's state change, handed to the
 * queue by the application (the webhook outbox, `webhooks/outbox.ts`): common table
 * expressions that may read `moved` (the jobs that changed, `returning *`) and must define
 * `enqueued`, the jobs they added (`returning id`), so that the queue wakes a worker for them.
 */
export type TransitionHook = (event: JobEvent, at: Date) => RawBuilder<unknown>

