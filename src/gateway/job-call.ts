import type { Caller } from '../identity/caller.js'
import type { ClaimedJob } from '../jobs/types.js'
import type { GatewayCallContext } from './deps.js'

/**
 * How a job calls the gateway: as its owner, under the request id `job:<id>` (so its calls can
 * be told apart in `GET /v1/requests/{user}`), with no headers: the response cache applies as
 * it does to a client that sends no `Cache-Control`.
 */
export function jobCallContext(job: ClaimedJob, caller: Caller): GatewayCallContext {
  return { caller, id: `job:${job.id}`, headers: {} }
}
