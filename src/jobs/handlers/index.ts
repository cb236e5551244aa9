import type { Logger } from 'pino'
import type { TSchema } from 'typebox'
import type { Config } from '../../config.js'
import type { Executor } from '../../db/database.js'
import type { UserRow } from '../../db/tables.js'
import type { Gateway } from '../../gateway/gateway.js'
import type { Caller } from '../../identity/caller.js'
import type { Keyring } from '../../secrets/keyring.js'
import type { VectorEngine } from '../../vectors/engine.js'
import { deliverHandler } from '../../webhooks/deliver.js'
import type { JobHandler } from '../types.js'
import { chatBatchHandler, chatBatchType } from './chat-batch.js'
import { embedHandler, embedType } from './embed.js'

/** What job handlers may use: the same parts the HTTP routes use. */
export interface HandlerDeps {
  config: Config
  db: Executor
  keyring: Keyring
  gateway: Gateway
  engine: VectorEngine | null
  logger: Logger
}

/**
 * A job type clients may submit with `POST /v1/jobs/{user}`. The payload is checked when the
 * job is submitted, so that a mistake is a 400/422 at once rather than a dead job later.
 */
export interface SubmittableType {
  type: string
  /** JSON schema of the payload (checked first; problems answer 422 with their locations). */
  payload: TSchema
  /**
   * Checks beyond the schema, as of submission: the project exists and the owner may write it,
   * the model is one the owner may use. Throws an AppError; returns how many items the job
   * has, shown as its progress total from the start.
   */
  check(db: Executor, owner: UserRow, caller: Caller, payload: unknown): Promise<{ total: number }>
}

/** The types clients submit; `webhook.deliver` jobs are made by the server only. */
export const SUBMITTABLE_TYPES: readonly SubmittableType[] = [embedType, chatBatchType]

/** Every job type a worker runs. */
export function jobHandlers(deps: HandlerDeps): JobHandler[] {
  return [embedHandler(deps), chatBatchHandler(deps), deliverHandler(deps)]
}
