import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { Executor } from '../db/database.js'
import type { ApiKeyVerifier } from './api-keys.js'
import * as s from './schemas.js'
import * as service from './service.js'
import { handleFromPath } from '../http/validation.js'

export interface IdentityRoutesOptions {
  db: Executor
  keys: ApiKeyVerifier
}

const tags = ['users']

/** `/v1/users…`: the users part of the reference API plus API key management. */
export const identityRoutes: FastifyPluginAsyncTypebox<IdentityRoutesOptions> = async (app, { db, keys }) => {
  const ctx = (request: { caller: service.IdentityContext['caller'] }) => ({ db, keys, caller: request.caller })

  app.put('/v1/users/:user_handle', {
    schema: {
      operationId: 'identity.user.put',
      summary: 'Create or replace a user (admin)',
      description: 'Creates the user and returns its first API key once, or updates name, email and role of an existing user (the key is "not changed").',
      tags,
      params: s.UserParams,
      body: s.UserInput,
      response: { 201: s.UserCreated, ...s.problemResponses },
    },
    preValidation: handleFromPath('user_handle'),
  }, async (request, reply) => reply.code(201).send(await service.putUser(ctx(request), request.params.user_handle, request.body)))

  app.post('/v1/users', {
    schema: {
      operationId: 'identity.user.create',
      summary: 'Create or replace a user (admin); the handle comes from the body',
      tags,
      body: s.UserInput,
      response: { 201: s.UserCreated, ...s.problemResponses },
    },
  }, async (request, reply) => reply.code(201).send(await service.putUser(ctx(request), undefined, request.body)))

  app.get('/v1/users', {
    schema: {
      operationId: 'identity.user.list',
      summary: 'List user handles (admin)',
      tags,
      querystring: s.UsersQuery,
      response: { 200: Type.Array(Type.String()), ...s.problemResponses },
    },
  }, async (request) => service.listUsers(ctx(request), request.query))

  app.get('/v1/users/:user_handle', {
    schema: {
      operationId: 'identity.user.get',
      summary: 'Get a user (the user itself or an admin)',
      tags,
      params: s.UserParams,
      response: { 200: s.User, ...s.problemResponses },
    },
  }, async (request) => {
    const context = ctx(request)
    return service.describeUser(context, await service.getVisibleUser(context, request.params.user_handle))
  })

  app.patch('/v1/users/:user_handle', {
    schema: {
      operationId: 'identity.user.patch',
      summary: 'Change a user with a JSON merge patch',
      description: 'The user may change its own name and email; only an admin changes the role.',
      tags,
      params: s.UserParams,
      body: s.UserPatch,
      response: { 200: s.User, ...s.problemResponses },
    },
  }, async (request) => {
    const context = ctx(request)
    return service.describeUser(context, await service.patchUser(context, request.params.user_handle, request.body))
  })

  app.delete('/v1/users/:user_handle', {
    schema: {
      operationId: 'identity.user.delete',
      summary: 'Delete a user and everything it owns (the user itself or an admin)',
      tags,
      params: s.UserParams,
      response: { 204: Type.Null(), ...s.problemResponses },
    },
  }, async (request, reply) => {
    await service.deleteUser(ctx(request), request.params.user_handle)
    return reply.code(204).send(null)
  })

  app.post('/v1/users/:user_handle/keys', {
    schema: {
      operationId: 'identity.key.create',
      summary: 'Create an API key; the key is shown only in this response',
      tags,
      params: s.UserParams,
      body: s.KeyInput,
      response: { 201: s.KeyCreated, ...s.problemResponses },
    },
    // Every field is optional, so no body at all means "a key with defaults".
    preValidation: async (request) => {
      request.body ??= {}
    },
  }, async (request, reply) => {
    const { key, row } = await service.createKey(ctx(request), request.params.user_handle, request.body)
    return reply.code(201).send({ ...service.toKeyResponse(row), key })
  })

  app.get('/v1/users/:user_handle/keys', {
    schema: {
      operationId: 'identity.key.list',
      summary: "List a user's API keys (never the keys themselves)",
      tags,
      params: s.UserParams,
      querystring: s.KeysQuery,
      response: { 200: s.KeyList, ...s.problemResponses },
    },
  }, async (request) => ({
    keys: (await service.listKeys(ctx(request), request.params.user_handle, request.query)).map(service.toKeyResponse),
  }))

  app.delete('/v1/users/:user_handle/keys/:key_id', {
    schema: {
      operationId: 'identity.key.revoke',
      summary: 'Revoke an API key (takes effect within one second on every server)',
      tags,
      params: s.KeyParams,
      response: { 204: Type.Null(), ...s.problemResponses },
    },
  }, async (request, reply) => {
    await service.revokeKey(ctx(request), request.params.user_handle, request.params.key_id)
    return reply.code(204).send(null)
  })
}
