import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import type { Executor } from '../db/database.js'
import type { ProjectLookup } from './lookup.js'
import type { VectorEngine } from '../vectors/engine.js'
import * as s from './schemas.js'
import * as service from './service.js'
import { handleFromPath } from '../http/validation.js'

const tags = ['projects']

/** `/v1/projects/{user}…`: projects, their sharing and transfer. */
export const projectRoutes: FastifyPluginAsyncTypebox<{ db: Executor; engine: VectorEngine | null; lookup: ProjectLookup }> = async (app, { db, engine, lookup }) => {
  const ctx = (request: FastifyRequest): service.ProjectsContext => ({ db, engine, caller: request.caller, lookup: request.method === 'GET' ? lookup : undefined })
  const base = '/v1/projects/:user_handle'

  app.put(`${base}/:project_handle`, {
    schema: { operationId: 'projects.put', summary: 'Create or replace a project', tags, params: s.ProjectParams, body: s.ProjectInput, response: { 201: s.ProjectBrief, ...s.problemResponses } },
    preValidation: handleFromPath('project_handle'),
  }, async (request, reply) => reply.code(201).send(await service.putProject(ctx(request), request.params.user_handle, request.params.project_handle, request.body)))

  // Seed 000 creates a project with POST at its own path; the same as PUT.
  app.post(`${base}/:project_handle`, {
    schema: { operationId: 'projects.createAt', summary: 'Create or replace a project at this path (as PUT)', tags, params: s.ProjectParams, body: s.ProjectInput, response: { 201: s.ProjectBrief, ...s.problemResponses } },
    preValidation: handleFromPath('project_handle'),
  }, async (request, reply) => reply.code(201).send(await service.putProject(ctx(request), request.params.user_handle, request.params.project_handle, request.body)))

  app.post(base, {
    schema: { operationId: 'projects.create', summary: 'Create or replace a project; the handle comes from the body', tags, params: s.UserParams, body: s.ProjectInput, response: { 201: s.ProjectBrief, ...s.problemResponses } },
  }, async (request, reply) => reply.code(201).send(await service.putProject(ctx(request), request.params.user_handle, undefined, request.body)))

  app.get(base, {
    schema: { operationId: 'projects.list', summary: 'Projects the user owns or was given', tags, params: s.UserParams, querystring: s.ProjectsQuery, response: { 200: s.ProjectList, ...s.problemResponses } },
  }, async (request) => ({ projects: await service.listProjects(ctx(request), request.params.user_handle, request.query) }))

  app.get(`${base}/:project_handle`, {
    config: { auth: 'optional' },
    schema: { operationId: 'projects.get', summary: 'Get a project (no key needed for public projects)', tags, params: s.ProjectParams, response: { 200: s.Project, ...s.problemResponses } },
  }, async (request) => {
    const context = ctx(request)
    const { project, role } = await service.getVisibleProject(context, request.params.user_handle, request.params.project_handle)
    return service.describeProject(context, project, role)
  })

  app.patch(`${base}/:project_handle`, {
    schema: { operationId: 'projects.patch', summary: 'Change a project with a JSON merge patch', tags, params: s.ProjectParams, body: s.ProjectPatch, response: { 200: s.Project, ...s.problemResponses } },
  }, async (request) => {
    const context = ctx(request)
    const { project, role } = await service.patchProject(context, request.params.user_handle, request.params.project_handle, request.body)
    return service.describeProject(context, project, role)
  })

  app.delete(`${base}/:project_handle`, {
    schema: { operationId: 'projects.delete', summary: 'Delete a project and its embeddings', tags, params: s.ProjectParams, response: { 204: Type.Null(), ...s.problemResponses } },
  }, async (request, reply) => {
    await service.deleteProject(ctx(request), request.params.user_handle, request.params.project_handle)
    return reply.code(204).send(null)
  })

  app.post(`${base}/:project_handle/share`, {
    schema: { operationId: 'projects.share', summary: 'Share a project as reader or editor (sharing again changes the role)', tags, params: s.ProjectParams, body: s.ShareProjectInput, response: { 201: s.ProjectShares, ...s.problemResponses } },
  }, async (request, reply) =>
    reply.code(201).send(await service.shareProject(ctx(request), request.params.user_handle, request.params.project_handle, request.body.share_with_handle, request.body.role)))

  app.delete(`${base}/:project_handle/share/:unshare_with_handle`, {
    schema: { operationId: 'projects.unshare', summary: 'Stop sharing a project with a user', tags, params: s.ProjectUnshareParams, response: { 204: Type.Null(), ...s.problemResponses } },
  }, async (request, reply) => {
    await service.unshareProject(ctx(request), request.params.user_handle, request.params.project_handle, request.params.unshare_with_handle)
    return reply.code(204).send(null)
  })

  app.get(`${base}/:project_handle/shared-with`, {
    schema: { operationId: 'projects.sharedWith', summary: 'Users a project is shared with, and their roles', tags, params: s.ProjectParams, response: { 200: s.ProjectShares, ...s.problemResponses } },
  }, async (request) => service.listProjectShares(ctx(request), request.params.user_handle, request.params.project_handle))

  app.post(`${base}/:project_handle/transfer`, {
    schema: {
      operationId: 'projects.transfer',
      summary: 'Offer the project to another user, who accepts it (202); an admin moves it at once (200)',
      tags,
      params: s.ProjectParams,
      body: s.TransferInput,
      response: { 200: s.TransferDone, 202: s.TransferOffer, ...s.problemResponses },
    },
  }, async (request, reply) => {
    const result = await service.transferProject(ctx(request), request.params.user_handle, request.params.project_handle, request.body.new_owner_handle)
    return result.offered ? reply.code(202).send(result.offered) : reply.code(200).send(result.transferred)
  })

  app.delete(`${base}/:project_handle/transfer`, {
    schema: { operationId: 'projects.transferWithdraw', summary: 'Withdraw an open transfer offer (owner or admin)', tags, params: s.ProjectParams, response: { 204: Type.Null(), ...s.problemResponses } },
  }, async (request, reply) => {
    await service.withdrawProjectTransfer(ctx(request), request.params.user_handle, request.params.project_handle)
    return reply.code(204).send(null)
  })

  app.post(`${base}/:project_handle/transfer/accept`, {
    schema: { operationId: 'projects.transferAccept', summary: 'Accept a project offered to you: it becomes yours', tags, params: s.ProjectParams, response: { 200: s.TransferDone, ...s.problemResponses } },
  }, async (request) => service.acceptProjectTransfer(ctx(request), request.params.user_handle, request.params.project_handle))

  app.post(`${base}/:project_handle/transfer/decline`, {
    schema: { operationId: 'projects.transferDecline', summary: 'Decline a project offered to you', tags, params: s.ProjectParams, response: { 204: Type.Null(), ...s.problemResponses } },
  }, async (request, reply) => {
    await service.declineProjectTransfer(ctx(request), request.params.user_handle, request.params.project_handle)
    return reply.code(204).send(null)
  })

  app.get('/v1/users/:user_handle/transfer-offers', {
    schema: { operationId: 'projects.transferOffers', summary: 'Open project transfer offers to the user, and of its projects to others', tags, params: s.UserParams, response: { 200: s.TransferOffers, ...s.problemResponses } },
  }, async (request) => service.listTransferOffers(ctx(request), request.params.user_handle))
}
