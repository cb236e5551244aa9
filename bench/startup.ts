/**
 * Start-up benchmark: how long `llmbase serve` on the embedded database takes from its spawn to
 * the first 200 from /healthz, on a fresh data folder and on an existing one, beside bare
 * PGlite (with pgvector) opening a folder of its own in a child process, and where llmbase's
 * time goes (the `startup_ms` line that `startServer` logs at debug level).
 *
 *   npm run build && npm run bench -- startup           # 5 runs of each, about a minute
 *   npm run bench -- startup --runs 10 --only existing
 *   npm run bench -- startup --cli dist/cli.js,/tmp/before/dist/cli.js   # two builds, interleaved
 *
 * Options:
 *   --runs    runs of each measurement; medians are reported (default 5)
 *   --only    fresh, existing or both (default both)
 *   --cli     the built command line(s) to start, comma list (default dist/cli.js; run
 *             `npm run build` first); with several, their runs alternate, so that a slow spell
 *             of the (shared) machine hits them alike
 *
 * Each llmbase start runs `node <cli> serve --data-dir <folder> --port <free port> --log-level
 * debug` in an empty working folder (no .env), with no DATABASE_URL; the clock runs from the
 * spawn until /healthz answers 200 (polled every 5 ms) and until the "llmbase is listening" log
 * line arrives; then SIGTERM, and the next start waits for the exit. Fresh: an empty folder
 * each run (initdb, pgvector, every migration, generated keys). Existing: one folder made by a
 * first start that is not counted. Bare PGlite: `node -e` importing PGlite and pgvector and
 * running `PGlite.create({ dataDir, extensions: { vector } })` and `select 1`, from its spawn
 * until the answer arrives; on a fresh folder each run, or on the existing llmbase folder's
 * `pgdata` (llmbase stopped).
 *
 * It prints figures; it never passes or fails.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { createServer } from 'node:net'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join, relative, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { commitOf, table } from './_stats.js'

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    only: { type: 'string', default: 'fresh,existing' },
    cli: { type: 'string', default: 'dist/cli.js' },
  },
})

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const POLL_MS = 5
/** A start that takes longer than this is reported as failed. */
const START_TIMEOUT_MS = 120_000
const list = (text: string) => text.split(',').map((s) => s.trim()).filter(Boolean)
const RUNS = Number(values.runs)
const CASES = list(values.only as string) as Array<'fresh' | 'existing'>
const CLIS = list(values.cli as string).map((path) => resolve(ROOT, path))
const cleanups: Array<() => void> = []
const progress = (message: string) => process.stderr.write(`  … ${message}\n`)

/** What one llmbase start measured. */
interface ServeRun {
  healthzMs: number
  listeningMs: number
  /** The `startup_ms` line, when this build logs it. */
  phases: Record<string, number> | null
  databaseDetail: Record<string, number> | null
}

/** What one bare PGlite start measured: the parent's clock, and the child's own steps. */
interface BareRun {
  readyMs: number
  steps: Record<string, number>
}

// ---- llmbase -----------------------------------------------------------------------------------

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolvePort(typeof address === 'object' && address ? address.port : 0))
    })
  })
}

async function healthy(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(1000) })
    await response.arrayBuffer()
    return response.status === 200
  } catch {
    return false
  }
}

const exited = (child: ChildProcess) => (child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise<void>((done) => child.once('exit', () => done())))

/** Starts `node <cli> serve` on `dataDir`, waits for a 200 from /healthz, stops it. */
async function serveOnce(cli: string, dataDir: string): Promise<ServeRun> {
  const port = await freePort()
  const cwd = mkdtempSync(join(tmpdir(), 'llmbase-bench-startup-cwd-'))
  const env = { ...process.env }
  for (const name of Object.keys(env)) if (name === 'DATABASE_URL' || name.startsWith('LLMBASE_') || name === 'LOG_LEVEL') delete env[name]
  const started = performance.now()
  const child = spawn(process.execPath, [cli, 'serve', '--data-dir', dataDir, '--port', String(port), '--log-level', 'debug'], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let listeningMs = Number.NaN
  let phases: Record<string, number> | null = null
  let databaseDetail: Record<string, number> | null = null
  const errors: string[] = []
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const now = performance.now()
    let entry: { msg?: string; startup_ms?: Record<string, number | Record<string, number>> }
    try {
      entry = JSON.parse(line)
    } catch {
      return
    }
    if (entry.msg === 'llmbase is listening') listeningMs = now - started
    if (entry.startup_ms) {
      const { database_detail: detail, ...rest } = entry.startup_ms
      phases = rest as Record<string, number>
      databaseDetail = (detail as Record<string, number> | undefined) ?? null
    }
  })
  createInterface({ input: child.stderr! }).on('line', (line) => errors.push(line))
  try {
    const url = `http://127.0.0.1:${port}/healthz`
    for (;;) {
      if (child.exitCode !== null) throw new Error(`llmbase exited during start-up (code ${child.exitCode}): ${errors.slice(-5).join(' | ')}`)
      if (await healthy(url)) break
      if (performance.now() - started > START_TIMEOUT_MS) throw new Error(`no 200 from /healthz in ${START_TIMEOUT_MS / 1000} s`)
      await sleep(POLL_MS)
    }
    const healthzMs = performance.now() - started
    // The listening line is written asynchronously; it may trail the first answer a little.
    for (let i = 0; i < 200 && Number.isNaN(listeningMs); i++) await sleep(5)
    return { healthzMs, listeningMs, phases, databaseDetail }
  } finally {
    child.kill('SIGTERM')
    await exited(child)
    rmSync(cwd, { recursive: true, force: true })
  }
}

