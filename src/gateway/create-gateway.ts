import type { Logger } from 'pino'
import type { Config } from '../config.js'
import type { Executor } from '../db/database.js'
import type { Keyring } from '../secrets/keyring.js'
import { RequestLogWriter } from './accounting/log-writer.js'
import { ResponseCache } from './cache/response-cache.js'
import type { GatewayDeps } from './deps.js'
import { HealthBook } from './health.js'
import { LimitEnforcer } from './limits/enforcer.js'
import { TargetResolver } from './targets.js'
import { UpstreamClient } from '../egress/client.js'

export interface Gateway extends GatewayDeps {
  close(): Promise<void>
}

/** Builds the gateway's long-lived parts once per server. */
export function createGateway(options: { config: Config; db: Executor; keyring: Keyring; logger: Logger; resolverTtlMs?: number }): Gateway {
  const { config, db, logger } = options
  const settings = config.gateway
  const upstream = new UpstreamClient(settings, config.egress)
  const cache = new ResponseCache(db, logger, { memoryBytes: settings.cacheMemoryBytes, shared: settings.cacheShared })
  const log = new RequestLogWriter(db, logger, settings.logFlushMs, settings.logRetentionDays)
  const limits = new LimitEnforcer(db, logger, { totalTimeoutMs: settings.totalTimeoutMs })
  return {
    settings,
    upstream,
    resolver: new TargetResolver(db, options.keyring, options.resolverTtlMs),
    health: new HealthBook(settings.cooldownMs),
    cache,
    log,
    limits,
    logger,
    async close() {
      await log.close()
      await limits.close()
      cache.close()
      await upstream.close()
    },
  }
}
