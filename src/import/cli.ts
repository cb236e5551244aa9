import { type Command, InvalidArgumentError } from 'commander'
import { createProgress } from '../cli-progress.js'
import { type Config, type ConfigFlags, readEnvFile } from '../config.js'
import type { Database } from '../db/database.js'
import type { Keyring } from '../secrets/keyring.js'

/**
 * What the command line hands these commands: its database options and the way every command
 * opens the configured llmbase database (src/cli.ts).
 */
export interface ImportCommandKit {
  databaseOptions(command: Command): Command
  withDatabase(
    flags: ConfigFlags,
    work: (database: Database, context: { config: Config; keyring: Keyring }) => Promise<void>,
    options?: { migrate?: boolean },
  ): Promise<void>
}

type DhampsFlags = ConfigFlags & { from: string; dryRun?: boolean; batchSize: number; oldEncryptionKeyEnv: string }

const DEFAULT_KEY_VARIABLE = 'DHAMPS_ENCRYPTION_KEY'

/** `llmbase import dhamps-vdb` (docs/operations.md, "Moving in: from dhamps-vdb"). */
export function registerImportCommands(program: Command, kit: ImportCommandKit) {
  const group = program.command('import').description('Move the data of another system into llmbase')
  kit
    .databaseOptions(
      group
        .command('dhamps-vdb')
        .description(
          'Import a dhamps-vdb database (schema version 1 to 5) into the configured llmbase database: users with their keys, ' +
            'definitions, instances with their provider keys (re-encrypted), projects, embeddings and shares. Never changes what ' +
            'llmbase holds already, so a rerun adds only what is missing and finishes an import that was cut short. ' +
            'The report goes to stdout, progress to stderr. Exit code 0 when the import ran to the end (skipped items are listed), ' +
            '1 when it did not (an unknown schema, a lost connection, a failed batch: run it again).',
        )
        .requiredOption('--from <url>', 'the dhamps-vdb PostgreSQL database, postgres://user@host:port/name (give the password in PGPASSWORD rather than in the URL)')
        .option('--dry-run', 'report what would be imported, and write nothing')
        .option('--batch-size <n>', 'items and records written per transaction (1–5000)', parseBatchSize, 500)
        .option(
          '--old-encryption-key-env <name>',
          "name of the environment variable (or .env entry) holding dhamps-vdb's ENCRYPTION_KEY, which its encrypted provider keys need",
          DEFAULT_KEY_VARIABLE,
        ),
    )
    .action(async (flags: DhampsFlags) =>
      kit.withDatabase(
        flags,
        async (database, { keyring }) => {
          const oldKey = readOldKey(flags)
          // Loaded when the command runs: every command of the CLI is defined at each start.
          const [{ default: pg }, { importDhampsVdb }] = await Promise.all([import('pg'), import('./dhamps-vdb/import.js')])
          const source = new pg.Pool({ connectionString: flags.from, max: 1, application_name: 'llmbase import', connectionTimeoutMillis: 30_000 })
          source.on('error', () => {})
          try {
            const report = await importDhampsVdb({
              source,
              db: database.db,
              keyring,
              oldKey,
              dryRun: flags.dryRun === true,
              batchSize: flags.batchSize,
              progress: createProgress(),
            })
            if (oldKey === null && report.keys.some((k) => k.status === 'could_not_decrypt')) {
              process.stderr.write(`no old encryption key in ${flags.oldEncryptionKeyEnv}: encrypted provider keys were not carried over; set it and run the import again\n`)
            }
            process.stdout.write(report.describe())
          } finally {
            await source.end()
          }
        },
        { migrate: true },
      ),
    )
}

/** From the environment, then the `.env` file: never from a flag, which would land in shell history. */
function readOldKey(flags: DhampsFlags): string | null {
  const name = flags.oldEncryptionKeyEnv
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new InvalidArgumentError(`--old-encryption-key-env must name an environment variable (got "${name}")`)
  const value = process.env[name] ?? readEnvFile(flags.dotenv)[name]
  return value === undefined || value === '' ? null : value
}

function parseBatchSize(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 5000) throw new InvalidArgumentError('must be an integer from 1 to 5000')
  return Number(value)
}
