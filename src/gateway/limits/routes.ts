import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { getOwnUser as getOwnUserOf } from '../../identity/service.js'
import { Type } from 'typebox'
import type { Executor } from '../../db/database.js'
import type { UserRow } from '../../db/tables.js'
import { AppError, errors } from '../../http/errors.js'
import { type Caller, isAdmin } from '../../identity/caller.js'
import { SYSTEM_USER } from '../../identity/handles.js'
import type { LimitEnforcer } from './enforcer.js'
import * as q from './queries.js'
import * as s from './schemas.js'

/**
 * Who may do what: a user reads its own limits; only an admin sets a user's limits (they are
 * what the operator grants), while a user may limit its own keys (to hand a key to a script
 * with a smaller budget). Anyone else gets the 404 of a user that does not exist.
 */
async function getOwnUser(db: Executor, caller: Caller, handle: string): Promise<UserRow> {
  return getOwnUserOf({ db, caller }, handle)
}

async function getOwnKey(db: Executor, caller: Caller, handle: string, pathKeyId: string) {
  const user = await getOwnUser(db, caller, handle)
  // Scopes are named by the key id as the database prints it, in lower case.
  const keyId = pathKeyId.toLowerCase()
  if (!(await q.keyBelongsTo(db, keyId, user.id))) throw new AppError('api_key_not_found', `user ${user.handle} has no key ${keyId}`)
  return { user, keyId }
}

function assertMayLimitUser(caller: Caller, user: UserRow) {
  if (!isAdmin(caller)) throw errors.forbidden(`only an admin may change the limits of user ${user.handle}; a user may limit its own keys`)
  if (user.handle === SYSTEM_USER) throw errors.forbidden('nobody can act as _system, so it has no limits')
}

const toValues = (input: s.LimitsInput): q.LimitValues => ({
  requests_per_minute: input.requests_per_minute ?? null,
  tokens_per_minute: input.tokens_per_minute ?? null,
  concurrent_requests: input.concurrent_requests ?? null,
  usd_per_day: input.usd_per_day ?? null,
  usd_per_month: input.usd_per_month ?? null,
})

type StoredLimits = Awaited<ReturnType<typeof q.findUserLimits>>

const toLimits = (row: StoredLimits): s.Limits => ({
  requests_per_minute: row?.requests_per_minute ?? null,
  tokens_per_minute: row?.tokens_per_minute ?? null,
  concurrent_requests: row?.concurrent_requests ?? null,
  usd_per_day: row?.usd_per_day == null ? null : Number(row.usd_per_day),
  usd_per_month: row?.usd_per_month == null ? null : Number(row.usd_per_month),
})

/** `/v1/limits/{user}[/keys/{key_id}]`: limits and budgets per user and per API key. */
export const limitRoutes: FastifyPluginAsyncTypebox<{ db: Executor; limits: LimitEnforcer }> = async (app, { db, limits }) => {
  const common = { tags: ['limits'] }
  const userState = async (user: UserRow) => ({ limits: toLimits(await q.findUserLimits(db, user.id)), usage: await q.readUsage(db, q.userScope(user.id)) })
  const keyState = async (keyId: string) => ({ limits: toLimits(await q.findKeyLimits(db, keyId)), usage: await q.readUsage(db, q.keyScope(keyId)) })

  app.get('/v1/limits/:user_handle', {
    schema: { ...common, operationId: 'gateway.limits.getUser', summary: "A user's limits and what it used in the current windows", params: s.UserParams, response: { 200: s.LimitsState, ...s.problemResponses } },
  }, async (request) => userState(await getOwnUser(db, request.caller, request.params.user_handle)))

  app.put('/v1/limits/:user_handle', {
    schema: { ...common, operationId: 'gateway.limits.putUser', summary: "Set a user's limits (admin); absent or null fields are no limit", params: s.UserParams, body: s.LimitsInput, response: { 200: s.LimitsState, ...s.problemResponses } },
  }, async (request) => {
    const user = await getOwnUser(db, request.caller, request.params.user_handle)
    assertMayLimitUser(request.caller, user)
    await q.upsertUserLimits(db, user.id, toValues(request.body))
    limits.clear()
    return userState(user)
  })

  app.delete('/v1/limits/:user_handle', {
    schema: { ...common, operationId: 'gateway.limits.deleteUser', summary: "Remove a user's limits (admin)", params: s.UserParams, response: { 204: Type.Null(), ...s.problemResponses } },
  }, async (request, reply) => {
    const user = await getOwnUser(db, request.caller, request.params.user_handle)
    assertMayLimitUser(request.caller, user)
    await q.deleteUserLimits(db, user.id)
    limits.clear()
    return reply.code(204).send(null)
  })

  app.get('/v1/limits/:user_handle/keys/:key_id', {
    schema: { ...common, operationId: 'gateway.limits.getKey', summary: "An API key's limits and what it used in the current windows", params: s.KeyParams, response: { 200: s.LimitsState, ...s.problemResponses } },
  }, async (request) => {
    const { keyId } = await getOwnKey(db, request.caller, request.params.user_handle, request.params.key_id)
    return keyState(keyId)
  })

  app.put('/v1/limits/:user_handle/keys/:key_id', {
    schema: { ...common, operationId: 'gateway.limits.putKey', summary: "Set an API key's limits (its owner or an admin); absent or null fields are no limit", params: s.KeyParams, body: s.LimitsInput, response: { 200: s.LimitsState, ...s.problemResponses } },
  }, async (request) => {
    const { user, keyId } = await getOwnKey(db, request.caller, request.params.user_handle, request.params.key_id)
    await q.upsertKeyLimits(db, user.id, keyId, toValues(request.body))
    limits.clear()
    return keyState(keyId)
  })

  app.delete('/v1/limits/:user_handle/keys/:key_id', {
    schema: { ...common, operationId: 'gateway.limits.deleteKey', summary: "Remove an API key's limits (its owner or an admin)", params: s.KeyParams, response: { 204: Type.Null(), ...s.problemResponses } },
  }, async (request, reply) => {
    const { keyId } = await getOwnKey(db, request.caller, request.params.user_handle, request.params.key_id)
    await q.deleteKeyLimits(db, keyId)
    limits.clear()
    return reply.code(204).send(null)
  })
}
