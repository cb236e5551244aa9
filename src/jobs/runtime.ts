import type { Logger } from 'pino'
import type { Config } from '../config.js'
import type { Database } from '../db/database.js'
import type { Gateway } from '../gateway/gateway.js'
import type { Keyring } from '../secrets/keyring.js'
import type { VectorEngine } from '../vectors/engine.js'
import { jobHandlers } from './handlers/index.js'
import { JobQueue } from './queue.js'
import type { Clock } from './types.js'
import { LocalWakeups, PostgresWakeups, type Wakeups } from './wakeups.js'
import { Worker } from './worker.js'

/** The queue of one process, and its workers when it runs any. */
export interface JobSystem {
  queue: JobQueue
  wakeups: Wakeups
  worker: Worker | null
  /** Stops the workers gracefully (see Worker.stop), then the wake-up channel. */
  close(): Promise<void>
}

export interface JobSystemOptions {
  config: Config
  database: Database
  keyring: Keyring
  gateway: Gateway
  engine: VectorEngine | null
  logger: Logger
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
    deliverAttempts: settings.webhookRetryScheduleMs.length + 1,
    wakeups,
    ...(options.clock ? { clock: options.clock } : {}),
  })
  const concurrency = options.concurrency ?? settings.concurrency
  let worker: Worker | null = null
  if (options.runWorkers && concurrency > 0) {
    worker = new Worker({
      queue,
      handlers: jobHandlers({ config, db: database.db, keyring: options.keyring, gateway: options.gateway, engine: options.engine, logger }),
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
    wakeups,
    worker,
    async close() {
      await worker?.stop(settings.shutdownTimeoutMs)
      await wakeups.close()
    },
  }
}
