import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { Config } from './config.js'
import { type Database, openDatabase } from './db/database.js'
import type { EmbeddedPostgres } from './db/embedded/index.js'
import { migrateUp } from './db/migrate.js'
import type { ResolvedSecrets } from './data-folder.js'
import { openSecrets } from './secrets/open.js'
import { type StepClock, stepClock } from './step-clock.js'
import { pgvectorSessionSettings } from './vectors/pgvector/engine.js'
import { chooseEngine } from './vectors/select.js'
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

/**
 * The HTTP application, the gateway and the job system are loaded while the database opens
 * (the embedded one in its own process, on another core) rather than before it: loading them
 * is a few hundred milliseconds of every start (`npm run bench -- startup`,
 * docs/performance.md#start-up). The catch keeps a failed load from going unhandled before it
 * is awaited.
 */
function loadLater<T>(load: () => Promise<T>): Promise<T> {
  const loading = load()
  loading.catch(() => {})
  return loading
}

/** The secrets and keyring; when they cannot be had, an embedded database started early is stopped. */
async function secretsOrAbandon(config: Config, logger: Logger, embedded: Promise<EmbeddedPostgres> | undefined) {
  try {
    return openSecrets(config, logger)
  } catch (error) {
    await embedded?.then((running) => running.stop(), () => {})
    throw error
  }
}

export interface StartOptions {
  /** The embedded database, started before this module loaded (startEmbeddedEarly). */
  embedded?: Promise<EmbeddedPostgres> | undefined
}

/** Opens the database configured in `config`, migrating it to the latest version. */
export async function openMigratedDatabase(config: Config, logger: Logger, clock?: StepClock, embedded?: Promise<EmbeddedPostgres>): Promise<Database> {
  const database = await openDatabase({
    url: config.databaseUrl,
    dataDir: config.dataDir,
    poolSize: config.dbPoolSize,
    logger,
    sessionSettings: pgvectorSessionSettings(config.vectors),
    embedded,
  })
  clock?.mark('database')
  try {
    const applied = await migrateUp(database.pool, { capabilities: database.capabilities })
    for (const m of applied) logger.info({ migration: `${m.version}_${m.name}` }, 'migration applied')
    clock?.mark('migrations')
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
export async function startWorkerProcess(config: Config, logger: Logger, options: StartOptions & { concurrency?: number } = {}) {
  const { keyring } = await secretsOrAbandon(config, logger, options.embedded)
  const opening = openMigratedDatabase(config, logger, undefined, options.embedded)
  const modules = loadLater(() => Promise.all([import('./gateway/create-gateway.js'), import('./jobs/runtime.js'), import('./job-types.js')]))
  const database = await opening
  try {
    const [{ createGateway }, { startJobSystem }, { jobSetup }] = await modules
    await reportUnreadableSecrets(database.db, keyring, logger)
    const { engine } = await chooseEngine(config, database, logger)
    await engine?.start()
    const gateway = createGateway({ config, db: database.db, keyring, logger })
    const concurrency = options.concurrency ?? (config.jobs.concurrency || 4)
    const jobs = await startJobSystem({
      config, database, logger, runWorkers: true, concurrency,
      ...jobSetup({ config, db: database.db, keyring, gateway, engine, logger }),
    })
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
export async function startServer(config: Config, logger: Logger, options: StartOptions & { keyUsageFlushMs?: number; runWorkers?: boolean } = {}): Promise<RunningServer> {
  // Logged once at debug level as `startup_ms` (see step-clock.ts); in a process that starts
  // several servers (the tests) `process` means nothing after the first.
  const clock = stepClock({ fromProcessStart: true })
  const { embedded, ...appOptions } = options
  const { secrets, keyring } = await secretsOrAbandon(config, logger, embedded)
  clock.mark('secrets')
  const opening = openMigratedDatabase(config, logger, clock, embedded)
  const appModule = loadLater(() => import('./app.js'))
  // What needs no database is built while it opens, on this core while the embedded database
  // opens on the other.
  const shell = loadLater(async () => (await appModule).buildAppShell({ config, logger }))
  let database: Database
  try {
    database = await opening
  } catch (error) {
    await shell.then((built) => built.close(), () => {})
    throw error
  }
  let app: FastifyInstance
  let vectorEngine: string | null = null
  try {
    const { buildApp } = await appModule
    clock.mark('app_modules')
    await reportUnreadableSecrets(database.db, keyring, logger)
    clock.mark('secrets_check')
    const { engine, unavailable } = await chooseEngine(config, database, logger)
    await engine?.start()
    clock.mark('vector_engine')
    app = await buildApp({ config, database, adminKey: secrets.adminKey, keyring, engine, vectorsUnavailable: unavailable ?? undefined, logger, ...appOptions }, shell)
    vectorEngine = engine?.description ?? null
    clock.mark('build_app')
    // listen() would run ready() itself; called apart only to time it (route schemas compile here).
    await app.ready()
    clock.mark('ready')
    await app.listen({ host: config.host, port: config.port })
    clock.mark('listen')
  } catch (error) {
    await shell.then((built) => built.close(), () => {})
    await database.close()
    throw error
  }
  const address = app.server.address()
  const port = typeof address === 'object' && address ? address.port : config.port
  const host = config.host.includes(':') ? `[${config.host}]` : config.host
  logger.debug({ startup_ms: { ...clock.steps, total: Math.round(performance.now()), database_detail: database.startupMs } }, 'start-up timings')
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
