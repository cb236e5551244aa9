import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import type { Executor } from '../db/database.js'
import type { EgressPolicy } from '../egress/policy.js'
import type { JobQueue } from '../jobs/queue.js'
import type { Keyring } from '../secrets/keyring.js'
import * as s from './schemas.js'
import * as service from './service.js'

/** `/v1/webhooks/{user}…`: signed webhook endpoints, their deliveries and replays (docs/webhooks.md). */
export const webhookRoutes: FastifyPluginAsyncTypebox<{ db: Executor; keyring: Keyring; queue: JobQueue; egress: EgressPolicy; deliverAttempts: number }> = async (app, { db, keyring, queue, egress, deliverAttempts }) => {
  const ctx = (request: FastifyRequest): service.WebhooksContext => ({ db, keyring, queue, egress, deliverAttempts, caller: request.caller })
  const common = { tags: ['webhooks'] }

  app.post('/v1/webhooks/:user_handle', {
    schema: {
      ...common,
      operationId: 'webhooks.endpoint.create',
      summary: 'Add a webhook endpoint; the answer carries its signing secret, shown only this once',
      params: s.UserParams,
      body: s.EndpointInput,
      response: { 201: s.EndpointWithSecret, ...s.problemResponses },
    },
  }, async (request, reply) => {
    const endpoint = await service.createEndpoint(ctx(request), request.params.user_handle, request.body)
    reply.header('location', `/v1/webhooks/${endpoint.owner}/${endpoint.id}`)
    return reply.code(201).send(endpoint)
  })

  app.get('/v1/webhooks/:user_handle', {
    schema: { ...common, operationId: 'webhooks.endpoint.list', summary: "A user's webhook endpoints, oldest first", params: s.UserParams, querystring: s.EndpointListQuery, response: { 200: s.EndpointList, ...s.problemResponses } },
  }, async (request) => service.listEndpoints(ctx(request), request.params.user_handle, request.query))

  app.get('/v1/webhooks/:user_handle/:endpoint_id', {
    schema: { ...common, operationId: 'webhooks.endpoint.get', summary: 'A webhook endpoint (without its secret)', params: s.EndpointParams, response: { 200: s.Endpoint, ...s.problemResponses } },
  }, async (request) => service.getEndpoint(ctx(request), request.params.user_handle, request.params.endpoint_id))

  app.patch('/v1/webhooks/:user_handle/:endpoint_id', {
    schema: {
      ...common,
      operationId: 'webhooks.endpoint.update',
      summary: 'Change the URL, description or events of an endpoint, or enable or disable it',
      params: s.EndpointParams,
      body: s.EndpointPatch,
      response: { 200: s.Endpoint, ...s.problemResponses },
    },
  }, async (request) => service.patchEndpoint(ctx(request), request.params.user_handle, request.params.endpoint_id, request.body))

  app.delete('/v1/webhooks/:user_handle/:endpoint_id', {
    schema: { ...common, operationId: 'webhooks.endpoint.delete', summary: 'Delete an endpoint with its deliveries; pending ones are not sent', params: s.EndpointParams, response: { 204: Type.Null(), ...s.problemResponses } },
  }, async (request, reply) => {
    await service.deleteEndpoint(ctx(request), request.params.user_handle, request.params.endpoint_id)
    return reply.code(204).send(null)
  })

  app.post('/v1/webhooks/:user_handle/:endpoint_id/rotate-secret', {
    schema: {
      ...common,
      operationId: 'webhooks.endpoint.rotateSecret',
      summary: 'Replace the signing secret; the new one is shown only now and the old one stops signing at once',
      params: s.EndpointParams,
      response: { 200: s.EndpointWithSecret, ...s.problemResponses },
    },
  }, async (request) => service.rotateSecret(ctx(request), request.params.user_handle, request.params.endpoint_id))

  app.get('/v1/webhooks/:user_handle/:endpoint_id/deliveries', {
    schema: {
      ...common,
      operationId: 'webhooks.delivery.list',
      summary: "An endpoint's deliveries, newest first",
      params: s.EndpointParams,
      querystring: s.DeliveryListQuery,
      response: { 200: s.DeliveryList, ...s.problemResponses },
    },
  }, async (request) => service.listDeliveries(ctx(request), request.params.user_handle, request.params.endpoint_id, request.query))

  app.get('/v1/webhooks/:user_handle/:endpoint_id/deliveries/:delivery_id', {
    schema: { ...common, operationId: 'webhooks.delivery.get', summary: 'A delivery with its body and every attempt', params: s.DeliveryParams, response: { 200: s.DeliveryDetail, ...s.problemResponses } },
  }, async (request) => service.getDelivery(ctx(request), request.params.user_handle, request.params.endpoint_id, request.params.delivery_id))

  app.post('/v1/webhooks/:user_handle/:endpoint_id/deliveries/:delivery_id/replay', {
    schema: {
      ...common,
      operationId: 'webhooks.delivery.replay',
      summary: 'Send a delivery again (same webhook-id, fresh attempts), or now if it waits for a retry',
      params: s.DeliveryParams,
      response: { 200: s.Delivery, ...s.problemResponses },
    },
  }, async (request) => service.replayDelivery(ctx(request), request.params.user_handle, request.params.endpoint_id, request.params.delivery_id))
}
