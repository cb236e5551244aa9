import { setTimeout as sleep } from 'node:timers/promises'
import { type Command, InvalidArgumentError } from 'commander'
import { type Connection, type ConnectionFlags, call, connect, DEFAULT_URL } from './cli-client.js'
import type { Job, JobSummary } from './schemas.js'

/**
 * `llmbase jobs list|show|retry`: a client of a running server's jobs API (docs/jobs.md#cli),
 * unlike the other commands, which open the database themselves.
 */
export function registerJobCommands(program: Command) {
  const jobs = program.command('jobs').description("List, inspect and retry a user's jobs on a running server (over HTTP)")

  connectionOptions(
    jobs
      .command('list')
      .description('List jobs, newest first')
      .option('--state <state>', 'only jobs in this state: pending, running, succeeded, failed, dead or cancelled')
      .option('--type <type>', 'only jobs of this type (embed, chat.batch)')
      .option('--limit <n>', 'at most this many (1–200)', parseLimit, 50)
      .option('--json', 'print the jobs as the API returns them'),
  ).action(async (flags: ConnectionFlags & { state?: string; type?: string; limit: number; json?: boolean }) => {
    const connection = connect(flags)
    const query = new URLSearchParams({ limit: String(flags.limit) })
    if (flags.state) query.set('state', flags.state)
    if (flags.type) query.set('type', flags.type)
    const list = await call<JobSummary[]>(connection, 'GET', `${jobsPath(connection)}?${query}`)
    if (flags.json) console.log(JSON.stringify(list, null, 2))
    else console.log(list.length === 0 ? 'No jobs.' : table(list))
  })

  connectionOptions(
    jobs
      .command('show')
      .description('Show a job: state, attempts, progress, errors and a summary of its result')
      .argument('<id>', 'the job id')
      .option('--watch', 'follow the job until it ends; exit 0 when it succeeded, 1 when it is dead or cancelled')
      .option('--interval <ms>', 'with --watch: how often to ask the server', parseInterval, 1000)
      .option('--json', 'print the job as the API returns it, with its whole payload and result'),
  ).action(async (id: string, flags: ConnectionFlags & { watch?: boolean; interval: number; json?: boolean }) => {
    const connection = connect(flags)
    const path = `${jobsPath(connection)}/${encodeURIComponent(id)}`
    let job = await call<Job>(connection, 'GET', path)
    if (flags.watch) job = await watch(connection, path, job, flags.interval)
    console.log(flags.json ? JSON.stringify(job, null, 2) : describe(job))
    if (flags.watch) process.exitCode = job.state === 'succeeded' ? 0 : 1
  })

  connectionOptions(
    jobs
      .command('retry')
      .description('Run a failed job now, or a dead or cancelled one again with fresh attempts')
      .argument('<id>', 'the job id'),
  ).action(async (id: string, flags: ConnectionFlags) => {
    const connection = connect(flags)
    const job = await call<Job>(connection, 'POST', `${jobsPath(connection)}/${encodeURIComponent(id)}/retry`)
    console.log(`Job ${job.id} will run again now (attempt ${job.attempts + 1} of ${job.max_attempts}).`)
  })
}

const connectionOptions = (command: Command) =>
  command
    .option('--url <url>', `server URL (env LLMBASE_URL, default ${DEFAULT_URL})`)
    .option('--key <key>', 'API key of the user, or the admin key (env LLMBASE_API_KEY)')
    .option('--user <handle>', 'whose jobs (env LLMBASE_USER)')
    .option('--dotenv <file>', 'file of environment variables to read (default: .env in the working directory, if present)')

const jobsPath = (connection: Connection) => `/v1/jobs/${encodeURIComponent(connection.user)}`

function parseLimit(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 200) throw new InvalidArgumentError('must be an integer from 1 to 200')
  return Number(value)
}

function parseInterval(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 100) throw new InvalidArgumentError('must be at least 100 (milliseconds)')
  return Number(value)
}

