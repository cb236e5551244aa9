import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import * as service from '../definitions.js'
import type { RegistryRouteOptions } from '../routes.js'
import * as s from '../schemas.js'
import { handleFromPath } from '../../http/validation.js'


export interface DefinitionRouteOptions extends RegistryRouteOptions {
  /** `/v1/llm-definitions`, or `/v1/llm-service-definitions`, the name seed 000 proposes. */
  basePath: '/v1/llm-definitions' | '/v1/llm-service-definitions'
}

/** `/v1/llm-definitions/{user}…`: model templates, shareable; `_system`'s are global. */
export const definitionRoutes: FastifyPluginAsyncTypebox<DefinitionRouteOptions> = async (app, options) => {
  const ctx = options.context
  const alias = options.basePath !== '/v1/llm-definitions'
  const base = `${options.basePath}/:user_handle`
  const tags = [alias ? 'llm-service-definitions (alias)' : 'definitions']
  const operationId = (name: string) => `registry.${alias ? 'llmServiceDefinition' : 'definition'}.${name}`
  const summaryOf = (row: Awaited<ReturnType<typeof service.listDefinitions>>[number]) => ({
    definition_id: row.id,
    definition_handle: row.handle,
    owner: row.owner,
    is_public: row.is_public,
    kind: row.kind,
    model: row.model,
    dimensions: row.dimensions,
  })

  app.get(options.basePath, {
    schema: { operationId: operationId('listUsable'), summary: "Definitions the caller may use (the admin key: the global ones)", tags, querystring: s.ListQuery, response: { 200: s.DefinitionList, ...s.problemResponses } },
  }, async (request) => ({ definitions: (await service.listDefinitionsOfCaller(ctx(request), request.query)).map(summaryOf) }))

  app.put(`${base}/:definition_handle`, {
    schema: { operationId: operationId('put'), summary: 'Create or replace a definition', tags, params: s.DefinitionParams, body: s.DefinitionInput, response: { 201: s.DefinitionSaved, ...s.problemResponses } },
    preValidation: handleFromPath('definition_handle'),
  }, async (request, reply) =>
    reply.code(201).send(await service.putDefinition(ctx(request), request.params.user_handle, request.params.definition_handle, request.body)))

  app.post(base, {
    schema: { operationId: operationId('create'), summary: 'Create or replace a definition; the handle comes from the body', tags, params: s.UserParams, body: s.DefinitionInput, response: { 201: s.DefinitionSaved, ...s.problemResponses } },
  }, async (request, reply) => reply.code(201).send(await service.putDefinition(ctx(request), request.params.user_handle, undefined, request.body)))

  app.get(base, {
    schema: { operationId: operationId('list'), summary: 'Definitions the user may use: its own, global, public and shared ones', tags, params: s.UserParams, querystring: s.ListQuery, response: { 200: s.DefinitionList, ...s.problemResponses } },
  }, async (request) => ({ definitions: (await service.listDefinitions(ctx(request), request.params.user_handle, request.query)).map(summaryOf) }))

  app.get(`${base}/:definition_handle`, {
    schema: { operationId: operationId('get'), summary: 'Get a definition', tags, params: s.DefinitionParams, response: { 200: s.Definition, ...s.problemResponses } },
  }, async (request) => {
    const { definition } = await service.getVisibleDefinition(ctx(request), request.params.user_handle, request.params.definition_handle)
    return service.toDefinitionResponse(definition)
  })

  app.patch(`${base}/:definition_handle`, {
    schema: { operationId: operationId('patch'), summary: 'Change a definition with a JSON merge patch', tags, params: s.DefinitionParams, body: s.DefinitionPatch, response: { 200: s.Definition, ...s.problemResponses } },
  }, async (request) =>
    service.toDefinitionResponse(await service.patchDefinition(ctx(request), request.params.user_handle, request.params.definition_handle, request.body)))

  app.delete(`${base}/:definition_handle`, {
    schema: { operationId: operationId('delete'), summary: 'Delete a definition (instances built from it keep working)', tags, params: s.DefinitionParams, response: { 204: Type.Null(), ...s.problemResponses } },
  }, async (request, reply) => {
    await service.deleteDefinition(ctx(request), request.params.user_handle, request.params.definition_handle)
    return reply.code(204).send(null)
  })

  app.post(`${base}/:definition_handle/share`, {
    schema: { operationId: operationId('share'), summary: 'Share a definition with a user', tags, params: s.DefinitionParams, body: s.ShareDefinitionInput, response: { 201: s.DefinitionShares, ...s.problemResponses } },
  }, async (request, reply) =>
    reply.code(201).send(await service.shareDefinition(ctx(request), request.params.user_handle, request.params.definition_handle, request.body.share_with_handle)))

  app.delete(`${base}/:definition_handle/share/:unshare_with_handle`, {
    schema: { operationId: operationId('unshare'), summary: 'Stop sharing a definition with a user', tags, params: s.DefinitionUnshareParams, response: { 204: Type.Null(), ...s.problemResponses } },
  }, async (request, reply) => {
    await service.unshareDefinition(ctx(request), request.params.user_handle, request.params.definition_handle, request.params.unshare_with_handle)
    return reply.code(204).send(null)
  })

  app.get(`${base}/:definition_handle/shared-with`, {
    schema: { operationId: operationId('sharedWith'), summary: 'Users a definition is shared with (a bare array of handles)', tags, params: s.DefinitionParams, response: { 200: Type.Array(Type.String()), ...s.problemResponses } },
  }, async (request) => service.listDefinitionShares(ctx(request), request.params.user_handle, request.params.definition_handle))
}