// ---- bare PGlite -------------------------------------------------------------------------------

/** Run with `node --input-type=module -e` in the repository, so that it finds PGlite in node_modules. */
const BARE_PGLITE = `
const steps = { process: Math.round(performance.now()) }
let last = performance.now()
const mark = (step) => { steps[step] = Math.round(performance.now() - last); last = performance.now() }
const { PGlite } = await import('@electric-sql/pglite')
const { vector } = await import('@electric-sql/pglite-pgvector')
mark('import')
const db = await PGlite.create({ dataDir: process.argv[1], extensions: { vector } })
mark('create')
await db.query('select 1')
mark('query')
process.stdout.write(JSON.stringify(steps) + '\\n')
await db.close()
`

async function bareOnce(pgdata: string): Promise<BareRun> {
  const started = performance.now()
  const child = spawn(process.execPath, ['--input-type=module', '-e', BARE_PGLITE, pgdata], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  const errors: string[] = []
  createInterface({ input: child.stderr! }).on('line', (line) => errors.push(line))
  try {
    return await new Promise<BareRun>((done, fail) => {
      createInterface({ input: child.stdout! }).once('line', (line) => done({ readyMs: performance.now() - started, steps: JSON.parse(line) }))
      child.once('exit', (code) => fail(new Error(`bare PGlite exited (code ${code}): ${errors.slice(-5).join(' | ')}`)))
    })
  } finally {
    await exited(child)
  }
}

/** Node's own start and exit, for scale. */
async function nodeOnce(): Promise<number> {
  const started = performance.now()
  await exited(spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' }))
  return performance.now() - started
}

// ---- the run -----------------------------------------------------------------------------------

function freshFolder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'llmbase-bench-startup-'))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

