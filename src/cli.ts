#!/usr/bin/env node
import { Command, InvalidArgumentError, Option } from 'commander'
import type { Logger } from 'pino'
import { rmSync } from 'node:fs'
import { type Config, ConfigError, type ConfigFlags, loadConfig } from './config.js'
import { generateSecret, type ResolvedSecrets, writeSecretFile } from './data-folder.js'
import { openSecrets } from './secrets/open.js'
import type { Database } from './db/database.js'
import { startEmbeddedEarly } from './db/embedded/index.js'
import { createKeyring, type Keyring } from './secrets/keyring.js'
import { createLogger, flushLog } from './logger.js'
import { registerJobCommands } from './jobs/cli.js'
import { registerDatabaseCommands } from './db/cli.js'
import { registerImportCommands } from './import/cli.js'
import { registerMockProviderCommand } from './mock-provider/cli.js'
import { VERSION } from './version.js'

/*
 * What a command runs is loaded when it runs (`await import(…)`), not here: every start of the
 * CLI defines every command, and `serve` starts the embedded database before it loads the
 * server, so that the two happen at once (docs/performance.md#start-up).
 */

/**
 * `llmbase` command line. Every command reads the same configuration (flags, environment,
 * `.env`) as the server; `docs/configuration.md` lists it.
 */
const program = new Command()
  .name('llmbase')
  .description('Self-hosted backend for LLM applications: registry, embeddings store, gateway, jobs.')
  .version(VERSION)
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
    .option('--port <port>', 'port to listen on (env PORT, default 8880)')
    .option('--no-workers', 'run no job workers in this process (run `llmbase worker` processes instead)'),
).action(async (flags: ConfigFlags & { workers: boolean }) => {
  const config = loadConfig({ flags })
  const logger = createLogger({ level: config.logLevel })
  const embedded = startEmbeddedEarly(config, logger)
  const { startServer } = await import('./server.js')
  const server = await startServer(config, logger, { runWorkers: flags.workers, embedded })
  runUntilSignalled(logger, server, 'finishing in-flight requests', 'llmbase')
})

databaseOptions(
  program
    .command('worker')
    .description('Run job workers (jobs and webhook deliveries) without an HTTP server, against the same database as the servers.')
    .option('--concurrency <n>', 'jobs run at once (env LLMBASE_WORKER_CONCURRENCY, default 4)', parsePositiveInteger),
).action(async (flags: ConfigFlags & { concurrency?: number }) => {
  const config = loadConfig({ flags })
  const logger = createLogger({ level: config.logLevel })
  const embedded = startEmbeddedEarly(config, logger)
  const { startWorkerProcess } = await import('./server.js')
  const worker = await startWorkerProcess(config, logger, { concurrency: flags.concurrency, embedded })
  runUntilSignalled(logger, worker, 'finishing running jobs', 'the worker')
})

registerJobCommands(program)

/**
 * SIGTERM and SIGINT stop the process gracefully (`close`), once; a database that is gone for
 * good ends it with exit code 1 so that a supervisor restarts it.
 */
