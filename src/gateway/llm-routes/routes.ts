import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { Executor } from '../../db/database.js'
import * as s from './schemas.js'
import * as service from './service.js'
import { handleFromPath } from '../../http/validation.js'

/** `/v1/routes/{user}/{route}`: named lists of instances with weights and a fallback order. */
export const llmRouteRoutes: FastifyPluginAsyncTypebox<{ db: Executor; onChange: () => void }> = async (app, { db, onChange }) => {
  const ctx = (request: { caller: service.RouteContext['caller'] }): service.RouteContext => ({ db, caller: request.caller })
  const common = { tags: ['routes'] }

  app.put('/v1/routes/:user_handle/:route_handle', {
    schema: { ...common, operationId: 'gateway.route.put', summary: 'Create or replace a route and its targets', params: s.RouteParams, body: s.RouteInput, response: { 201: s.RouteSaved, ...s.problemResponses } },
    preValidation: handleFromPath('route_handle'),
  }, async (request, reply) => {
    const saved = await service.putRoute(ctx(request), request.params.user_handle, request.params.route_handle, request.body)
    onChange()
    return reply.code(201).send(saved)
  })

  app.get('/v1/routes/:user_handle', {
    schema: { ...common, operationId: 'gateway.route.list', summary: "A user's routes with their targets", params: s.UserParams, querystring: s.ListQuery, response: { 200: s.RouteList, ...s.problemResponses } },
  }, async (request) => ({ routes: await service.listRoutes(ctx(request), request.params.user_handle, request.query) }))

  app.get('/v1/routes/:user_handle/:route_handle', {
    schema: { ...common, operationId: 'gateway.route.get', summary: 'Get a route with its targets in fallback order', params: s.RouteParams, response: { 200: s.Route, ...s.problemResponses } },
  }, async (request) => service.getRoute(ctx(request), request.params.user_handle, request.params.route_handle))

  app.delete('/v1/routes/:user_handle/:route_handle', {
    schema: { ...common, operationId: 'gateway.route.delete', summary: 'Delete a route', params: s.RouteParams, response: { 204: Type.Null(), ...s.problemResponses } },
  }, async (request, reply) => {
    await service.deleteRoute(ctx(request), request.params.user_handle, request.params.route_handle)
    onChange()
    return reply.code(204).send(null)
  })
}