function median(xs: number[]): number {
  const sorted = xs.filter(Number.isFinite).sort((a, b) => a - b)
  if (sorted.length === 0) return Number.NaN
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

const msText = (x: number) => (Number.isFinite(x) ? `${Math.round(x)}` : 'n/a')
const runsText = (xs: number[]) => xs.map(msText).join(', ')
const label = (cli: string) => relative(ROOT, cli) || cli

/** The newest source file is newer than the build: the figures would be of older code. */
function staleBuildWarning(cli: string): string | null {
  if (cli !== resolve(ROOT, 'dist/cli.js')) return null
  let built: number
  try {
    built = statSync(cli).mtimeMs
  } catch {
    return `${label(cli)} is missing: run \`npm run build\` first`
  }
  const newest = (dir: string): number =>
    readdirSync(dir, { withFileTypes: true }).reduce((m, e) => Math.max(m, e.isDirectory() ? newest(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs), 0)
  return newest(join(ROOT, 'src')) > built ? `src/ has changed since ${label(cli)} was built: run \`npm run build\` to measure the current code` : null
}

interface Series {
  cli: string
  kind: 'fresh' | 'existing'
  serve: ServeRun[]
}

async function main() {
  console.log(`start-up benchmark: ${CASES.join(', ')} data folder, ${RUNS} runs each`)
  console.log(`Node ${process.version}; llmbase ${commitOf()}; ${cpus().length} cores, load average at the start ${loadavg().map((l) => l.toFixed(2)).join(', ')}`)
  for (const cli of CLIS) {
    const warning = staleBuildWarning(cli)
    if (warning) console.log(`warning: ${warning}`)
  }
  console.log(`llmbase: node <cli> serve --log-level debug on the embedded database, spawn → first 200 from /healthz (polled every ${POLL_MS} ms); builds: ${CLIS.map(label).join(', ')}`)
  console.log("bare PGlite: node -e, import PGlite + pgvector, PGlite.create({ dataDir, extensions: { vector } }), select 1; spawn → answer")

  const started = performance.now()
  const series: Series[] = []
  const bare: Record<'fresh' | 'existing', BareRun[]> = { fresh: [], existing: [] }
  const nodeStarts: number[] = []
  const existingFolder = new Map<string, string>()
  for (const kind of CASES) for (const cli of CLIS) series.push({ cli, kind, serve: [] })
  if (CASES.includes('existing')) {
    for (const cli of CLIS) {
      const dir = freshFolder()
      progress(`${label(cli)}: a first start makes the existing folder (not counted)`)
      await serveOnce(cli, dir)
      existingFolder.set(cli, dir)
    }
  }
  for (let run = 1; run <= RUNS; run++) {
    nodeStarts.push(await nodeOnce())
    for (const kind of CASES) {
      for (const s of series.filter((s) => s.kind === kind)) {
        progress(`${label(s.cli)}, ${kind} folder, run ${run}/${RUNS}`)
        s.serve.push(await serveOnce(s.cli, kind === 'fresh' ? freshFolder() : (existingFolder.get(s.cli) as string)))
      }
      progress(`bare PGlite, ${kind} folder, run ${run}/${RUNS}`)
      const pgdata = kind === 'fresh' ? join(freshFolder(), 'pgdata') : join(existingFolder.get(CLIS[0] as string) as string, 'pgdata')
      bare[kind].push(await bareOnce(pgdata))
    }
  }

  console.log(`\nSpawn → ready (ms, median of ${RUNS}; the runs in order)`)
  const rows: Array<Record<string, string>> = []
  for (const s of series) {
    const healthz = s.serve.map((r) => r.healthzMs)
    const bareReady = bare[s.kind].map((r) => r.readyMs)
    rows.push({
      folder: s.kind,
      what: `llmbase (${label(s.cli)})`,
      'to /healthz 200': msText(median(healthz)),
      'to "listening" line': msText(median(s.serve.map((r) => r.listeningMs))),
      runs: runsText(healthz),
      'llmbase/bare PGlite': `${(median(healthz) / median(bareReady)).toFixed(2)}×`,
    })
  }
  for (const kind of CASES) {
    const ready = bare[kind].map((r) => r.readyMs)
    rows.push({ folder: kind, what: 'bare PGlite + pgvector', 'to /healthz 200': msText(median(ready)), 'to "listening" line': '', runs: runsText(ready), 'llmbase/bare PGlite': '' })
  }
  rows.push({ folder: '', what: 'node -e 0 (start to exit)', 'to /healthz 200': msText(median(nodeStarts)), 'to "listening" line': '', runs: runsText(nodeStarts), 'llmbase/bare PGlite': '' })
  console.log(table(rows))

  for (const s of series) {
    const withPhases = s.serve.filter((r) => r.phases)
    if (withPhases.length === 0) {
      console.log(`\n${label(s.cli)}, ${s.kind} folder: no startup_ms line (a build from before the timings)`)
      continue
    }
    console.log(`\nWhere llmbase's start goes: ${label(s.cli)}, ${s.kind} folder (ms, median of ${withPhases.length}; startServer's startup_ms, in order)`)
    console.log(phaseTable(withPhases.map((r) => r.phases as Record<string, number>)))
    const details = withPhases.map((r) => r.databaseDetail).filter((d): d is Record<string, number> => d !== null)
    if (details.length > 0) {
      console.log(`of which "database" (embedded: spawn_to_ready is the child from fork to its ready message; child_* its own steps):`)
      console.log(phaseTable(details))
    }
  }
  for (const kind of CASES) {
    console.log(`\nBare PGlite, ${kind} folder (ms, median of ${RUNS}; process = Node's start to the first line of the script)`)
    console.log(phaseTable(bare[kind].map((r) => r.steps)))
  }
  console.log(`\n(run took ${((performance.now() - started) / 1000).toFixed(0)} s; load average at the end ${loadavg().map((l) => l.toFixed(2)).join(', ')} on ${cpus().length} cores)`)
}

/** One row of medians: a column per phase, in the order the first run logged them. */
function phaseTable(runs: Array<Record<string, number>>): string {
  const phases = Object.keys(runs[0] ?? {})
  return table([Object.fromEntries(phases.map((p) => [p, msText(median(runs.map((r) => r[p] ?? Number.NaN)))]))])
}

process.once('SIGINT', () => {
  for (const cleanup of cleanups) cleanup()
  process.exit(130)
})
try {
  await main()
} finally {
  for (const cleanup of cleanups) cleanup()
}
