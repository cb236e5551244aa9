import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { sql } from 'kysely'
import { type Static, Type } from 'typebox'
import type { Executor } from '../../db/database.js'
import { AppError, errors } from '../../http/errors.js'
import { problemResponses } from '../../http/schemas.js'
import { UserHandleParam } from '../../identity/handle-schemas.js'
import { isAdmin, isUser } from '../../identity/caller.js'
import { normalizeHandle } from '../../identity/handles.js'
import { findUserByHandle } from '../../identity/queries.js'
import type { RequestLogWriter } from './log-writer.js'

const UsageQuery = Type.Object({
  from: Type.Optional(Type.String({ format: 'date-time', description: 'Start (inclusive); default 30 days ago' })),
  to: Type.Optional(Type.String({ format: 'date-time', description: 'End (exclusive); default now' })),
  group_by: Type.Union([Type.Literal('day'), Type.Literal('model'), Type.Literal('instance'), Type.Literal('user')], { default: 'day' }),
})
const RequestsQuery = Type.Object({
  limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
  before: Type.Optional(Type.String({ format: 'date-time', description: 'Only calls made before this time (the `next_before` of the previous page)' })),
  model: Type.Optional(Type.String({ maxLength: 200 })),
  operation: Type.Optional(Type.Union([Type.Literal('chat'), Type.Literal('messages'), Type.Literal('embeddings')])),
  status: Type.Optional(Type.Integer({ minimum: 100, maximum: 599 })),
  errors_only: Type.Optional(Type.Boolean()),
})
const UserParams = Type.Object({ user_handle: UserHandleParam })
const RequestParams = Type.Object({ user_handle: UserHandleParam, id: Type.String({ format: 'uuid' }) })

const money = (value: string | number | null) => (value === null ? null : Number(value))

/**
 * `GET /v1/usage/{user}` and `GET /v1/requests/{user}`: what the gateway log says a user
 * spent and did. A user reads their own; an admin reads anyone's, and everyone's at
 * `/v1/usage` and `/v1/requests`. The log is written in batches a second or so after each
 * call (`LLMBASE_GATEWAY_LOG_FLUSH_MS`), so the newest calls appear with that delay.
 */
