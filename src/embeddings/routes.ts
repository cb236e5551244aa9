import { Readable } from 'node:stream'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import type { Executor } from '../db/database.js'
import type { GatewayDeps } from '../gateway/deps.js'
import type { ProjectLookup } from '../projects/lookup.js'
import { AppError } from '../http/errors.js'
import { getVisibleProject } from '../projects/service.js'
import type { VectorEngine } from '../vectors/engine.js'
import { engineOf, requireVectors } from '../vectors/capability.js'
import { gatewayEmbedder, requireVectorOrText, writeUpload } from './computed.js'
import * as s from './schemas.js'
import * as service from './service.js'
import { exportLines, importLines } from './transfer.js'
import { asUploadBody } from './record-aliases.js'

const tags = ['embeddings']
const NDJSON = ['application/x-ndjson', 'application/jsonl', 'application/jsonlines']

/**
 * `/v1/embeddings/{user}/{project}…`: the records of a project, one by one, in batches, or
 * streamed. Records sent with text and no vector are embedded through `gateway`.
 */
export const embeddingRoutes: FastifyPluginAsyncTypebox<{ db: Executor; engine: VectorEngine | null; vectorsUnavailable: string | null; lookup: ProjectLookup; gateway: GatewayDeps }> = async (
  app,
  { db, engine, vectorsUnavailable, lookup, gateway },
) => {
  const ctx = (request: FastifyRequest): service.EmbeddingsContext => ({ db, engine: engineOf(engine, vectorsUnavailable), caller: request.caller, lookup: request.method === 'GET' ? lookup : undefined })
  app.addHook('preValidation', requireVectors(vectorsUnavailable))
  // An import body is read as a stream, never whole: it may be of any size.
  app.addContentTypeParser(NDJSON, (_request, payload, done) => done(null, payload))
  const base = '/v1/embeddings/:user_handle/:project_handle'

  app.post(base, {
    schema: {
      operationId: 'embeddings.upload',
      summary: 'Upload a batch of embeddings (all or nothing)',
      description:
        'The body may also be one record on its own, with its vector in `embedding` (seed 000\'s form). Inserts or replaces each record. Every vector must have the dimensions of the project\'s instance; a record sent with text and no vector gets the vector the project\'s instance computes from the text (one gateway call for the upload). Metadata is merged into the stored metadata and checked against the project\'s schema.',
      tags,
      params: s.ProjectParams,
      body: s.UploadInput,
      response: { 201: s.Uploaded, ...s.problemResponses },
    },
    preValidation: async (request) => {
      // Not yet validated: the schema checks what this returns.
      request.body = asUploadBody(request.body) as typeof request.body
    },
  }, async (request, reply) => {
    const context = ctx(request)
    // Checked before anything is looked up, as the body schema would be.
    requireVectorOrText(request.body.embeddings, 'body.embeddings')
    const project = await service.getWritableProject(context, request.params.user_handle, request.params.project_handle)
    return reply.code(201).send({ ids: await writeUpload(context, project, request.body.embeddings, gatewayEmbedder(gateway, request)) })
  })

  app.get(base, {
    config: { auth: 'optional' },
    schema: { operationId: 'embeddings.list', summary: 'List a project\'s embeddings in text_id order', tags, params: s.ProjectParams, querystring: s.EmbeddingsQuery, response: { 200: s.EmbeddingList, ...s.problemResponses } },
  }, async (request) => ({ embeddings: await service.listEmbeddings(ctx(request), request.params.user_handle, request.params.project_handle, request.query) }))

  app.delete(base, {
    schema: { operationId: 'embeddings.deleteAll', summary: 'Delete every embedding of a project', tags, params: s.ProjectParams, response: { 204: Type.Null(), ...s.problemResponses } },
  }, async (request, reply) => {
    await service.deleteAllEmbeddings(ctx(request), request.params.user_handle, request.params.project_handle)
    return reply.code(204).send(null)
  })

  app.get(`${base}/export`, {
    config: { auth: 'optional' },
    schema: {
      operationId: 'embeddings.export',
      summary: 'Export a project\'s embeddings as NDJSON, streamed',
      tags,
      params: s.ProjectParams,
      response: { 200: { description: 'application/x-ndjson: one {"text_id", "text", "vector", "metadata"} per line', type: 'string' }, ...s.problemResponses },
    },
  }, async (request, reply) => {
    const context = ctx(request)
    const { project } = await getVisibleProject(context, request.params.user_handle, request.params.project_handle)
    reply.type('application/x-ndjson; charset=utf-8').header('content-disposition', `attachment; filename="${project.owner}-${project.handle}.ndjson"`)
    return reply.send(Readable.from(exportLines(context, project)))
  })

  app.post(`${base}/import`, {
    schema: {
      operationId: 'embeddings.import',
      summary: 'Import NDJSON embeddings, streamed, in transactions of batch_size lines',
      description:
        'Send Content-Type: application/x-ndjson, one upload record per line. Each batch of lines is written whole or not at all; the report lists every bad line. Lines with text and no vector are embedded through the project\'s instance, one gateway call per batch.',
      tags,
      params: s.ProjectParams,
      querystring: s.ImportQuery,
      response: { 200: s.ImportReport, ...s.problemResponses },
    },
  }, async (request) => {
    const context = ctx(request)
    const project = await service.getWritableProject(context, request.params.user_handle, request.params.project_handle)
    const body = request.body as unknown
    if (!(body instanceof Readable)) {
      throw new AppError('unsupported_media_type', 'send the records as application/x-ndjson, one JSON record per line')
    }
    return importLines(context, project, body, request.query.batch_size, gatewayEmbedder(gateway, request))
  })

  app.get(`${base}/:text_id`, {
    config: { auth: 'optional' },
    schema: { operationId: 'embeddings.get', summary: 'Get one embedding', tags, params: s.EmbeddingParams, response: { 200: s.Embedding, ...s.problemResponses } },
  }, async (request) => {
    const { project, row } = await service.getEmbedding(ctx(request), request.params.user_handle, request.params.project_handle, request.params.text_id)
    return service.toEmbeddingResponse(project, row)
  })

  app.delete(`${base}/:text_id`, {
    schema: { operationId: 'embeddings.delete', summary: 'Delete one embedding', tags, params: s.EmbeddingParams, response: { 204: Type.Null(), ...s.problemResponses } },
  }, async (request, reply) => {
    await service.deleteEmbedding(ctx(request), request.params.user_handle, request.params.project_handle, request.params.text_id)
    return reply.code(204).send(null)
  })
}
