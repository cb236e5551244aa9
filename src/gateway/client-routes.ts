import type { FastifyError, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { AppError } from '../http/errors.js'
import { type ErrorEnvelope, envelopeFor, toAppError } from '../http/problem.js'
import { messagesToChat } from './providers/anthropic/ingress.js'
import type { GatewayDeps } from './deps.js'
import { gatewayCaller, resolveModel } from './gateway-call.js'
import { handleChat } from './chat.js'
import { type EmbeddingsBody, handleEmbeddings } from './embeddings.js'
import { anthropicErrorBody, anthropicIngress } from './providers/anthropic/ingress-envelope.js'
import { openAiErrorBody, openAiIngress } from './providers/openai/ingress-envelope.js'
import type { ChatRequest } from './providers/types.js'
import { listUsableModels } from './targets.js'
import { estimateInputTokens } from './token-estimate.js'
import type { Executor } from '../db/database.js'

/*
 * Request schemas check what the gateway itself relies on and let everything else through:
 * provider parameters appear faster than any schema could follow, and an OpenAI-compatible
 * provider receives unknown fields unchanged.
 */
const Message = Type.Object(
  {
    role: Type.Union(['system', 'developer', 'user', 'assistant', 'tool'].map((role) => Type.Literal(role))),
    content: Type.Optional(Type.Union([Type.String(), Type.Array(Type.Object({ type: Type.String() }, { additionalProperties: true })), Type.Null()])),
  },
  { additionalProperties: true },
)
/** Also the body of each request of a `chat.batch` job (src/gateway/chat-batch-job.ts). */
export const ChatBody = Type.Object(
  {
    model: Type.String({ minLength: 1, maxLength: 200 }),
    messages: Type.Array(Message, { minItems: 1 }),
    stream: Type.Optional(Type.Boolean()),
    stream_options: Type.Optional(Type.Union([Type.Object({ include_usage: Type.Optional(Type.Boolean()) }, { additionalProperties: true }), Type.Null()])),
    tools: Type.Optional(Type.Array(Type.Object({ type: Type.Literal('function'), function: Type.Object({ name: Type.String({ minLength: 1, maxLength: 128 }) }, { additionalProperties: true }) }, { additionalProperties: true }))),
    n: Type.Optional(Type.Integer({ minimum: 1, maximum: 16 })),
  },
  { additionalProperties: true },
)
const MessagesBody = Type.Object(
  {
    model: Type.String({ minLength: 1, maxLength: 200 }),
    messages: Type.Array(Type.Object({ role: Type.Union([Type.Literal('user'), Type.Literal('assistant')]) }, { additionalProperties: true }), { minItems: 1 }),
    max_tokens: Type.Integer({ minimum: 1 }),
    stream: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: true },
)
const CountTokensBody = Type.Object(
  {
    model: Type.String({ minLength: 1, maxLength: 200 }),
    messages: Type.Array(Type.Object({ role: Type.Union([Type.Literal('user'), Type.Literal('assistant')]) }, { additionalProperties: true }), { minItems: 1 }),
  },
  { additionalProperties: true },
)
const EmbeddingsRequest = Type.Object(
  {
    model: Type.String({ minLength: 1, maxLength: 200 }),
    input: Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }), { minItems: 1, maxItems: 20_000 })], {
      description: 'A text or a list of texts (token arrays are not accepted: providers differ in tokenizers)',
    }),
    encoding_format: Type.Optional(Type.Union([Type.Literal('float'), Type.Literal('base64')])),
    dimensions: Type.Optional(Type.Integer({ minimum: 1, maximum: 16000 })),
    user: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
)

/**
 * Where the gateway's SDK clients call, and the envelope each expects errors in. Also used
 * for what no route sees (an unknown path under them, a URL that does not decode).
 */
export const gatewayErrorEnvelopes: ErrorEnvelope[] = [
  { paths: ['/v1/messages', '/v1/messages/*'], contentType: 'application/json; charset=utf-8', render: anthropicErrorBody },
  // `/v1/embeddings/{user}/{project}` is the embeddings store, not OpenAI's endpoint.
  { paths: ['/v1/chat/*', '/v1/embeddings', '/v1/models', '/v1/models/*', '/v1/completions'], contentType: 'application/json; charset=utf-8', render: openAiErrorBody },
]

/** An Anthropic Messages body in the gateway's chat shape; what cannot be translated is a 400. */
function readMessages(body: unknown): ChatRequest {
  try {
    return messagesToChat(body)
  } catch (error) {
    throw new AppError('bad_request', error instanceof Error ? error.message : 'the request could not be read')
  }
}

/**
 * The provider-compatible endpoints. They answer errors in the envelope their clients' SDKs
 * parse (OpenAI's `{"error": {...}}`, Anthropic's `{"type": "error", ...}`), not as problem
 * JSON, and they are marked read-only so a call does not clear the server's lookup caches.
 */
