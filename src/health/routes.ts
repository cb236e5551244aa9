import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { Database } from '../db/database.js'
import { migrationStatus } from '../db/migrate.js'

const Ready = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('unavailable')]),
  database: Type.Object({
    kind: Type.Union([Type.Literal('embedded'), Type.Literal('postgres')]),
    reachable: Type.Boolean(),
    version: Type.String(),
  }),
  migrations: Type.Object({
    applied: Type.Integer(),
    pending: Type.Integer(),
    waiting: Type.Integer({ description: 'Migrations that wait for a capability the database lacks' }),
    replaced: Type.Integer({ description: 'Migrations not needed because their alternative is applied' }),
  }),
  capabilities: Type.Object({
    vectors: Type.Object({
      available: Type.Boolean(),
      engine: Type.Union([Type.String(), Type.Null()]),
      reason: Type.Union([Type.String(), Type.Null()]),
    }),
  }),
})

/**
 * `/healthz` answers as long as the process serves HTTP (liveness: it never touches the
 * database). `/readyz` answers 200 only when the database is reachable and fully migrated
 * (readiness: a load balancer should send traffic).
 */
export interface HealthOptions {
  database: Database
  /** The vector engine serving searches, or why there is none. */
  vectors: { engine: string | null; unavailable: string | null }
}

export const healthRoutes: FastifyPluginAsyncTypebox<HealthOptions> = async (app, { database, vectors }) => {
  app.get('/healthz', {
    config: { auth: 'none' },
    schema: {
      operationId: 'health.live',
      summary: 'Liveness: the process serves HTTP',
      tags: ['health'],
      response: { 200: Type.Object({ status: Type.Literal('ok') }) },
    },
  }, async () => ({ status: 'ok' as const }))

  app.get('/readyz', {
    config: { auth: 'none' },
    schema: {
      operationId: 'health.ready',
      summary: 'Readiness: database reachable, migrations applied, capabilities',
      tags: ['health'],
      response: { 200: Ready, 503: Ready },
    },
  }, async (request, reply) => {
    const { capabilities } = database
    let migrations = { applied: 0, pending: 0, waiting: 0, replaced: 0 }
    let reachable = true
    try {
      const status = await migrationStatus(database.pool, { capabilities })
      for (const m of status) migrations[m.state]++
    } catch (error) {
      request.log.warn({ err: error }, 'readiness check could not reach the database')
      reachable = false
    }
    const ready = reachable && migrations.pending === 0
    return reply.code(ready ? 200 : 503).send({
      status: ready ? 'ready' : 'unavailable',
      database: { kind: database.kind, reachable, version: database.serverVersion },
      migrations,
      capabilities: {
        vectors: {
          available: vectors.engine !== null,
          engine: vectors.engine,
          reason: vectors.unavailable,
        },
      },
    })
  })
}
