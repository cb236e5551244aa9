import type { Logger } from 'pino'
import type { GatewaySettings } from '../config.js'
import type { UpstreamClient } from '../egress/client.js'
import type { Caller } from '../identity/caller.js'
import type { RequestLogWriter } from './accounting/log-writer.js'
import type { ResponseCache } from './cache/response-cache.js'
import type { HealthBook } from './health.js'
import type { LimitEnforcer } from './limits/enforcer.js'
import type { TargetResolver } from './targets.js'

/** Everything a gateway call uses, built once per server (src/gateway/create-gateway.ts). */
export interface GatewayDeps {
  settings: GatewaySettings
  upstream: UpstreamClient
  resolver: TargetResolver
  health: HealthBook
  cache: ResponseCache
  log: RequestLogWriter
  limits: LimitEnforcer
  logger: Logger
}

/**
 * What a gateway call needs to know about whoever makes it: the caller it is accounted to, the
 * request id it is logged under, and the headers that steer the cache. A Fastify request is
 * one; a job builds one for its owner (src/gateway/job-call.ts) to call without HTTP.
 */
export interface GatewayCallContext {
  caller: Caller
  id: string
  headers: Record<string, string | string[] | undefined>
}
