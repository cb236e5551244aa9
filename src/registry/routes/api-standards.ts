import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import * as service from '../api-standards.js'
import type { RegistryRouteOptions } from '../routes.js'
import * as s from '../schemas.js'
import { handleFromPath } from '../../http/validation.js'

const tags = ['api-standards']

/** `/v1/api-standards…`: public reads, admin writes. */
export const apiStandardRoutes: FastifyPluginAsyncTypebox<RegistryRouteOptions> = async (app, options) => {
  const ctx = options.context

  app.get('/v1/api-standards', {
    config: { auth: 'optional' },
    schema: { operationId: 'registry.apiStandard.list', summary: 'List API standards (no key needed)', tags, security: [], querystring: s.ApiStandardsQuery, response: { 200: s.ApiStandardList, ...s.problemResponses } },
  }, async (request) => ({ api_standards: (await service.listApiStandards(ctx(request), request.query)).map(service.toApiStandardResponse) }))

  app.get('/v1/api-standards/:api_standard_handle', {
    config: { auth: 'optional' },
    schema: { operationId: 'registry.apiStandard.get', summary: 'Get an API standard (no key needed)', tags, security: [], params: s.ApiStandardParams, response: { 200: s.ApiStandard, ...s.problemResponses } },
  }, async (request) => service.toApiStandardResponse(await service.getApiStandard(ctx(request), request.params.api_standard_handle)))

  const saved = Type.Object({ api_standard_handle: Type.String() })
  app.put('/v1/api-standards/:api_standard_handle', {
    schema: { operationId: 'registry.apiStandard.put', summary: 'Create or replace an API standard (admin)', tags, params: s.ApiStandardParams, body: s.ApiStandardInput, response: { 201: saved, ...s.problemResponses } },
    preValidation: handleFromPath('api_standard_handle'),
  }, async (request, reply) => {
    const row = await service.putApiStandard(ctx(request), request.params.api_standard_handle, request.body)
    return reply.code(201).send({ api_standard_handle: row.handle })
  })

  app.post('/v1/api-standards', {
    schema: { operationId: 'registry.apiStandard.create', summary: 'Create or replace an API standard (admin); the handle comes from the body', tags, body: s.ApiStandardInput, response: { 201: saved, ...s.problemResponses } },
  }, async (request, reply) => {
    const row = await service.putApiStandard(ctx(request), undefined, request.body)
    return reply.code(201).send({ api_standard_handle: row.handle })
  })

  app.patch('/v1/api-standards/:api_standard_handle', {
    schema: { operationId: 'registry.apiStandard.patch', summary: 'Change an API standard with a JSON merge patch (admin)', tags, params: s.ApiStandardParams, body: s.ApiStandardPatch, response: { 200: s.ApiStandard, ...s.problemResponses } },
  }, async (request) => service.toApiStandardResponse(await service.patchApiStandard(ctx(request), request.params.api_standard_handle, request.body)))

  app.delete('/v1/api-standards/:api_standard_handle', {
    schema: { operationId: 'registry.apiStandard.delete', summary: 'Delete an API standard that nothing uses (admin)', tags, params: s.ApiStandardParams, response: { 204: Type.Null(), ...s.problemResponses } },
  }, async (request, reply) => {
    await service.deleteApiStandard(ctx(request), request.params.api_standard_handle)
    return reply.code(204).send(null)
  })
}