export const accountingRoutes: FastifyPluginAsyncTypebox<{ db: Executor; log: RequestLogWriter }> = async (app, { db }) => {
  async function subject(caller: Parameters<typeof isAdmin>[0], handle: string | undefined): Promise<number | null> {
    if (handle === undefined) {
      if (!isAdmin(caller)) throw errors.forbidden('only an admin may read every user\'s usage; name a user: /v1/usage/{user}')
      return null
    }
    const normalized = normalizeHandle(handle)
    const user = isAdmin(caller) || isUser(caller, normalized) ? await findUserByHandle(db, normalized) : undefined
    if (!user) throw errors.userNotFound(normalized)
    return user.id
  }

  const usage = async (userId: number | null, query: { from?: string | undefined; to?: string | undefined; group_by: string }) => {
    const to = query.to ? new Date(query.to) : new Date()
    const from = query.from ? new Date(query.from) : new Date(to.getTime() - 30 * 86_400_000)
    if (from >= to) throw new AppError('bad_request', 'from must be before to')
    const key = {
      day: sql<string>`to_char(r.created_at at time zone 'UTC', 'YYYY-MM-DD')`,
      model: sql<string>`r.model`,
      instance: sql<string>`coalesce(u2.handle || '/' || i.handle, '(deleted)')`,
      user: sql<string>`u.handle`,
    }[query.group_by as 'day' | 'model' | 'instance' | 'user']
    const rows = await db
      .selectFrom('llm_requests as r')
      .innerJoin('users as u', 'u.id', 'r.user_id')
      .leftJoin('llm_instances as i', 'i.id', 'r.instance_id')
      .leftJoin('users as u2', 'u2.id', 'i.owner_id')
      .select([
        key.as('key'),
        sql<number>`count(*)::int`.as('requests'),
        sql<number>`(count(*) filter (where r.status >= 400 or r.error_code is not null))::int`.as('errors'),
        sql<number>`(count(*) filter (where r.cache = 'hit'))::int`.as('cache_hits'),
        sql<number>`coalesce(sum(r.prompt_tokens), 0)::bigint`.as('prompt_tokens'),
        sql<number>`coalesce(sum(r.completion_tokens), 0)::bigint`.as('completion_tokens'),
        sql<number>`coalesce(sum(r.total_tokens), 0)::bigint`.as('total_tokens'),
        sql<string>`coalesce(sum(r.cost_usd), 0)`.as('cost_usd'),
        sql<number>`(count(*) filter (where r.cost_usd is null and r.total_tokens > 0))::int`.as('unpriced_requests'),
      ])
      .where('r.created_at', '>=', from)
      .where('r.created_at', '<', to)
      .$if(userId !== null, (qb) => qb.where('r.user_id', '=', userId as number))
      .groupBy(key)
      .orderBy(key)
      .execute()
    const converted = rows.map((row) => ({ ...row, cost_usd: money(row.cost_usd) as number }))
    const totals = converted.reduce(
      (sum, row) => ({
        requests: sum.requests + row.requests,
        errors: sum.errors + row.errors,
        cache_hits: sum.cache_hits + row.cache_hits,
        prompt_tokens: sum.prompt_tokens + Number(row.prompt_tokens),
        completion_tokens: sum.completion_tokens + Number(row.completion_tokens),
        total_tokens: sum.total_tokens + Number(row.total_tokens),
        cost_usd: sum.cost_usd + row.cost_usd,
        unpriced_requests: sum.unpriced_requests + row.unpriced_requests,
      }),
      { requests: 0, errors: 0, cache_hits: 0, prompt_tokens: 0, completion_tokens: 0, total_tokens: 0, cost_usd: 0, unpriced_requests: 0 },
    )
    return { from: from.toISOString(), to: to.toISOString(), group_by: query.group_by, rows: converted, totals: { ...totals, cost_usd: Number(totals.cost_usd.toFixed(10)) } }
  }

  const common = { tags: ['gateway'] }
  app.get('/v1/usage/:user_handle', {
    schema: { ...common, operationId: 'gateway.usage', summary: "A user's gateway usage: requests, tokens and cost by day, model or instance, with totals", params: UserParams, querystring: UsageQuery, response: problemResponses },
  }, async (request) => usage(await subject(request.caller, request.params.user_handle), request.query))
  app.get('/v1/usage', {
    schema: { ...common, operationId: 'gateway.usageAll', summary: "Every user's gateway usage (admin)", querystring: UsageQuery, response: problemResponses },
  }, async (request) => usage(await subject(request.caller, undefined), request.query))

  const requests = async (userId: number | null, query: Static<typeof RequestsQuery>) => {
    const rows = await db
      .selectFrom('llm_requests as r')
      .innerJoin('users as u', 'u.id', 'r.user_id')
      .leftJoin('llm_instances as i', 'i.id', 'r.instance_id')
      .leftJoin('users as u2', 'u2.id', 'i.owner_id')
      .select([
        'r.id', 'r.request_id', 'u.handle as user', 'r.created_at', 'r.operation', 'r.model', 'r.stream', 'r.status', 'r.error_code',
        'r.error_message', 'r.cache', 'r.attempts', 'r.prompt_tokens', 'r.completion_tokens', 'r.cached_tokens', 'r.total_tokens',
        'r.cost_usd', 'r.latency_ms', 'r.ttft_ms', sql<string | null>`u2.handle || '/' || i.handle`.as('instance'),
      ])
      .$if(userId !== null, (qb) => qb.where('r.user_id', '=', userId as number))
      .$if(query.before !== undefined, (qb) => qb.where('r.created_at', '<', new Date(query.before as string)))
      .$if(query.model !== undefined, (qb) => qb.where('r.model', '=', query.model as string))
      .$if(query.operation !== undefined, (qb) => qb.where('r.operation', '=', query.operation as 'chat'))
      .$if(query.status !== undefined, (qb) => qb.where('r.status', '=', query.status as number))
      .$if(query.errors_only === true, (qb) => qb.where((eb) => eb.or([eb('r.status', '>=', 400), eb('r.error_code', 'is not', null)])))
      .orderBy('r.created_at', 'desc')
      .orderBy('r.id')
      .limit(query.limit)
      .execute()
    const last = rows[rows.length - 1]
    return {
      requests: rows.map((row) => ({ ...row, created_at: row.created_at.toISOString(), cost_usd: money(row.cost_usd) })),
      next_before: rows.length === query.limit && last ? last.created_at.toISOString() : null,
    }
  }
  app.get('/v1/requests/:user_handle', {
    schema: { ...common, operationId: 'gateway.requests', summary: "A user's gateway calls, newest first, with filters", params: UserParams, querystring: RequestsQuery, response: problemResponses },
  }, async (request) => requests(await subject(request.caller, request.params.user_handle), request.query))
  app.get('/v1/requests', {
    schema: { ...common, operationId: 'gateway.requestsAll', summary: "Every user's gateway calls (admin)", querystring: RequestsQuery, response: problemResponses },
  }, async (request) => requests(await subject(request.caller, undefined), request.query))

  app.get('/v1/requests/:user_handle/:id', {
    schema: { ...common, operationId: 'gateway.request', summary: 'One gateway call with every upstream attempt', params: RequestParams, response: problemResponses },
  }, async (request) => {
    const userId = await subject(request.caller, request.params.user_handle)
    const row = await db.selectFrom('llm_requests').selectAll().where('id', '=', request.params.id).$if(userId !== null, (qb) => qb.where('user_id', '=', userId as number)).executeTakeFirst()
    if (!row) throw new AppError('not_found', `no gateway call ${request.params.id} for ${normalizeHandle(request.params.user_handle)}`)
    const attempts = await db
      .selectFrom('llm_responses as a')
      .leftJoin('llm_instances as i', 'i.id', 'a.instance_id')
      .leftJoin('users as u', 'u.id', 'i.owner_id')
      .select([
        'a.attempt', 'a.provider', 'a.model', 'a.status', 'a.error_code', 'a.error_message', 'a.latency_ms', 'a.ttft_ms', 'a.prompt_tokens',
        'a.completion_tokens', 'a.cached_tokens', 'a.cost_usd', 'a.created_at', sql<string | null>`u.handle || '/' || i.handle`.as('instance'),
      ])
      .where('a.llm_request_id', '=', row.id)
      .orderBy('a.attempt')
      .execute()
    return {
      ...row,
      created_at: row.created_at.toISOString(),
      cost_usd: money(row.cost_usd),
      attempts: attempts.map((a) => ({ ...a, created_at: a.created_at.toISOString(), cost_usd: money(a.cost_usd) })),
    }
  })
}
