import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import type { Logger } from 'pino'
import { AppError } from '../http/errors.js'
import type { AttemptEnd, JobQueue } from './queue.js'
import { type ClaimedJob, type JobContext, JobFailure, type JobHandler, PermanentJobError } from './types.js'
import type { Wakeups } from './wakeups.js'
import { checkBody } from '../http/validation.js'

export interface WorkerOptions {
  queue: JobQueue
  handlers: JobHandler[]
  concurrency: number
  leaseMs: number
  pollMs: number
  wakeups: Wakeups
  logger: Logger
  /** Days finished jobs are kept (0: forever); one worker in the fleet deleting is enough, all may. */
  retentionDays?: number
}

interface Running {
  job: ClaimedJob
  controller: AbortController
  done: Promise<void>
  debugLog: unknown[]
}

/**
 * Runs jobs: claims as many as it has free slots, runs them concurrently, renews their leases,
 * sweeps expired leases of others, and sleeps until a wake-up, a free slot, the next due job or
 * the polling interval, whichever comes first.
 */
export class Worker {
  readonly id = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`
  private readonly handlers: Map<string, JobHandler>
  private readonly running = new Map<string, Running>()
  private stopping = false
  private loop: Promise<void> | null = null
  private wake: (() => void) | null = null
  private woken = false
  private unsubscribe: (() => void) | null = null
  private timers: NodeJS.Timeout[] = []

  constructor(private readonly options: WorkerOptions) {
    this.handlers = new Map(options.handlers.map((handler) => [handler.type, handler]))
  }

  get activeJobs(): number {
    return this.running.size
  }

  start() {
    if (this.loop) return
    const { logger, leaseMs } = this.options
    this.unsubscribe = this.options.wakeups.subscribe((message) => {
      if (message.startsWith('cancel:')) this.running.get(message.slice(7))?.controller.abort(new JobCancelled())
      else this.poke()
    })
    this.timers.push(setInterval(() => void this.renewLeases(), Math.max(100, Math.floor(leaseMs / 3))))
    this.timers.push(setInterval(() => void this.sweep(), Math.max(250, Math.floor(leaseMs / 2))))
    if (this.options.retentionDays) this.timers.push(setInterval(() => void this.cleanUp(), 3_600_000))
    for (const timer of this.timers) timer.unref()
    this.loop = this.run().catch((error: unknown) => logger.error({ err: error }, 'the job worker stopped unexpectedly'))
    logger.info({ worker: this.id, concurrency: this.options.concurrency, types: [...this.handlers.keys()] }, 'job worker started')
  }

  /**
   * Stops claiming, waits up to `timeoutMs` for running jobs, then aborts the rest and gives
   * them back to the queue (without counting the attempt) so another worker takes them at once.
   */
  async stop(timeoutMs: number) {
    if (this.stopping) return
    this.stopping = true
    this.poke()
    this.unsubscribe?.()
    await this.loop
    const all = [...this.running.values()]
    if (all.length > 0) {
      this.options.logger.info({ jobs: all.length, timeout_ms: timeoutMs }, 'waiting for running jobs to finish')
      let timer: NodeJS.Timeout | undefined
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), timeoutMs)
      })
      const outcome = await Promise.race([Promise.all(all.map((r) => r.done)).then(() => 'done' as const), timedOut])
      clearTimeout(timer)
      if (outcome === 'timeout') {
        const left = [...this.running.values()]
        for (const r of left) r.controller.abort(new WorkerStopping())
        await Promise.all(left.map((r) => this.options.queue.release(r.job).catch(() => false)))
        this.options.logger.warn({ jobs: left.length }, 'jobs still running at shutdown were given back to the queue')
        // Their handlers see the abort; give them a moment to unwind before the database closes.
        await Promise.race([Promise.all(left.map((r) => r.done)), new Promise((resolve) => setTimeout(resolve, 1000))])
      }
    }
    for (const timer of this.timers) clearInterval(timer)
    this.timers = []
  }

  private poke() {
    this.woken = true
    this.wake?.()
  }

  private async run() {
    const { queue, concurrency, pollMs, logger } = this.options
    let failures = 0
    while (!this.stopping) {
      this.woken = false
      const free = concurrency - this.running.size
      let more = false
      if (free > 0) {
        try {
          const claimed = await queue.claim(this.id, free)
          failures = 0
          for (const job of claimed) this.start1(job)
          more = claimed.length === free
        } catch (error) {
          failures++
          const delay = Math.min(30_000, 250 * 2 ** Math.min(failures, 7))
          logger.warn({ err: error, retry_in_ms: delay }, 'could not claim jobs; retrying')
          await this.sleep(delay)
          continue
        }
      }
      if (this.stopping) break
      if (more && this.running.size < concurrency) continue
      if (this.woken) continue
      // Idle or full: sleep until woken (a new job, a free slot), the next due job, or the poll.
      let sleepMs = pollMs
      if (this.running.size < concurrency) {
        const next = await queue.nextRunAt().catch(() => null)
        if (next) sleepMs = Math.max(0, Math.min(pollMs, next.getTime() - queue.clock.now().getTime()))
      }
      if (!this.woken && sleepMs > 0) await this.sleep(sleepMs)
    }
  }

  private sleep(ms: number) {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms)
      const self = this
      function done() {
        clearTimeout(timer)
        self.wake = null
        resolve()
      }
      this.wake = done
    })
  }

  private start1(job: ClaimedJob) {
    const controller = new AbortController()
    const entry: Running = { job, controller, debugLog: [], done: Promise.resolve() }
    entry.done = this.execute(entry).finally(() => {
      this.running.delete(job.id)
      this.poke()
    })
    this.running.set(job.id, entry)
  }

  private async execute(entry: Running) {
    const { job, controller } = entry
    const { queue, logger } = this.options
    const log = logger.child({ job: job.id, type: job.type, attempt: job.attempts })
    const handler = this.handlers.get(job.type)
    let end: AttemptEnd
    const payloadIssues = handler?.payload ? checkBody(handler.payload, job.payload) : []
    if (!handler) {
      end = { ok: false, code: 'unknown_type', message: `no handler for job type ${job.type}`, permanent: true }
    } else if (payloadIssues.length > 0) {
      const first = payloadIssues[0] as { location: string; message: string }
      end = { ok: false, code: 'invalid_payload', message: `the payload does not match the ${job.type} job's schema: ${first.location.replace(/^body/, 'payload')} ${first.message}`, permanent: true }
    } else {
      const context: JobContext = {
        signal: controller.signal,
        logger: log,
        progress: async (done, total, checkpoint) => {
          const entries = entry.debugLog.splice(0)
          const held = await queue.progress(job, done, total, checkpoint, entries)
          if (!held) controller.abort(new LeaseLost())
        },
        debug: (message, data) => {
          if (job.debug) entry.debugLog.push({ at: new Date().toISOString(), message, ...(data ? { data } : {}) })
        },
      }
      try {
        const result = await handler.run(job, context)
        end = { ok: true, result }
      } catch (error) {
        if (controller.signal.aborted) {
          // Cancelled, lease lost or shutting down: someone else owns the job's state now.
          log.info({ reason: (controller.signal.reason as Error | undefined)?.name }, 'job stopped')
          return
        }
        end = describeFailure(error, handler, job, queue)
        if (!(error instanceof AppError || error instanceof JobFailure || error instanceof PermanentJobError)) {
          log.error({ err: error }, 'job failed with an unexpected error')
        }
      }
    }
    if (controller.signal.aborted) return
    try {
      const held = await queue.finish(job, end, entry.debugLog.splice(0))
      if (!held) log.info('job ended elsewhere (cancelled or its lease expired); the outcome of this attempt is dropped')
    } catch (error) {
      // The lease will run out and the sweeper puts the job back: nothing is lost.
      log.error({ err: error }, 'could not record the end of a job; it will be retried when its lease expires')
    }
  }

  private async renewLeases() {
    const tokens = [...this.running.values()].map((r) => r.job.leaseToken)
    if (tokens.length === 0) return
    try {
      const held = await this.options.queue.renewLeases(tokens)
      for (const r of this.running.values()) {
        if (!held.has(r.job.leaseToken) && tokens.includes(r.job.leaseToken)) r.controller.abort(new LeaseLost())
      }
    } catch (error) {
      this.options.logger.warn({ err: error }, 'could not renew job leases')
    }
  }

  private async sweep() {
    try {
      const moved = await this.options.queue.expireLeases()
      if (moved > 0) this.options.logger.warn({ jobs: moved }, 'jobs whose worker stopped renewing its lease went back to the queue')
    } catch (error) {
      this.options.logger.debug({ err: error }, 'lease sweep failed')
    }
  }

  private async cleanUp() {
    try {
      const deleted = await this.options.queue.deleteFinished(this.options.retentionDays ?? 0)
      if (deleted > 0) this.options.logger.info({ jobs: deleted }, 'deleted finished jobs past retention')
    } catch (error) {
      this.options.logger.debug({ err: error }, 'job retention clean-up failed')
    }
  }
}

