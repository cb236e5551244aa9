#!/usr/bin/env node
import { Command, InvalidArgumentError, Option } from 'commander'
import type { Logger } from 'pino'
import { ConfigError, type ConfigFlags, loadConfig } from './config.js'
import { describeGeneratedSecrets, resolveSecrets } from './data-folder.js'
import { openDatabase } from './db/database.js'
import { migrateDown, migrateUp, migrationStatus } from './db/migrate.js'
import { createLogger } from './logger.js'
import { createUserFromCli } from './identity/cli.js'
import { openMigratedDatabase, startServer } from './server.js'

/**
 * `llmbase` command line. Every command reads the same configuration (flags, environment,
 * `.env`) as the server; `docs/configuration.md` lists it.
 */
const program = new Command()
  .name('llmbase')
  .description('Self-hosted backend for LLM applications: registry, embeddings store, gateway, jobs.')
  .version('0.1.0')
  .showHelpAfterError()

const databaseOptions = (command: Command) =>
  command
    .option('--database-url <url>', 'PostgreSQL server to use instead of the embedded database (env DATABASE_URL)')
    .option('--data-dir <dir>', 'folder of the embedded database and generated keys (env LLMBASE_DATA_DIR, default ./data)')
    .option('--dotenv <file>', 'file of environment variables to read (default: .env in the working directory, if present)')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent (env LOG_LEVEL)')

databaseOptions(
  program
    .command('serve')
    .description('Run the HTTP server (what `npm start` runs). Migrates the database first.')
    .option('--host <host>', 'address to listen on (env HOST, default 127.0.0.1)')
    .option('--port <port>', 'port to listen on (env PORT, default 8880)'),
).action(async (flags: ConfigFlags) => {
  const config = loadConfig({ flags })
  const logger = createLogger({ level: config.logLevel })
  const server = await startServer(config, logger)
  if (server.secrets.generated.length > 0) process.stdout.write(describeGeneratedSecrets(server.secrets.generated))
  let stopping = false
  const stop = (signal: string) => {
    if (stopping) return
    stopping = true
    logger.info({ signal }, 'shutting down: finishing in-flight requests')
    server.close().then(
      () => {
        logger.info('stopped')
        process.exit(0)
      },
      (error) => {
        logger.error({ err: error }, 'shutdown failed')
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
  server.database.events.on('failure', () => {
    logger.fatal('the database is gone; exiting so that a supervisor can restart llmbase')
    process.exit(1)
  })
})

const migrate = program.command('migrate').description('Show or change the database schema version')

databaseOptions(migrate.command('up').description('Apply every pending migration')).action(async (flags: ConfigFlags) =>
  withDatabase(flags, async ({ pool, capabilities }) => {
    const applied = await migrateUp(pool, { capabilities })
    console.log(applied.length === 0 ? 'Nothing to apply: the database is up to date.' : applied.map((m) => `applied ${label(m)}`).join('\n'))
  }),
)

databaseOptions(
  migrate
    .command('down')
    .description('Revert the newest applied migrations (default: one)')
    .argument('[n]', 'how many migrations to revert', parsePositiveInteger, 1),
).action(async (steps: number, flags: ConfigFlags) =>
  withDatabase(flags, async ({ pool }) => {
    const reverted = await migrateDown(pool, { steps })
    console.log(reverted.length === 0 ? 'Nothing to revert.' : reverted.map((m) => `reverted ${label(m)}`).join('\n'))
  }),
)

databaseOptions(migrate.command('status').description('List migrations and whether each is applied')).action(
  async (flags: ConfigFlags) =>
    withDatabase(flags, async ({ pool, capabilities }) => {
      for (const m of await migrationStatus(pool, { capabilities })) {
        const state =
          m.state === 'applied'
            ? `applied ${m.appliedAt?.toISOString()}${m.modified ? ' (file changed since)' : ''}`
            : m.state === 'waiting'
              ? `waiting for ${m.waitingFor}`
              : 'pending'
        console.log(`${label(m).padEnd(40)} ${state}`)
      }
    }),
)

const users = program.command('users').description('Manage users')
databaseOptions(
  users
    .command('create')
    .description('Create a user and print its first API key (shown only once)')
    .argument('<handle>', 'handle of the new user (3–20 characters of a-z, 0-9, ".", "_", "-")')
    .requiredOption('--email <email>', 'email address (unique)')
    .option('--name <name>', 'display name')
    .addOption(new Option('--admin', 'give the user the admin role').default(false)),
).action(async (handle: string, flags: ConfigFlags & { email: string; name?: string; admin: boolean }) =>
  withDatabase(flags, async (database) => {
    const created = await createUserFromCli(database.db, { handle, email: flags.email, name: flags.name, admin: flags.admin })
    console.log(`Created user ${created.handle}${flags.admin ? ' (admin)' : ''}.`)
    console.log(`API key (shown only once): ${created.key}`)
  }, { migrate: true }),
)

function label(m: { version: number; name: string }) {
  return `${String(m.version).padStart(4, '0')}_${m.name}`
}

function parsePositiveInteger(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('must be a positive integer')
  return Number(value)
}

async function withDatabase(
  flags: ConfigFlags,
  work: (database: Awaited<ReturnType<typeof openDatabase>>) => Promise<void>,
  options: { migrate?: boolean } = {},
) {
  const config = loadConfig({ flags: { logLevel: 'warn', ...flags } })
  const logger: Logger = createLogger({ level: config.logLevel, destination: process.stderr as never })
  const secrets = resolveSecrets(config)
  if (secrets.generated.length > 0) process.stdout.write(describeGeneratedSecrets(secrets.generated))
  const database = options.migrate
    ? await openMigratedDatabase(config, logger)
    : await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir, poolSize: 2, logger })
  try {
    await work(database)
  } finally {
    await database.close()
  }
}

try {
  await program.parseAsync(process.argv)
} catch (error) {
  const message = error instanceof ConfigError || error instanceof Error ? error.message : String(error)
  process.stderr.write(`llmbase: ${message}\n`)
  process.exit(1)
}
