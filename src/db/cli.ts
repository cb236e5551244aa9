import type { Command } from 'commander'
import { createProgress } from '../cli-progress.js'
import type { Config, ConfigFlags } from '../config.js'
import { createLogger } from '../logger.js'
import type { CopyReport } from './copy.js'
import type { Database } from './database.js'

/**
 * What the command line hands the commands of this folder: its database options and the way
 * every command opens the configured database (src/cli.ts).
 */
export interface DatabaseCommandKit {
  databaseOptions(command: Command): Command
  withDatabase(
    flags: ConfigFlags,
    work: (database: Database, context: { config: Config }) => Promise<void>,
    options?: { migrate?: boolean },
  ): Promise<void>
}

/** `llmbase db copy`: the configured database into another one (docs/scaling.md). */
export function registerDatabaseCommands(program: Command, kit: DatabaseCommandKit) {
  const db = program.command('db').description('Work on the whole database')
  kit
    .databaseOptions(
      db
        .command('copy')
        .description(
          'Copy everything from the configured database (the embedded one by default) into an empty PostgreSQL database: ' +
            'users and key hashes, encrypted secrets as they are, registry, projects, embeddings, jobs, webhooks, request logs. ' +
            'Migrates the target first, refuses a target that holds data, and writes it in one transaction. ' +
            'Exit code 0 when every table has as many rows in the target as in the source, 1 otherwise or on any failure.',
        )
        .requiredOption('--to <url>', 'the target PostgreSQL database, postgres://user@host:port/name (a password is better given in PGPASSWORD than in the URL)'),
    )
    .action(async (flags: ConfigFlags & { to: string }) =>
      kit.withDatabase(
        flags,
        async (source, { config }) => {
          const logger = createLogger({ level: config.logLevel, destination: process.stderr as never })
          // Loaded when the command runs: every command of the CLI is defined at each start.
          const [{ openDatabase }, { migrateUp }, { copyDatabase }] = await Promise.all([import('./database.js'), import('./migrate.js'), import('./copy.js')])
          const target = await openDatabase({ url: flags.to, dataDir: config.dataDir, poolSize: 1, logger }).catch((error: Error) => {
            throw new Error(`cannot open the target database (--to): ${error.message}`, { cause: error })
          })
          try {
            const applied = await migrateUp(target.pool, { capabilities: target.capabilities })
            if (applied.length > 0) process.stderr.write(`migrated the target: ${applied.length} migration(s) applied\n`)
            if (!target.capabilities.vectors) process.stderr.write(`the target has no pgvector (${target.capabilities.vectorsUnavailableReason}); vectors go into its portable storage\n`)
            const report = await copyDatabase({ source: source.pool, target: target.pool, progress: createProgress() })
            process.stdout.write(describeCopy(report))
            if (report.mismatched.length > 0) process.exitCode = 1
          } finally {
            await target.close()
          }
        },
        { migrate: true },
      ),
    )
}

/** The per-table counts side by side, and the verdict. */
export function describeCopy(report: CopyReport): string {
  const rows = [
    ['TABLE', 'SOURCE', 'TARGET', ''],
    ...report.tables.map((t) => [
      t.table,
      String(t.source),
      t.target === null ? '-' : String(t.target),
      t.target === null ? 'not copied (rebuilt by the target)' : t.target === t.source ? 'ok' : 'DIFFERS',
    ]),
  ]
  const widths = [0, 1, 2].map((column) => Math.max(...rows.map((row) => (row[column] as string).length)))
  const lines = rows.map((row) =>
    [(row[0] as string).padEnd(widths[0] as number), (row[1] as string).padStart(widths[1] as number), (row[2] as string).padStart(widths[2] as number), row[3]].join('  ').trimEnd(),
  )
  const verdict =
    report.mismatched.length === 0
      ? 'Copied: every table has as many rows in the target as in the source.'
      : `The row counts differ in ${report.mismatched.join(', ')}.`
  return `${lines.join('\n')}\n${verdict}\n`
}
