import type { Logger } from 'pino'
import type { Config } from './config.js'
import type { Executor } from './db/database.js'
import { embedJob } from './embeddings/embed-job.js'
import { chatBatchJob } from './gateway/chat-batch-job.js'
import type { Gateway } from './gateway/create-gateway.js'
import type { JobSystemOptions } from './jobs/runtime.js'
import type { SubmittableType } from './jobs/types.js'
import type { Keyring } from './secrets/keyring.js'
import type { VectorEngine } from './vectors/engine.js'
import { deliverJob } from './webhooks/deliver.js'
import { deliverAttempts, webhookOutbox } from './webhooks/outbox.js'

/**
 * Every job type, with the parts of the application their handlers use. A job type is declared
 * in its capability's folder (docs/jobs.md#adding-a-job-type); adding one is one line here.
 */
export const JOB_TYPES = [embedJob, chatBatchJob, deliverJob] as const

/** The parts job handlers may use: the same ones the HTTP routes use. */
export interface JobDeps {
  config: Config
  db: Executor
  keyring: Keyring
  gateway: Gateway
  engine: VectorEngine | null
  logger: Logger
}

/** What the job runtime takes from the application: handlers, submittable types, the webhook outbox. */
export function jobSetup(deps: JobDeps): Pick<JobSystemOptions, 'handlers' | 'submittable' | 'onTransition'> {
  const submittable: SubmittableType[] = JOB_TYPES.flatMap((t) => ('submission' in t && t.submission ? [{ type: t.type, payload: t.payload, check: t.submission.check }] : []))
  return {
    handlers: JOB_TYPES.map((t) => t.handler(deps)),
    submittable,
    onTransition: webhookOutbox(deliverAttempts(deps.config)),
  }
}
