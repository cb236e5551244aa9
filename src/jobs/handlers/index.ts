import type { Logger } from 'pino'
import type { Config } from '../../config.js'
import type { Executor } from '../../db/database.js'
import type { Gateway } from '../../gateway/gateway.js'
import type { Keyring } from '../../secrets/keyring.js'
import type { VectorEngine } from '../../vectors/engine.js'
import type { JobHandler } from '../types.js'

/** What job handlers may use: the same parts the HTTP routes use. */
export interface HandlerDeps {
  config: Config
  db: Executor
  keyring: Keyring
  gateway: Gateway
  engine: VectorEngine | null
  logger: Logger
}

/** Every job type a worker runs. */
export function jobHandlers(_deps: HandlerDeps): JobHandler[] {
  return []
}
