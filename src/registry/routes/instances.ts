import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import * as service from '../instances.js'
import type { RegistryRouteOptions } from '../routes.js'
import * as s from '../schemas.js'

export interface InstanceRouteOptions extends RegistryRouteOptions {
  /** `/v1/llm-instances`, or the deprecated alias `/v1/llm-services` of the seed documents. */
  basePath: '/v1/llm-instances' | '/v1/llm-services'
}

/** The old body field `llm_service_handle` names the instance too. */
async function acceptLegacyHandle(request: FastifyRequest) {
  const body = request.body as Record<string, unknown> | undefined
  if (body && typeof body === 'object' && 'llm_service_handle' in body) {
    body.instance_handle ??= body.llm_service_handle
    delete body.llm_service_handle
  }
}

/** `/v1/llm-instances/{user}…`: a user's configured models with their encrypted keys. */
export const instanceRoutes: FastifyPluginAsyncTypebox<InstanceRouteOptions> = async (app, options) => {
  const ctx = options.context
  const legacy = options.basePath === '/v1/llm-services'
  const base = `${options.basePath}/:user_handle`
  const op = (name: string) => (legacy ? `registry.llmService.${name}` : `registry.instance.${name}`)
  const common = { tags: [legacy ? 'llm-services (deprecated)' : 'instances'], ...(legacy ? { deprecated: true } : {}) }

  app.put(`${base}/:instance_handle`, {
    schema: { ...common, operationId: op('put'), summary: 'Create or replace an instance (an absent api_key keeps the stored key)', params: s.InstanceParams, body: s.InstanceInput, response: { 201: s.InstanceSaved, ...s.problemResponses } },
    preValidation: acceptLegacyHandle,
  }, async (request, reply) =>
    reply.code(201).send(await service.putInstance(ctx(request), request.params.user_handle, request.params.instance_handle, request.body)))

  app.post(base, {
    schema: { ...common, operationId: op('create'), summary: 'Create or replace an instance; the handle comes from the body', params: s.UserParams, body: s.InstanceInput, response: { 201: s.InstanceSaved, ...s.problemResponses } },
    preValidation: acceptLegacyHandle,
  }, async (request, reply) => reply.code(201).send(await service.putInstance(ctx(request), request.params.user_handle, undefined, request.body)))

  app.post(`${base}/from-definition`, {
    schema: { ...common, operationId: op('fromDefinition'), summary: 'Create an instance from a definition; fields not given come from the definition', params: s.UserParams, body: s.FromDefinitionInput, response: { 201: s.InstanceSaved, ...s.problemResponses } },
  }, async (request, reply) => reply.code(201).send(await service.createInstanceFromDefinition(ctx(request), request.params.user_handle, request.body)))

  app.get(base, {
    schema: { ...common, operationId: op('list'), summary: 'Instances the user owns or has been given, with its role on each', params: s.UserParams, querystring: s.ListQuery, response: { 200: s.InstanceList, ...s.problemResponses } },
  }, async (request) => ({
    instances: (await service.listInstances(ctx(request), request.params.user_handle, request.query)).map((row) => ({
      owner: row.owner,
      instance_handle: row.handle,
      instance_id: row.id,
      access_role: row.role,
      kind: row.kind,
      model: row.model,
      dimensions: row.dimensions,
    })),
  }))

  app.get(`${base}/:instance_handle`, {
    schema: { ...common, operationId: op('get'), summary: 'Get an instance (never its key)', params: s.InstanceParams, response: { 200: s.Instance, ...s.problemResponses } },
  }, async (request) => {
    const context = ctx(request)
    const { instance, role } = await service.getVisibleInstance(context, request.params.user_handle, request.params.instance_handle)
    return service.toInstanceResponse(context.keyring, instance, role)
  })

  app.patch(`${base}/:instance_handle`, {
    schema: { ...common, operationId: op('patch'), summary: 'Change an instance with a JSON merge patch (editors: non-secret fields only)', params: s.InstanceParams, body: s.InstancePatch, response: { 200: s.Instance, ...s.problemResponses } },
  }, async (request) => {
    const context = ctx(request)
    const { instance, role } = await service.patchInstance(context, request.params.user_handle, request.params.instance_handle, request.body)
    return service.toInstanceResponse(context.keyring, instance, role)
  })

  app.delete(`${base}/:instance_handle`, {
    schema: { ...common, operationId: op('delete'), summary: 'Delete an instance (owner or admin)', params: s.InstanceParams, response: { 204: Type.Null(), ...s.problemResponses } },
  }, async (request, reply) => {
    await service.deleteInstance(ctx(request), request.params.user_handle, request.params.instance_handle)
    return reply.code(204).send(null)
  })

  app.post(`${base}/:instance_handle/share`, {
    schema: { ...common, operationId: op('share'), summary: 'Share an instance as reader or editor (sharing again changes the role)', params: s.InstanceParams, body: s.ShareInstanceInput, response: { 201: s.InstanceShares, ...s.problemResponses } },
  }, async (request, reply) =>
    reply.code(201).send(await service.shareInstance(ctx(request), request.params.user_handle, request.params.instance_handle, request.body.share_with_handle, request.body.role)))

  app.delete(`${base}/:instance_handle/share/:unshare_with_handle`, {
    schema: { ...common, operationId: op('unshare'), summary: 'Stop sharing an instance with a user', params: s.InstanceUnshareParams, response: { 204: Type.Null(), ...s.problemResponses } },
  }, async (request, reply) => {
    await service.unshareInstance(ctx(request), request.params.user_handle, request.params.instance_handle, request.params.unshare_with_handle)
    return reply.code(204).send(null)
  })

  app.get(`${base}/:instance_handle/shared-with`, {
    schema: { ...common, operationId: op('sharedWith'), summary: 'Users an instance is shared with, and their roles', params: s.InstanceParams, response: { 200: s.InstanceShares, ...s.problemResponses } },
  }, async (request) => service.listInstanceShares(ctx(request), request.params.user_handle, request.params.instance_handle))
}