const ENDED = new Set(['succeeded', 'dead', 'cancelled'])

/**
 * Polls the job until it ends. On a terminal the progress line is redrawn in place; piped to a
 * file or another program, a line is written only when something changed.
 */
async function watch(connection: Connection, path: string, first: Job, intervalMs: number): Promise<Job> {
  const tty = process.stdout.isTTY === true
  let job = first
  let last = ''
  for (;;) {
    const line = statusLine(job)
    if (tty) process.stdout.write(`\r\x1b[2K${line}`)
    else if (line !== last) process.stdout.write(`${line}\n`)
    last = line
    if (ENDED.has(job.state)) break
    await sleep(intervalMs)
    job = await call<Job>(connection, 'GET', path)
  }
  if (tty) process.stdout.write('\n')
  return job
}

const BAR_WIDTH = 20

/** `[########------------] 512/1000 51%` */
function progressBar(job: JobSummary): string {
  const { done, total } = job.progress
  if (total === null || total <= 0) return `${done ?? 0} done`
  const shown = Math.min(done ?? 0, total)
  const filled = Math.round((shown / total) * BAR_WIDTH)
  return `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${shown}/${total} ${Math.floor((shown / total) * 100)}%`
}

const statusLine = (job: JobSummary) => `${job.state.padEnd(9)}  ${progressBar(job)}`

const progressText = (job: JobSummary) => (job.progress.total === null ? (job.progress.done === null ? '-' : String(job.progress.done)) : `${job.progress.done ?? 0}/${job.progress.total}`)
const time = (iso: string | null) => (iso === null ? '-' : iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z'))

function table(list: JobSummary[]): string {
  const rows = [
    ['ID', 'TYPE', 'STATE', 'PROGRESS', 'ATTEMPTS', 'CREATED'],
    ...list.map((job) => [job.id, job.type, job.state, progressText(job), `${job.attempts}/${job.max_attempts}`, time(job.created_at)]),
  ]
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] as string).length))) ?? []
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column] as number)).join('  ').trimEnd()).join('\n')
}

function describe(job: Job): string {
  const lines = [
    `Job ${job.id} (${job.type}) of ${job.owner}`,
    `  state     ${job.state}`,
    `  attempts  ${job.attempts}/${job.max_attempts}${job.replays > 0 ? `, run again ${job.replays} time(s)` : ''}`,
    `  progress  ${progressBar(job)}`,
    `  created   ${time(job.created_at)}`,
    `  started   ${time(job.started_at)}`,
    `  finished  ${time(job.finished_at)}`,
  ]
  if (job.state === 'failed' || job.state === 'pending') lines.push(`  next run  ${time(job.run_at)}`)
  if (job.errors.length > 0) {
    lines.push('  errors')
    for (const error of job.errors) lines.push(`    attempt ${error.attempt} at ${time(error.at)}: ${error.code}: ${error.message}`)
  }
  if (job.result !== null && job.result !== undefined) lines.push(`  result    ${summarizeResult(job)}`)
  return lines.join('\n')
}

/** One line about a result: the numbers that matter for the known types, else compact JSON. */
function summarizeResult(job: Job): string {
  const result = job.result as Record<string, unknown>
  if (job.type === 'embed' && typeof result.embedded === 'number') {
    return `${result.embedded} text(s) embedded into ${String(result.project)} with ${String(result.instance)}`
  }
  if (job.type === 'chat.batch' && typeof result.succeeded === 'number') {
    const usage = result.usage as { prompt_tokens?: number; completion_tokens?: number } | undefined
    return `${result.succeeded} request(s) succeeded, ${String(result.failed)} failed; tokens: ${usage?.prompt_tokens ?? 0} prompt, ${usage?.completion_tokens ?? 0} completion (GET /v1/jobs/${job.owner}/${job.id} has the answers)`
  }
  const text = JSON.stringify(job.result)
  return text.length > 200 ? `${text.slice(0, 200)}…` : text
}
