import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import type { Executor } from '../db/database.js'
import type { EgressPolicy } from '../egress/policy.js'
import { problemResponses } from '../http/schemas.js'
import { getVisibleInstance } from '../registry/instances.js'
import { InstanceParams } from '../registry/schemas.js'
import type { Keyring } from '../secrets/keyring.js'
import { accountingRoutes } from './accounting/routes.js'
import type { RequestLogWriter } from './accounting/log-writer.js'
import type { HealthBook } from './health.js'
import type { LimitEnforcer } from './limits/enforcer.js'
import { limitRoutes } from './limits/routes.js'
import { llmRouteRoutes } from './llm-routes/routes.js'
import { sql } from 'kysely'

export interface GatewayPluginOptions {
  db: Executor
  limits: LimitEnforcer
  health: HealthBook
  log: RequestLogWriter
  keyring: Keyring
  egress: EgressPolicy
  /** Called after a write that may change which instances a model name resolves to. */
  onRoutingChange: () => void
}

/** The gateway's management endpoints: routes, limits, usage, the request log, instance health. */
export const gatewayManagementRoutes: FastifyPluginAsync<GatewayPluginOptions> = async (app, options) => {
  const { db } = options
  await app.register(llmRouteRoutes, { db, onChange: options.onRoutingChange })
  await app.register(limitRoutes, { db, limits: options.limits })
  await app.register(accountingRoutes, { db, log: options.log })

  app.get('/v1/llm-instances/:user_handle/:instance_handle/health', {
    schema: {
      tags: ['instances'],
      operationId: 'registry.instance.health',
      summary: "An instance's passive health: this process's latency and error averages and cooldown, and the last 15 minutes from the request log",
      params: InstanceParams,
      response: problemResponses,
    },
  }, async (request: FastifyRequest) => {
    const params = request.params as { user_handle: string; instance_handle: string }
    const { instance } = await getVisibleInstance({ db, caller: request.caller, keyring: options.keyring, egress: options.egress }, params.user_handle, params.instance_handle)
    const recent = await db
      .selectFrom('llm_responses')
      .select([
        sql<number>`count(*)::int`.as('attempts'),
        sql<number>`(count(*) filter (where error_code is not null))::int`.as('failures'),
        sql<number | null>`percentile_cont(0.5) within group (order by latency_ms)`.as('latency_p50_ms'),
        sql<number | null>`percentile_cont(0.95) within group (order by latency_ms)`.as('latency_p95_ms'),
      ])
      .where('instance_id', '=', instance.id)
      .where('created_at', '>', sql<Date>`now() - interval '15 minutes'`)
      .executeTakeFirstOrThrow()
    return {
      owner: instance.owner,
      instance_handle: instance.handle,
      ...options.health.view(instance.id),
      last_15_minutes: {
        attempts: recent.attempts,
        failures: recent.failures,
        error_rate: recent.attempts > 0 ? Number((recent.failures / recent.attempts).toFixed(3)) : null,
        latency_p50_ms: recent.latency_p50_ms === null ? null : Number(Number(recent.latency_p50_ms).toFixed(1)),
        latency_p95_ms: recent.latency_p95_ms === null ? null : Number(Number(recent.latency_p95_ms).toFixed(1)),
      },
    }
  })
}