function describeFailure(error: unknown, handler: JobHandler, job: ClaimedJob, queue: JobQueue): AttemptEnd {
  const retryDelayMs = handler.retryDelayMs?.(job.attempts)
  if (error instanceof PermanentJobError) return { ok: false, code: error.code, message: error.message, permanent: true }
  if (error instanceof JobFailure) {
    // A Retry-After stretches the schedule; it never shortens it.
    const delay = error.retryAfterMs === undefined ? retryDelayMs : Math.max(retryDelayMs ?? queue.backoffMs(job.attempts), error.retryAfterMs)
    return { ok: false, code: error.code, message: error.message, permanent: false, retryDelayMs: delay }
  }
  if (error instanceof AppError) {
    // Client errors (a bad payload, a missing model) do not get better by retrying; 429 does.
    const permanent = error.status >= 400 && error.status < 500 && error.status !== 429
    return { ok: false, code: error.code, message: error.message, permanent, retryDelayMs }
  }
  return { ok: false, code: 'internal_error', message: 'the job failed with an unexpected error (details are in the server log)', permanent: false, retryDelayMs }
}

class JobCancelled extends Error {
  override name = 'JobCancelled'
}
class LeaseLost extends Error {
  override name = 'LeaseLost'
}
class WorkerStopping extends Error {
  override name = 'WorkerStopping'
}
