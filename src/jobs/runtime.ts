import type { Logger } from 'pino'
import type { Config } from '../config.js'
import type { Database } from '../db/database.js'
import { JobQueue } from './queue.js'
import type { Clock, JobHandler, SubmittableType, TransitionHook } from './types.js'
import { LocalWakeups, PostgresWakeups, type Wakeups } from './wakeups.js'
import { Worker } from './worker.js'

/** The queue of one process, and its workers when it runs any. */
export interface JobSystem {
  queue: JobQueue
  /** The job types clients may submit (the jobs API checks submissions against them). */
  submittable: readonly SubmittableType[]
  wakeups: Wakeups
  worker: Worker | null
  /** Stops the workers gracefully (see Worker.stop), then the wake-up channel. */
  close(): Promise<void>
}

/**
 * The queue knows no job type: the application hands it the handlers of every type, the types
 * clients may submit, and the hook for the same-statement work of a state change (the webhook
 * outbox); src/job-types.ts assembles them.
 */
export interface JobSystemOptions {
  config: Config
  database: Database
  logger: Logger
  handlers: JobHandler[]
  submittable: readonly SubmittableType[]
  onTransition?: TransitionHook | undefined
  /** Run workers in this process (`serve` unless `--no-workers`; always in `llmbase worker`). */
  runWorkers: boolean
  /** Overrides `config.jobs.concurrency`. */
  concurrency?: number | undefined
  clock?: Clock
}

export async function startJobSystem(options: JobSystemOptions): Promise<JobSystem> {
  const { config, database, logger } = options
  const settings = config.jobs
  let wakeups: Wakeups
  if (database.kind === 'postgres' && config.databaseUrl) {
    const listening = new PostgresWakeups(config.databaseUrl, logger)
    await listening.start()
    wakeups = listening
  } else {
    wakeups = new LocalWakeups()
  }
  const queue = new JobQueue(database.db, {
    leaseMs: settings.leaseMs,
    maxAttempts: settings.maxAttempts,
    backoffBaseMs: settings.backoffBaseMs,
    backoffMaxMs: settings.backoffMaxMs,
    onTransition: options.onTransition,
    wakeups,
    ...(options.clock ? { clock: options.clock } : {}),
  })
  const concurrency = options.concurrency ?? settings.concurrency
  let worker: Worker | null = null
  if (options.runWorkers && concurrency > 0) {
    worker = new Worker({
      queue,
      handlers: options.handlers,
      concurrency,
      leaseMs: settings.leaseMs,
      pollMs: settings.pollMs,
      wakeups,
      logger,
      retentionDays: settings.retentionDays,
    })
    worker.start()
  }
  return {
    queue,
    submittable: options.submittable,
    wakeups,
    worker,
    async close() {
      await worker?.stop(settings.shutdownTimeoutMs)
      await wakeups.close()
    },
  }
}
