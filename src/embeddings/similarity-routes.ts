import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import type { Executor } from '../db/database.js'
import { gatewayEmbedder } from './computed.js'
import type { GatewayDeps } from '../gateway/deps.js'
import type { ProjectLookup } from '../projects/lookup.js'
import { engineOf, requireVectors } from '../vectors/capability.js'
import type { VectorEngine } from '../vectors/engine.js'
import * as s from './similarity-schemas.js'
import { type SearchContext, searchById, searchByVector } from './similarity-search.js'

const tags = ['similarity search']

/** `/v1/similars/{user}/{project}…`: nearest neighbours by stored record, by vector, or by a text `gateway` embeds. */
export const similarityRoutes: FastifyPluginAsyncTypebox<{ db: Executor; engine: VectorEngine | null; vectorsUnavailable: string | null; lookup: ProjectLookup; gateway: GatewayDeps }> = async (
  app,
  { db, engine, vectorsUnavailable, lookup, gateway },
) => {
  const ctx = (request: FastifyRequest): SearchContext => ({ db, engine: engineOf(engine, vectorsUnavailable), caller: request.caller, lookup, embed: gatewayEmbedder(gateway, request) })
  app.addHook('preValidation', requireVectors(vectorsUnavailable))

  app.get('/v1/similars/:user_handle/:project_handle/:text_id', {
    config: { auth: 'optional' },
    schema: {
      operationId: 'similars.byId',
      summary: 'Records most similar to a stored record (itself excluded)',
      tags,
      params: s.SearchByIdParams,
      querystring: s.SearchQuery,
      response: { 200: s.SearchResults, ...s.problemResponses },
    },
  }, async (request) => searchById(ctx(request), request.params.user_handle, request.params.project_handle, request.params.text_id, request.query))

  // Embedding a query text writes nothing but the request log: the route stays read-only.
  app.post('/v1/similars/:user_handle/:project_handle', {
    config: { auth: 'optional', readOnly: true },
    schema: {
      operationId: 'similars.byVector',
      summary: 'Records most similar to a vector or a text (neither stored), optionally filtered by metadata',
      tags,
      params: s.SearchParams,
      querystring: s.SearchQuery,
      body: s.SearchByVector,
      response: { 200: s.SearchResults, ...s.problemResponses },
    },
  }, async (request) => searchByVector(ctx(request), request.params.user_handle, request.params.project_handle, request.body, request.query))
}
