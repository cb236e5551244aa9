import type { Logger } from 'pino'
import type { JobError, JobState } from '../db/tables.js'

export type { JobError, JobState }

/** A job as a worker holds it: the row's fields plus the token of this claim. */
export interface ClaimedJob {
  id: string
  ownerId: number
  type: string
  payload: unknown
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
export interface JobHandler {
  type: string
  run(job: ClaimedJob, context: JobContext): Promise<unknown>
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
