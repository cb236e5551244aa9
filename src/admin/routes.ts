import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { Database } from '../db/database.js'
import { errors } from '../http/errors.js'
import { problemResponses } from '../http/schemas.js'
import type { ApiKeyVerifier } from '../identity/api-keys.js'
import { isAdmin } from '../identity/caller.js'
import type { VectorEngine } from '../vectors/engine.js'
import { resetAll, sanityCheck } from './service.js'

const tags = ['admin']

const SanityReport = Type.Object({
  status: Type.Union([Type.Literal('PASSED'), Type.Literal('WARNING'), Type.Literal('FAILED')]),
  total_projects: Type.Integer(),
  issues_count: Type.Integer(),
  warnings_count: Type.Integer(),
  issues: Type.Array(Type.String(), { description: 'At most 1,000; issues_count has the total' }),
  warnings: Type.Array(Type.String()),
})

/** `/v1/admin/…`: the audit of stored data, and the reset for test setups. */
export const adminRoutes: FastifyPluginAsyncTypebox<{ database: Database; engine: VectorEngine | null; keys: Pick<ApiKeyVerifier, 'invalidate'>; allowReset: boolean }> = async (
  app,
  { database, engine, keys, allowReset },
) => {
  app.get('/v1/admin/sanity-check', {
    schema: { operationId: 'admin.sanityCheck', summary: 'Check stored embeddings against their instances and metadata schemas (admin)', tags, response: { 200: SanityReport, ...problemResponses } },
  }, async (request) => {
    if (!isAdmin(request.caller)) throw errors.forbidden('only an admin may run the sanity check')
    return sanityCheck(database.db)
  })

  const reset = async (request: { caller: Parameters<typeof resetAll>[2]['caller'] }, reply: { code: (n: number) => { send: (body: null) => unknown } }) => {
    await resetAll(database, engine, { allowed: allowReset, caller: request.caller })
    keys.invalidate()
    return reply.code(204).send(null)
  }
  app.post('/v1/admin/reset', {
    schema: { operationId: 'admin.reset', summary: 'Wipe all data but the migration history (only with LLMBASE_ALLOW_RESET=true)', tags, response: { 204: Type.Null(), ...problemResponses } },
  }, reset)
  app.get('/v1/admin/footgun', {
    schema: { operationId: 'admin.footgun', summary: 'The reference API\'s name for POST /v1/admin/reset (only with LLMBASE_ALLOW_RESET=true)', tags, deprecated: true, response: { 204: Type.Null(), ...problemResponses } },
  }, reset)
}
