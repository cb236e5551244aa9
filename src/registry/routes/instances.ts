import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import * as service from '../instances.js'
import type { RegistryRouteOptions } from '../routes.js'
import * as s from '../schemas.js'
import { errors } from '../../http/errors.js'
import { checkBody, compileRequestSchema, handleFromPath } from '../../http/validation.js'

export interface InstanceRouteOptions extends RegistryRouteOptions {
  /**
   * `/v1/llm-instances`, or an alias from the seed documents: `/v1/llm-services` (the older
   * name, deprecated) and `/v1/llm-service-instances` (the name seed 000 proposes).
   */
  basePath: '/v1/llm-instances' | '/v1/llm-services' | '/v1/llm-service-instances'
}

/** The old body field `llm_service_handle` names the instance too. */
async function acceptLegacyHandle(request: FastifyRequest) {
  const body = request.body as Record<string, unknown> | undefined
  if (body && typeof body === 'object' && 'llm_service_handle' in body) {
    body.instance_handle ??= body.llm_service_handle
    delete body.llm_service_handle
  }
}

const OPERATION_PREFIX = { '/v1/llm-instances': 'registry.instance', '/v1/llm-services': 'registry.llmService', '/v1/llm-service-instances': 'registry.llmServiceInstance' } as const
const TAG = { '/v1/llm-instances': 'instances', '/v1/llm-services': 'llm-services (deprecated)', '/v1/llm-service-instances': 'llm-service-instances (alias)' } as const

/** The role of a share whose target is in the path: an optional `{"role"}` body. */
function shareRoleOf(body: unknown): 'reader' | 'editor' {
  if (body === undefined || body === null || body === '') return 'reader'
  const issues = checkBody(s.ShareRoleInput, body)
  if (issues.length > 0) throw errors.validation(issues)
  return (body as { role?: 'reader' | 'editor' }).role ?? 'reader'
}

/** `/v1/llm-instances/{user}…`: a user's configured models with their encrypted keys. */
export const instanceRoutes: FastifyPluginAsyncTypebox<InstanceRouteOptions> = async (app, options) => {
  const ctx = options.context
  const legacy = options.basePath === '/v1/llm-services'
  const base = `${options.basePath}/:user_handle`
  const op = (name: string) => `${OPERATION_PREFIX[options.basePath]}.${name}`
  const common = { tags: [TAG[options.basePath]], ...(legacy ? { deprecated: true } : {}) }
  /** Every create answers with the instance as a GET would show it (never its key). */
  const saved = async (request: FastifyRequest, result: { owner: string; instance_handle: string }) => {
    const context = ctx(request)
    const { instance, role } = await service.getVisibleInstance(context, result.owner, result.instance_handle)
    return service.toInstanceResponse(context.keyring, instance, role)
  }

  app.put(`${base}/:instance_handle`, {
    schema: { ...common, operationId: op('put'), summary: 'Create or replace an instance (the handle in the body is optional; an absent api_key keeps the stored key)', params: s.InstanceParams, body: s.InstanceInput, response: { 201: s.Instance, ...s.problemResponses } },
    preValidation: [acceptLegacyHandle, handleFromPath('instance_handle')],
  }, async (request, reply) => {
    reply.code(201)
    return saved(request, await service.putInstance(ctx(request), request.params.user_handle, request.params.instance_handle, request.body))
  })

  app.post(base, {
    schema: { ...common, operationId: op('create'), summary: 'Create or replace an instance; the handle comes from the body', params: s.UserParams, body: s.InstanceInput, response: { 201: s.Instance, ...s.problemResponses } },
    preValidation: acceptLegacyHandle,
  }, async (request, reply) => {
    reply.code(201)
    return saved(request, await service.putInstance(ctx(request), request.params.user_handle, undefined, request.body))
  })

  app.post(`${base}/from-definition`, {
    schema: { ...common, operationId: op('fromDefinition'), summary: 'Create an instance from a definition; fields not given come from the definition', params: s.UserParams, body: s.FromDefinitionInput, response: { 201: s.Instance, ...s.problemResponses } },
  }, async (request, reply) => {
    reply.code(201)
    return saved(request, await service.createInstanceFromDefinition(ctx(request), request.params.user_handle, request.body))
  })

  app.post(`${base}/from-definition/:definition_handle`, {
    schema: {
      ...common,
      operationId: op('fromNamedDefinition'),
      summary: 'Create an instance from the definition in the path (instance_handle defaults to the definition handle)',
      params: s.FromDefinitionParams,
      body: s.FromDefinitionInput,
      response: { 201: s.Instance, ...s.problemResponses },
    },
    preValidation: [handleFromPath('definition_handle'), handleFromPath('instance_handle', 'definition_handle')],
  }, async (request, reply) => {
    reply.code(201)
    return saved(request, await service.createInstanceFromDefinition(ctx(request), request.params.user_handle, request.body))
  })

  // Seed 000's options B and C: `POST …/{user}/{handle}` with `definition_owner`,
  // `definition_handle` and `api_key` makes an instance from that definition at this path;
  // without `definition_handle` the body is a whole instance, as for PUT.
  app.post(`${base}/:instance_handle`, {
    schema: {
      ...common,
      operationId: op('createAt'),
      summary: 'Create an instance at this path: from a definition (definition_handle, definition_owner, api_key) or from all its fields',
      params: s.InstanceParams,
      body: s.InstanceOrFromDefinition,
      response: { 201: s.Instance, ...s.problemResponses },
    },
    preValidation: [acceptLegacyHandle, handleFromPath('instance_handle')],
    // The body is one of two shapes, told apart by `definition_handle`; each is checked whole
    // below, so that errors name fields rather than "must match one of two schemas".
    validatorCompiler: ({ schema, httpPart }) => (httpPart === 'body' ? () => true : compileRequestSchema(schema, httpPart)),
  }, async (request, reply) => {
    const body = request.body as Record<string, unknown>
    const fromDefinition = body !== null && typeof body === 'object' && 'definition_handle' in body
    const issues = checkBody(fromDefinition ? s.FromDefinitionInput : s.InstanceInput, body)
    if (issues.length > 0) throw errors.validation(issues)
    const context = ctx(request)
    const result = fromDefinition
      ? await service.createInstanceFromDefinition(context, request.params.user_handle, body as s.FromDefinitionInput, request.params.instance_handle)
      : await service.putInstance(context, request.params.user_handle, request.params.instance_handle, body as s.InstanceInput)
    reply.code(201)
    return saved(request, result)
  })

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

  // Seed 000's form: the user in the path, the role (default reader) in an optional body.
  app.post(`${base}/:instance_handle/share/:share_with_handle`, {
    schema: { ...common, operationId: op('shareWith'), summary: 'Share an instance with the user in the path; body {"role"} optional (default reader)', params: s.InstanceShareParams, response: { 201: s.InstanceShares, ...s.problemResponses } },
  }, async (request, reply) => {
    const role = shareRoleOf(request.body)
    reply.code(201)
    return service.shareInstance(ctx(request), request.params.user_handle, request.params.instance_handle, request.params.share_with_handle, role)
  })

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