function runUntilSignalled(logger: Logger, running: { database: Database; close(): Promise<void> }, doing: string, name: string) {
  let stopping = false
  const stop = (signal: string) => {
    if (stopping) return
    stopping = true
    logger.info({ signal }, `shutting down: ${doing}`)
    running.close().then(
      () => {
        logger.info('stopped')
        flushLog(logger)
        process.exit(0)
      },
      (error) => {
        logger.error({ err: error }, 'shutdown failed')
        flushLog(logger)
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
  running.database.events.on('failure', () => {
    logger.fatal(`the database is gone; exiting so that a supervisor can restart ${name}`)
    flushLog(logger)
    process.exit(1)
  })
}

const migrate = program.command('migrate').description('Show or change the database schema version')

databaseOptions(migrate.command('up').description('Apply every pending migration')).action(async (flags: ConfigFlags) =>
  withDatabase(flags, async ({ pool, capabilities }) => {
    const { migrateUp } = await import('./db/migrate.js')
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
    const { migrateDown } = await import('./db/migrate.js')
    const reverted = await migrateDown(pool, { steps })
    console.log(reverted.length === 0 ? 'Nothing to revert.' : reverted.map((m) => `reverted ${label(m)}`).join('\n'))
  }),
)

databaseOptions(migrate.command('status').description('List migrations and whether each is applied')).action(
  async (flags: ConfigFlags) =>
    withDatabase(flags, async ({ pool, capabilities }) => {
      const { migrationStatus } = await import('./db/migrate.js')
      for (const m of await migrationStatus(pool, { capabilities })) {
        const state =
          m.state === 'applied'
            ? `applied ${m.appliedAt?.toISOString()}${m.modified ? ' (file changed since)' : ''}`
            : m.state === 'waiting'
              ? `waiting for ${m.waitingFor}`
              : m.state === 'replaced'
                ? 'not needed (an alternative is applied)'
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
    const { createUserFromCli } = await import('./identity/cli.js')
    const created = await createUserFromCli(database.db, { handle, email: flags.email, name: flags.name, admin: flags.admin })
    console.log(`Created user ${created.handle}${flags.admin ? ' (admin)' : ''}.`)
    console.log(`API key (shown only once): ${created.key}`)
  }, { migrate: true }),
)

const keys = program.command('keys').description('Check and rotate the encryption of stored secrets (provider keys, webhook signing secrets)')

databaseOptions(keys.command('check').description('Decrypt every stored secret (provider keys, webhook signing secrets) with the configured keys and report those that fail')).action(
  async (flags: ConfigFlags) =>
    withDatabase(flags, async (database, { keyring }) => {
      const { checkSecrets } = await import('./admin/secrets-maintenance.js')
      const report = await checkSecrets(database.db, keyring)
      console.log(`${report.readable} of ${report.total} stored provider keys and webhook secrets decrypt with the configured key(s) (primary key id ${keyring.primary.id}).`)
      for (const p of report.problems) console.log(`  ${p.instance}: ${PROBLEM_TEXT[p.problem]}${p.keyId ? ` (key id ${p.keyId})` : ''}`)
      if (report.problems.length > 0) process.exitCode = 1
    }, { migrate: true }),
)

databaseOptions(
  keys
    .command('rotate')
    .description('Re-encrypt every stored secret (provider keys, webhook signing secrets) under a new key, in one transaction. The new key comes from LLMBASE_NEW_ENCRYPTION_KEY, or is generated with --generate.')
    .addOption(new Option('--generate', 'generate the new key (embedded database: it replaces data/encryption.key)').default(false)),
).action(async (flags: ConfigFlags & { generate: boolean }) =>
  withDatabase(flags, async (database, { keyring, config, secrets }) => {
    const newKey = config.newEncryptionKey ?? (flags.generate ? generateSecret() : undefined)
    if (!newKey) throw new Error('set LLMBASE_NEW_ENCRYPTION_KEY to the new key (at least 32 characters), or pass --generate')
    const target = createKeyring(newKey)
    // Written before the transaction: if the process dies after the commit, the next start
    // still finds the key that now encrypts everything.
    const pendingFile = secrets.encryptionKeyFile ? `${secrets.encryptionKeyFile}.next` : null
    if (pendingFile) writeSecretFile(pendingFile, newKey)
    const { rotateSecrets } = await import('./admin/secrets-maintenance.js')
    let count: number
    try {
      count = await rotateSecrets(database.db, keyring, target)
    } catch (error) {
      if (pendingFile) rmSync(pendingFile, { force: true })
      throw error
    }
    console.log(`Re-encrypted ${count} stored secret(s) (provider keys and webhook secrets) under key id ${target.primary.id}.`)
    if (secrets.encryptionKeyFile && pendingFile) {
      writeSecretFile(secrets.encryptionKeyFile, newKey)
      rmSync(pendingFile, { force: true })
      console.log(`The new key replaced ${secrets.encryptionKeyFile}; back it up.`)
      if (flags.generate && !config.newEncryptionKey) console.log(`ENCRYPTION_KEY=${newKey}  (printed only this once)`)
    } else {
      console.log('Now set ENCRYPTION_KEY to the new key on every server (keep the old one in ENCRYPTION_KEY_PREVIOUS until all of them run with it).')
      if (flags.generate && !config.newEncryptionKey) console.log(`ENCRYPTION_KEY=${newKey}  (printed only this once)`)
    }
  }, { migrate: true }),
)

databaseOptions(keys.command('import-plaintext').description('Encrypt provider keys that an import left in plain text, verify each, and erase the plain text')).action(
  async (flags: ConfigFlags) =>
    withDatabase(flags, async (database, { keyring }) => {
      const { importPlaintextSecrets } = await import('./admin/secrets-maintenance.js')
      const count = await importPlaintextSecrets(database.db, keyring)
      console.log(count === 0 ? 'No plain-text provider keys found.' : `Encrypted and verified ${count} provider key(s); no plain text is left.`)
    }, { migrate: true }),
)

registerDatabaseCommands(program, { databaseOptions, withDatabase })
registerImportCommands(program, { databaseOptions, withDatabase })
registerMockProviderCommand(program)

const PROBLEM_TEXT = {
  unknown_key: 'encrypted with a key that is not configured',
  does_not_decrypt: 'does not decrypt (damaged)',
  not_encrypted: 'stored in plain text; run llmbase keys import-plaintext',
}

function label(m: { version: number; name: string }) {
  return `${String(m.version).padStart(4, '0')}_${m.name}`
}

function parsePositiveInteger(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('must be a positive integer')
  return Number(value)
}

interface CommandContext {
  config: Config
  secrets: ResolvedSecrets
  keyring: Keyring
}

async function withDatabase(
  flags: ConfigFlags,
  work: (database: Database, context: CommandContext) => Promise<void>,
  options: { migrate?: boolean } = {},
) {
  const config = loadConfig({ flags: { logLevel: 'warn', ...flags } })
  const logger: Logger = createLogger({ level: config.logLevel, destination: process.stderr as never })
  const { secrets, keyring } = openSecrets(config, logger)
  const database = options.migrate
    ? await (await import('./server.js')).openMigratedDatabase(config, logger)
    : await (await import('./db/database.js')).openDatabase({ url: config.databaseUrl, dataDir: config.dataDir, poolSize: 2, logger })
  try {
    await work(database, { config, secrets, keyring })
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
