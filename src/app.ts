import { randomUUID } from 'node:crypto'
import cors from '@fastify/cors'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { Config } from './config.js'
import type { Database } from './db/database.js'
import { healthRoutes } from './health/routes.js'
import { installAuth } from './identity/auth.js'
import { installInputGuard } from './http/input-guard.js'
import { forgetLookupsAfterWrites } from './http/read-only.js'
import { frameworkErrorOptions, installErrorHandling } from './http/problem.js'
import { RequestLog } from './http/request-log.js'
import { Problem } from './http/schemas.js'
import { installValidation } from './http/validation.js'
import { ApiKeyVerifier } from './identity/api-keys.js'
import { identityRoutes } from './identity/routes.js'
import { adminRoutes } from './admin/routes.js'
import { embeddingRoutes } from './embeddings/routes.js'
import { jobRoutes } from './jobs/routes.js'
import { jobSetup } from './job-types.js'
import { startJobSystem } from './jobs/runtime.js'
import { deliverAttempts } from './webhooks/outbox.js'
import { webhookRoutes } from './webhooks/routes.js'
import { createGateway } from './gateway/create-gateway.js'
import { gatewayErrorEnvelopes, gatewayRoutes } from './gateway/client-routes.js'
import { gatewayManagementRoutes } from './gateway/management-routes.js'
import { ProjectLookup } from './projects/lookup.js'
import { projectRoutes } from './projects/routes.js'
import { registryRoutes } from './registry/routes.js'
import type { Keyring } from './secrets/keyring.js'
import type { VectorEngine } from './vectors/engine.js'
import { similarityRoutes } from './embeddings/similarity-routes.js'
import { VERSION } from './version.js'
import { welcomeRoutes } from './welcome/routes.js'
import { lazySerializerFactory } from './http/serialization.js'

export interface AppOptions {
  config: Config
  database: Database
  adminKey: string
  /** Encrypts and decrypts stored provider keys. */
  keyring: Keyring
  /** The similarity search engine; null when the database has no vector support. */
  engine: VectorEngine | null
  /** Why `engine` is null, for `/readyz` and the 503 of vector routes. */
  vectorsUnavailable?: string | undefined
  logger: Logger
  /** How often key usage is written to the database (tests shorten it). */
  keyUsageFlushMs?: number
  /** Run job workers in this process (`llmbase serve --no-workers` turns them off). */
  runWorkers?: boolean
}

/** A request id from the client is kept when it is short and plain, so it can be traced end to end. */
const CLIENT_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

/**
 * The parts of the application that need no database: the framework's settings, validation,
 * error formats, the input guard, CORS, the API description and its pages, the page at `/`.
 * `startServer` builds them while the database opens; buildApp builds them itself otherwise.
 */
export async function buildAppShell(options: Pick<AppOptions, 'config' | 'logger'>): Promise<FastifyInstance> {
  const { config, logger } = options
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    logController: new RequestLog(),
    genReqId: (request) => {
      const incoming = request.headers['x-request-id']
      return typeof incoming === 'string' && CLIENT_REQUEST_ID.test(incoming) ? incoming : randomUUID()
    },
    bodyLimit: config.bodyLimit,
    // A text_id of 1,000 characters may take 12,000 once percent-encoded.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 16_384 },
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    schemaController: { compilersFactory: { buildSerializer: lazySerializerFactory } },
    ...frameworkErrorOptions(gatewayErrorEnvelopes),
  })

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id)
  })
  installValidation(app)
  installErrorHandling(app, gatewayErrorEnvelopes)
  installInputGuard(app)
  app.addSchema(Problem)

  if (config.corsOrigins.length > 0) {
    await app.register(cors, {
      origin: config.corsOrigins.includes('*') ? '*' : config.corsOrigins,
      methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
      allowedHeaders: ['Accept', 'Authorization', 'Content-Type', 'X-Request-Id', 'Origin', 'X-Requested-With', 'X-Api-Key', 'X-Llmbase-Cache', 'Cache-Control'],
      exposedHeaders: ['x-request-id', 'request-id', 'retry-after', 'x-llmbase-cache'],
      maxAge: 600,
    })
  }

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'llmbase',
        version: VERSION,
        description: 'Self-hosted backend for LLM applications. Errors are RFC 7807 problem JSON; see docs/errors.md.',
      },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'Admin key or a user API key' } },
      },
      security: [{ bearer: [] }],
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
  })
  app.addHook('onRoute', (route) => {
    // The documentation pages and documents are public.
    if (route.url === '/docs' || route.url.startsWith('/docs/')) {
      route.config = { ...(route.config ?? {}), auth: 'none' }
      route.schema = { ...(route.schema ?? {}), hide: true }
    }
  })
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { deepLinking: true }, staticCSP: true })
  await app.register(welcomeRoutes, { version: VERSION })
  return app
}

/**
 * Builds the HTTP application on an open database, on `shell` when it was built already.
 * Listening is the caller's job (`src/server.ts`), so tests and the CLI build exactly the
 * same app.
 */
export async function buildApp(options: AppOptions, shell?: Promise<FastifyInstance>): Promise<FastifyInstance> {
  const { config, database, logger } = options
  const app = await (shell ?? buildAppShell(options))

  const keys = new ApiKeyVerifier(database.db, logger, options.keyUsageFlushMs)
  installAuth(app, { adminKey: options.adminKey, keys })
  app.addHook('onClose', async () => keys.close())

  const { engine } = options
  const vectorsUnavailable = engine ? null : (options.vectorsUnavailable ?? database.capabilities.vectorsUnavailableReason ?? 'no vector engine is available')
  await app.register(healthRoutes, { database, vectors: { engine: engine?.description ?? null, unavailable: vectorsUnavailable } })
  await app.register(identityRoutes, { db: database.db, keys })
  await app.register(registryRoutes, { db: database.db, keyring: options.keyring, egress: config.egress })
  const lookup = new ProjectLookup(database.db)
  const gateway = createGateway({ config, db: database.db, keyring: options.keyring, logger })
  app.addHook('onClose', async () => gateway.close())
  const jobs = await startJobSystem({
    config, database, logger, runWorkers: options.runWorkers ?? true,
    ...jobSetup({ config, db: database.db, keyring: options.keyring, gateway, engine: options.engine, logger }),
  })
  // Before the server closes: running jobs finish (or are given back) while the gateway and
  // the database they use are still open.
  app.addHook('preClose', async () => jobs.close())
  forgetLookupsAfterWrites(app, [lookup, gateway.resolver])
  await app.register(projectRoutes, { db: database.db, engine, lookup })
  await app.register(embeddingRoutes, { db: database.db, engine, vectorsUnavailable, lookup, gateway })
  await app.register(similarityRoutes, { db: database.db, engine, vectorsUnavailable, lookup, gateway })
  await app.register(gatewayRoutes, { deps: gateway, db: database.db })
  await app.register(gatewayManagementRoutes, { db: database.db, limits: gateway.limits, health: gateway.health, log: gateway.log, keyring: options.keyring, egress: config.egress, onRoutingChange: () => gateway.resolver.clear() })
  await app.register(jobRoutes, { db: database.db, queue: jobs.queue, types: jobs.submittable })
  await app.register(webhookRoutes, { db: database.db, keyring: options.keyring, queue: jobs.queue, egress: config.egress, deliverAttempts: deliverAttempts(config) })
  await app.register(adminRoutes, { database, engine, keys, allowReset: config.allowReset })
  if (engine) app.addHook('onClose', async () => engine.close())
  app.get('/openapi.json', { config: { auth: 'none' }, schema: { hide: true } }, async () => app.swagger())

  return app
}
