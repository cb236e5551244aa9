import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import type { Executor } from '../db/database.js'
import type { EgressPolicy } from '../egress/policy.js'
import type { Keyring } from '../secrets/keyring.js'
import type { RegistryContext } from './context.js'
import { apiStandardRoutes } from './routes/api-standards.js'
import { definitionRoutes } from './routes/definitions.js'
import { instanceRoutes } from './routes/instances.js'

export interface RegistryRouteOptions {
  context: (request: FastifyRequest) => RegistryContext
}

/** The registry: API standards, definitions and instances (also under the seed documents' names: `/v1/llm-services`, `/v1/llm-service-instances`, `/v1/llm-service-definitions`). */
export const registryRoutes: FastifyPluginAsync<{ db: Executor; keyring: Keyring; egress: EgressPolicy }> = async (app, { db, keyring, egress }) => {
  const context = (request: FastifyRequest): RegistryContext => ({ db, keyring, egress, caller: request.caller })
  await app.register(apiStandardRoutes, { context })
  await app.register(definitionRoutes, { context, basePath: '/v1/llm-definitions' })
  await app.register(definitionRoutes, { context, basePath: '/v1/llm-service-definitions' })
  await app.register(instanceRoutes, { context, basePath: '/v1/llm-instances' })
  await app.register(instanceRoutes, { context, basePath: '/v1/llm-services' })
  await app.register(instanceRoutes, { context, basePath: '/v1/llm-service-instances' })
}