export const gatewayRoutes: FastifyPluginAsync<{ deps: GatewayDeps; db: Executor }> = async (app, { deps, db }) => {
  app.setErrorHandler(async (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const problem = toAppError(error, request)
    if (problem.status >= 500 && !['upstream_error', 'upstream_timeout', 'upstream_unavailable'].includes(problem.code)) {
      request.log.error({ err: problem.cause ?? error, code: problem.code }, 'request failed')
    }
    if (reply.sent || reply.raw.headersSent) return
    if (problem.headers) reply.headers(problem.headers)
    const envelope = envelopeFor(gatewayErrorEnvelopes, request.url)
    return reply.code(problem.status).type(envelope.contentType).send(envelope.render(problem, request.id))
  })
  const config = { readOnly: true }
  // Anthropic's SDK reads the request id from `request-id` (its `requestID`); OpenAI's from
  // `x-request-id`, which every answer carries.
  app.addHook('onRequest', async (request, reply) => {
    if (request.url === '/v1/messages' || request.url.startsWith('/v1/messages/') || request.url.startsWith('/v1/messages?')) reply.header('request-id', request.id)
  })

  // The bodies are cast to the gateway's request shapes after validation: the schemas check
  // what the gateway relies on (model, messages and their roles, tools' names) and let every
  // other field through for the provider, so their static types are looser than ChatRequest's.
  app.post('/v1/chat/completions', {
    config,
    schema: { tags: ['gateway'], operationId: 'gateway.chatCompletions', summary: 'OpenAI-compatible chat completion through an instance or route (streaming with stream: true)', body: ChatBody },
  }, async (request, reply) => handleChat(deps, request, reply, request.body as ChatRequest, openAiIngress))

  app.post('/v1/messages', {
    config,
    schema: { tags: ['gateway'], operationId: 'gateway.messages', summary: "Anthropic-compatible Messages API through an instance or route", body: MessagesBody },
  }, async (request, reply) => {
    return handleChat(deps, request, reply, readMessages(request.body), anthropicIngress)
  })

  // Anthropic's token counting. An estimate (src/gateway/token-estimate.ts): llmbase holds no
  // tokenizer for every model, and says so in a header. The model must be one the caller may use.
  app.post('/v1/messages/count_tokens', {
    config,
    schema: { tags: ['gateway'], operationId: 'gateway.countTokens', summary: "Anthropic-compatible token count of a Messages request (an estimate: about four characters a token)", body: CountTokensBody },
  }, async (request, reply) => {
    const chat = readMessages(request.body)
    await resolveModel(deps, request, chat.model, 'chat')
    reply.header('x-llmbase-token-count', 'estimate')
    return { input_tokens: estimateInputTokens(chat) }
  })

  app.post('/v1/embeddings', {
    config,
    schema: { tags: ['gateway'], operationId: 'gateway.embeddings', summary: 'OpenAI-compatible embeddings through an embedding instance or route', body: EmbeddingsRequest },
  }, async (request, reply) => handleEmbeddings(deps, request, reply, request.body as EmbeddingsBody))

  type ModelRows = Awaited<ReturnType<typeof listUsableModels>>
  const created = (date: Date) => Math.floor(date.getTime() / 1000)
  /** `GET /v1/models`' entries: the caller's own instances by handle, others' as `owner/handle`. */
  const modelEntries = (caller: { handle: string }, { instances, routes }: ModelRows) => [
    ...instances.map((row) => ({
      id: row.owner === caller.handle ? row.handle : `${row.owner}/${row.handle}`,
      object: 'model',
      created: created(row.created_at),
      owned_by: row.owner,
      kind: row.kind,
      provider_model: row.model,
    })),
    ...routes.map((row) => ({ id: row.handle, object: 'model', created: created(row.created_at), owned_by: caller.handle, kind: 'route' })),
  ]

  app.get('/v1/models', {
    schema: { tags: ['gateway'], operationId: 'gateway.models', summary: 'Instances and routes the caller may name as model' },
  }, async (request) => {
    const caller = gatewayCaller(request)
    return { object: 'list', data: modelEntries(caller, await listUsableModels(db, caller)) }
  })

  // The OpenAI SDK's models.retrieve(id); an id may hold a slash (`owner/handle`).
  app.get('/v1/models/*', {
    schema: {
      tags: ['gateway'], operationId: 'gateway.model', summary: 'One model the caller may name, as in GET /v1/models',
      params: Type.Object({ '*': Type.String({ minLength: 1, maxLength: 200 }) }),
    },
  }, async (request) => {
    const caller = gatewayCaller(request)
    const id = (request.params as { '*': string })['*']
    const entries = modelEntries(caller, await listUsableModels(db, caller))
    const found = entries.find((entry) => entry.id === id) ?? entries.find((entry) => `${entry.owned_by}/${entry.id}` === id)
    if (!found) throw new AppError('model_not_found', `the model ${id} does not exist or you do not have access to it; GET /v1/models lists what you may use`)
    return found
  })
}
