import { DELIVER_JOB_TYPE } from './outbox.js'
import type { HandlerDeps } from '../jobs/handlers/index.js'
import type { JobHandler } from '../jobs/types.js'

// Placeholder until webhook deliveries land.
export function deliverHandler(_deps: HandlerDeps): JobHandler {
  return { type: DELIVER_JOB_TYPE, run: async () => null }
}
