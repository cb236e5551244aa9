import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { buildApp } from './app.js'
import type { Config } from './config.js'
import { type Database, openDatabase } from './db/database.js'
import { migrateUp } from './db/migrate.js'
import { announceGeneratedSecrets, resolveSecrets, type ResolvedSecrets } from './data-folder.js'
import { createKeyring } from './secrets/keyring.js'
import { pgvectorSessionSettings } from './vectors/pgvector/engine.js'
import { chooseEngine } from './vectors/select.js'
import { createGateway } from './gateway/gateway.js'
import { startJobSystem } from './jobs/runtime.js'
import { reportUnreadableSecrets } from './secrets/startup-check.js'

export interface RunningServer {
  app: FastifyInstance
  database: Database
  secrets: ResolvedSecrets
  /** The address the server listens on, e.g. http://127.0.0.1:8880 */
  url: string
  /** Graceful stop: no new connections, in-flight requests finish (bounded), database closed. */
  close(): Promise<void>
}

/** Opens the database configured in `config`, migrating it to the latest version. */
export async function openMigratedDatabase(config: Config, logger: Logger): Promise<Database> {
  const database = await openDatabase({
    url: config.databaseUrl,
    dataDir: config.dataDir,
    poolSize: config.dbPoolSize,
    logger,
    sessionSettings: pgvectorSessionSettings(config.vectors),
  })
  try {
    const applied = await migrateUp(database.pool, { capabilities: database.capabilities })
    for (const m of applied) logger.info({ migration: `${m.version}_${m.name}` }, 'migration applied')
  } catch (error) {
    await database.close()
    throw error
  }
  return database
}

/**
 * Everything `llmbase worker` runs: the job workers, with the gateway and vector engine their
 * jobs use, and no HTTP server.
 */
export async function startWorkerProcess(config: Config, logger: Logger, options: { concurrency?: number } = {}) {
  const secrets = resolveSecrets(config)
  announceGeneratedSecrets(secrets.generated, { logger })
  const keyring = createKeyring(secrets.encryptionKey, [...config.previousEncryptionKeys, ...secrets.pendingEncryptionKeys])
  const database = await openMigratedDatabase(config, logger)
  try {
    await reportUnreadableSecrets(database.db, keyring, logger)
    const { engine } = await chooseEngine(config, database, logger)
    await engine?.start()
    const gateway = createGateway({ config, db: database.db, keyring, logger })
    const concurrency = options.concurrency ?? (config.jobs.concurrency || 4)
    const jobs = await startJobSystem({ config, database, keyring, gateway, engine, logger, runWorkers: true, concurrency })
    let closing: Promise<void> | undefined
    const close = () => {
      closing ??= (async () => {
        try {
          await jobs.close()
          await gateway.close()
          await engine?.close()
        } finally {
          await database.close()
        }
      })()
      return closing
    }
    return { database, jobs, close }
  } catch (error) {
    await database.close()
    throw error
  }
}

/** Everything `llmbase serve` does before it waits for signals; tests call it too. */
export async function startServer(config: Config, logger: Logger, options: { keyUsageFlushMs?: number; runWorkers?: boolean } = {}): Promise<RunningServer> {
  const secrets = resolveSecrets(config)
  announceGeneratedSecrets(secrets.generated, { logger })
  const keyring = createKeyring(secrets.encryptionKey, [...config.previousEncryptionKeys, ...secrets.pendingEncryptionKeys])
  const database = await openMigratedDatabase(config, logger)
  let app: FastifyInstance
  let vectorEngine: string | null = null
  try {
    await reportUnreadableSecrets(database.db, keyring, logger)
    const { engine, unavailable } = await chooseEngine(config, database, logger)
    await engine?.start()
    app = await buildApp({ config, database, adminKey: secrets.adminKey, keyring, engine, vectorsUnavailable: unavailable ?? undefined, logger, ...options })
    vectorEngine = engine?.description ?? null
    await app.listen({ host: config.host, port: config.port })
  } catch (error) {
    await database.close()
    throw error
  }
  const address = app.server.address()
  const port = typeof address === 'object' && address ? address.port : config.port
  const host = config.host.includes(':') ? `[${config.host}]` : config.host
  logger.info({ url: `http://${host}:${port}`, database: database.kind, vectors: vectorEngine }, 'llmbase is listening')

  let closing: Promise<void> | undefined
  const close = () => {
    closing ??= (async () => {
      const timer = setTimeout(() => {
        logger.warn({ timeout_ms: config.shutdownTimeoutMs }, 'in-flight requests did not finish in time; closing their connections')
        app.server.closeAllConnections()
      }, config.shutdownTimeoutMs)
      try {
        await app.close()
      } finally {
        clearTimeout(timer)
        await database.close()
      }
    })()
    return closing
  }
  return { app, database, secrets, url: `http://${host}:${port}`, close }
}
