/**
 * Gateway overhead benchmark: the latency an LLM gateway adds over calling the provider
 * directly, for llmbase and for Portkey's open-source gateway (`@portkey-ai/gateway` from npm),
 * both in front of the same mock provider, in one run.
 *
 *   npm run bench -- gateway                                  # profile quick (a few minutes)
 *   npm run bench -- gateway --profile full                   # longer runs, a 10-minute memory soak
 *   npm run bench -- gateway --only sequential,streams        # some of the measurements
 *   npm run bench -- gateway --gateways portkey --soak-minutes 1
 *
 * Options: --profile quick|full; --only (any of sequential,rate,ceiling,streams,memory; default
 * all); --gateways (portkey,llmbase; the mock is always measured, as the baseline);
 * --soak-minutes (quick 0 = no memory soak, full 10), --soak-rate (requests/s, default 200)
 * and --soak-gateways (default llmbase) for the memory soak.
 *
 * Four processes share the machine: the mock provider (src/mock-provider: 20 ms before each
 * answer, ~1 KB answers, streams of 64 chunks 20 ms apart), Portkey, `llmbase serve` on its
 * embedded database, and this one, the load generator (node:http over kept-alive connections;
 * fetch costs a client about a millisecond per request, which would blur the figures). Every
 * request carries the same ~1 KB OpenAI chat body. "direct" is the mock itself, so a gateway's
 * figure minus direct's is what the gateway adds. The measurements:
 *
 *   sequential  one request at a time, the systems in interleaved rounds
 *   rate        an open-loop fixed rate: requests leave on schedule whatever the answers, and
 *               latency counts from the scheduled time, so a slow answer cannot hold back the
 *               requests after it (no coordinated omission)
 *   ceiling     the open-loop rate stepped up until p99 ≥ 1 s or any error
 *   streams     bursts of concurrent streams; one stalls if two chunks arrive > 200 ms apart
 *   memory      a gateway's resident memory at a steady rate for --soak-minutes
 *
 * It prints figures; it never passes or fails.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { closeSync, cpSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { Agent, request as httpRequest } from 'node:http'
import { createServer } from 'node:net'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { ensureTemplate } from '../test/helpers/template.js'
import { commitOf, percentile, table } from './_stats.js'

const { values } = parseArgs({
  options: {
    profile: { type: 'string', default: 'quick' },
    gateways: { type: 'string', default: 'portkey,llmbase' },
    only: { type: 'string', default: 'sequential,rate,ceiling,streams,memory' },
    'soak-minutes': { type: 'string' },
    'soak-rate': { type: 'string' },
    'soak-gateways': { type: 'string', default: 'llmbase' },
  },
})

interface Profile {
  sequentialRequests: number
  fixedRate: number
  fixedRateSeconds: number
  stepSeconds: number
  soakMinutes: number
}

const PROFILES: Record<string, Profile> = {
  quick: { sequentialRequests: 300, fixedRate: 200, fixedRateSeconds: 10, stepSeconds: 5, soakMinutes: 0 },
  full: { sequentialRequests: 3000, fixedRate: 500, fixedRateSeconds: 30, stepSeconds: 20, soakMinutes: 10 },
}
const MEASUREMENTS = ['sequential', 'rate', 'ceiling', 'streams', 'memory'] as const
type Measurement = (typeof MEASUREMENTS)[number]

const MOCK = { latencyMs: 20, responseBytes: 1000, streamChunks: 64, chunkIntervalMs: 20 }
const STEP_RATES = [250, 500, 1000, 1500, 2000, 3000, 4000, 5000, 6000, 8000]
const CEILING_P99_MS = 1000
const STREAM_COUNTS = [32, 64, 128, 256, 512]
const STALL_GAP_MS = 200
const SEQUENTIAL_WARMUP_ROUNDS = 20
const WARMUP_REQUESTS = 200
const WARMUP_CLIENTS = 4
const REQUEST_TIMEOUT_MS = 10_000
const STREAM_TIMEOUT_MS = 30_000
const SOAK_SAMPLE_MS = 10_000
const SOAK_DEFAULT_RATE = 200
/** The memory soak's baseline: by then caches, pools and the JIT have settled. */
const SOAK_BASELINE_SECONDS = 120

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const PORTKEY_DIR = join(ROOT, 'node_modules/@portkey-ai/gateway')
/** The same name for llmbase's instance and the provider's model: every system gets byte-identical bodies. */
const MODEL = 'mock-model'
const PROVIDER_KEY = 'sk-mock'

type SystemName = 'direct' | 'portkey' | 'llmbase'
const GATEWAYS: SystemName[] = ['portkey', 'llmbase']
const LABELS: Record<SystemName, string> = { direct: 'direct (mock)', portkey: 'Portkey', llmbase: 'llmbase' }

/** Where to send a chat completion and with which headers. */
interface System {
  name: SystemName
  host: string
  port: number
  path: string
  headers: Record<string, string>
  /** The server process, for the memory soak (null for the mock). */
  pid: number | null
}

/** A system in the line-up, or why it could not take part. */
type Entry = { name: SystemName; system: System } | { name: SystemName; unavailable: string }

// ---- request bodies ----------------------------------------------------------------------------

/** An OpenAI chat request of about 1 KB: a system prompt and a user message. */
function chatBody(stream: boolean): Buffer {
  const system = 'You are a careful assistant. Answer briefly, cite the notes you rely on, and say so when they do not cover the question. '
  const notes = 'Note: the gateway forwards each request to the provider it names and returns the answer unchanged. '
  const messages = [
    { role: 'system', content: system.repeat(3) },
    { role: 'user', content: `Summarise these notes in one paragraph. ${notes.repeat(5)}` },
  ]
  return Buffer.from(JSON.stringify({ model: MODEL, messages, max_tokens: 256, temperature: 0, ...(stream ? { stream: true } : {}) }))
}
const BODY = chatBody(false)
const STREAM_BODY = chatBody(true)

// ---- processes -----------------------------------------------------------------------------------

const children: ChildProcess[] = []

/** Each child leads a process group of its own, so that a server and what it started stop together. */
function spawnChild(args: string[], options: { cwd: string; env: NodeJS.ProcessEnv; logFile?: string }): ChildProcess {
  const log = options.logFile ? openSync(options.logFile, 'w') : 'inherit'
  const child = spawn(process.execPath, args, { cwd: options.cwd, env: options.env, detached: true, stdio: ['ignore', options.logFile ? log : 'pipe', log] })
  if (typeof log === 'number') closeSync(log)
  children.push(child)
  return child
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals) {
  try {
    process.kill(-(child.pid as number), signal)
  } catch {
    // Already gone.
  }
}

async function stopChild(child: ChildProcess) {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  killGroup(child, 'SIGTERM')
  if ((await Promise.race([exited, sleep(10_000, 'timeout')])) === 'timeout') killGroup(child, 'SIGKILL')
}

// A run cut short must not leave servers behind.
process.on('exit', () => children.forEach((child) => killGroup(child, 'SIGKILL')))
process.once('SIGINT', () => process.exit(130))
process.once('SIGTERM', () => process.exit(143))

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

function exitedEarly(child: ChildProcess, what: string): Promise<never> {
  return new Promise((_, reject) => child.once('exit', (code) => reject(new Error(`${what} exited (${code}) before it answered`))))
}

/** Polls `url` until it answers 200. */
async function waitUntilAnswering(url: string, child: ChildProcess, what: string, timeoutMs: number) {
  const deadline = performance.now() + timeoutMs
  const poll = async () => {
    while (performance.now() < deadline) {
      const status = await fetch(url).then((r) => (r.body?.cancel(), r.status), () => 0)
      if (status === 200) return
      await sleep(200)
    }
    throw new Error(`${what} did not answer ${url} within ${timeoutMs / 1000} s`)
  }
  await Promise.race([poll(), exitedEarly(child, what)])
}

async function startMock(): Promise<{ url: string; child: ChildProcess }> {
  const child = spawnChild(['--import', import.meta.resolve('tsx'), join(ROOT, 'bench/_mock-server.ts'), JSON.stringify(MOCK)], { cwd: ROOT, env: { PATH: process.env.PATH } })
  const url = await Promise.race([
    new Promise<string>((resolve) => {
      let buffered = ''
      child.stdout?.on('data', (chunk) => {
        buffered += chunk
        if (buffered.includes('\n')) resolve((JSON.parse(buffered.split('\n')[0] as string) as { url: string }).url)
      })
    }),
    exitedEarly(child, 'the mock provider'),
  ])
  return { url, child }
}

/**
 * Portkey's gateway as its package runs it (`build/start-server.js`, the package's bin),
 * without its log viewer (`--headless`). It is told per request where the provider is: the
 * `openai` provider with a custom host, the mock's OpenAI base URL.
 */
async function startPortkey(mockUrl: string, workDir: string): Promise<{ system: System; child: ChildProcess }> {
  const entry = join(PORTKEY_DIR, 'build/start-server.js')
  if (!existsSync(entry)) throw new Error('@portkey-ai/gateway is not installed (npm install)')
  const port = await freePort()
  const child = spawnChild([entry, `--port=${port}`, '--headless'], { cwd: ROOT, env: { PATH: process.env.PATH }, logFile: join(workDir, 'portkey.log') })
  await waitUntilAnswering(`http://127.0.0.1:${port}/`, child, 'Portkey', 30_000)
  const headers = { authorization: `Bearer ${PROVIDER_KEY}`, 'x-portkey-provider': 'openai', 'x-portkey-custom-host': `${mockUrl}/openai/v1` }
  return { system: { name: 'portkey', host: '127.0.0.1', port, path: '/v1/chat/completions', headers, pid: child.pid as number }, child }
}

/**
 * `llmbase serve` as in production (its own process, the embedded database, log level info
 * written to a file), with a user, that user's key and a chat instance named after the mock's
 * model, called the OpenAI way with the instance handle as `model`.
 */
async function startLlmbase(mockUrl: string, workDir: string): Promise<{ system: System; child: ChildProcess }> {
  const dataDir = join(workDir, 'llmbase')
  cpSync(await ensureTemplate(), join(dataDir, 'pgdata'), { recursive: true })
  const port = await freePort()
  const adminKey = `bench-${randomBytes(16).toString('hex')}`
  const env = {
    PATH: process.env.PATH,
    LLMBASE_DATA_DIR: dataDir,
    PORT: String(port),
    LLMBASE_ADMIN_KEY: adminKey,
    ENCRYPTION_KEY: randomBytes(24).toString('hex'),
    LOG_LEVEL: 'info',
    // The mock listens on 127.0.0.1, a private address an instance may not point to by default.
    LLMBASE_PRIVATE_HOSTS: '*',
  }
  // The compiled server, as `npm start` runs it, built from the current source first.
  execFileSync(process.execPath, [join(ROOT, 'scripts/build.mjs')], { cwd: ROOT, stdio: 'ignore' })
  const child = spawnChild([join(ROOT, 'dist/cli.js'), 'serve'], { cwd: dataDir, env, logFile: join(workDir, 'llmbase.log') })
  const base = `http://127.0.0.1:${port}`
  await waitUntilAnswering(`${base}/readyz`, child, 'llmbase', 60_000)
  const userKey = await createChatInstance(base, adminKey, mockUrl)
  return { system: { name: 'llmbase', host: '127.0.0.1', port, path: '/v1/chat/completions', headers: { authorization: `Bearer ${userKey}` }, pid: child.pid as number }, child }
}

/** Creates the user `bench` and its chat instance; returns the user's key. */
async function createChatInstance(base: string, adminKey: string, mockUrl: string): Promise<string> {
  const admin = async (method: string, path: string, body: unknown) => {
    const response = await fetch(base + path, { method, headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' }, body: JSON.stringify(body) })
    const text = await response.text()
    if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${text.slice(0, 200)}`)
    return JSON.parse(text) as Record<string, unknown>
  }
  const user = await admin('PUT', '/v1/users/bench', { user_handle: 'bench', email: 'bench@example.org' })
  await admin('PUT', `/v1/llm-instances/bench/${MODEL}`, {
    instance_handle: MODEL,
    kind: 'chat',
    api_standard: 'openai',
    endpoint: `${mockUrl}/openai/v1/chat/completions`,
    model: MODEL,
    api_key: PROVIDER_KEY,
  })
  return user.vdb_key as string
}

/** One chat completion, checked for the OpenAI answer shape; throws with the reason otherwise. */
async function probe(system: System) {
  const response = await fetch(`http://${system.host}:${system.port}${system.path}`, { method: 'POST', headers: { ...system.headers, 'content-type': 'application/json' }, body: BODY })
  const text = await response.text()
  if (response.status !== 200) throw new Error(`POST ${system.path} answered ${response.status}: ${text.slice(0, 200)}`)
  const answer = JSON.parse(text) as { choices?: Array<{ message?: { content?: unknown } }> }
  if (typeof answer.choices?.[0]?.message?.content !== 'string') throw new Error(`POST ${system.path} answered without choices[0].message.content: ${text.slice(0, 200)}`)
}

/**
 * Starts a gateway (logging to `<workDir>/<name>.log`) and checks that it answers; a gateway
 * that cannot is reported, not fatal.
 */
async function tryStart(name: SystemName, workDir: string, start: () => Promise<{ system: System; child: ChildProcess }>): Promise<{ entry: Entry; child: ChildProcess | null }> {
  const spawnedBefore = children.length
  let started: { system: System; child: ChildProcess } | null = null
  try {
    started = await start()
    await probe(started.system)
    return { entry: { name, system: started.system }, child: started.child }
  } catch (error) {
    // A server that did not come up says why in its log; one that answered wrongly, in its answer.
    const why = started ? '' : logTail(join(workDir, `${name}.log`))
    for (const child of children.slice(spawnedBefore)) await stopChild(child)
    return { entry: { name, unavailable: `${(error as Error).message}${why}` }, child: null }
  }
}

function logTail(file: string): string {
  if (!existsSync(file)) return ''
  const lines = readFileSync(file, 'utf8').trim().split('\n').slice(-5).join('\n  ')
  return lines ? `\n  last lines of its log:\n  ${lines}` : ''
}

// ---- the HTTP client ---------------------------------------------------------------------------

interface Reply {
  error: string | null
  sentAt: number
  firstChunkAt: number
  endAt: number
  /** The longest pause between two pieces of the body (a stream's chunks). */
  maxGapMs: number
}

/** Enough sockets that the client never queues a request behind another. */
const newAgent = () => new Agent({ keepAlive: true, maxSockets: 20_000, maxFreeSockets: 20_000 })

/**
 * POSTs `body` and reads the whole answer. A non-200 status, a socket error, a timeout or (with
 * `endMarker`) a stream that ends without its end marker is an error.
 */
function send(system: System, agent: Agent, body: Buffer, options: { timeoutMs: number; endMarker?: string }): Promise<Reply> {
  return new Promise((resolve) => {
    const reply: Reply = { error: null, sentAt: performance.now(), firstChunkAt: 0, endAt: 0, maxGapMs: 0 }
    let lastChunkAt = 0
    let tail = ''
    const finish = (error: string | null) => {
      if (reply.endAt !== 0) return
      clearTimeout(timer)
      reply.endAt = performance.now()
      reply.error = error
      resolve(reply)
    }
    const headers = { ...system.headers, 'content-type': 'application/json', 'content-length': String(body.length) }
    const request = httpRequest({ host: system.host, port: system.port, method: 'POST', path: system.path, agent, headers }, (response) => {
      response.on('data', (chunk: Buffer) => {
        const now = performance.now()
        if (reply.firstChunkAt === 0) reply.firstChunkAt = now
        else reply.maxGapMs = Math.max(reply.maxGapMs, now - lastChunkAt)
        lastChunkAt = now
        if (options.endMarker) tail = (tail + chunk.toString('latin1')).slice(-64)
      })
      response.on('end', () => {
        if (response.statusCode !== 200) finish(`HTTP ${response.statusCode}`)
        else if (options.endMarker && !tail.includes(options.endMarker)) finish('stream ended without its end marker')
        else finish(null)
      })
      response.on('error', (error) => finish(errorName(error)))
    })
    const timer = setTimeout(() => request.destroy(new Error(`no answer within ${options.timeoutMs / 1000} s`)), options.timeoutMs)
    request.on('error', (error) => finish(errorName(error)))
    request.end(body)
  })
}

const errorName = (error: Error) => (error as NodeJS.ErrnoException).code ?? error.message

/** Latencies (ms) and errors of one system in one measurement. */
class Tally {
  readonly latencies: number[] = []
  readonly errorKinds = new Map<string, number>()
  errors = 0

  add(reply: Reply, latency: number) {
    if (reply.error === null) this.latencies.push(latency)
    else this.addError(reply.error)
  }

  addError(kind: string) {
    this.errors++
    this.errorKinds.set(kind, (this.errorKinds.get(kind) ?? 0) + 1)
  }

  /** p in 0..100 over the answered requests. */
  p(p: number) {
    return percentile([...this.latencies].sort((a, b) => a - b), p)
  }

  errorSummary() {
    return [...this.errorKinds].map(([kind, count]) => `${count} × ${kind}`).join(', ')
  }
}

/**
 * Some requests to every system before any measurement, then a pause: the first requests pay
 * for compilation and new connections, and a server just started may still be busy settling.
 */
async function warmUp(systems: System[]) {
  const agent = newAgent()
  for (const system of systems) {
    await Promise.all(Array.from({ length: WARMUP_CLIENTS }, async () => {
      for (let i = 0; i < WARMUP_REQUESTS / WARMUP_CLIENTS; i++) await send(system, agent, BODY, { timeoutMs: REQUEST_TIMEOUT_MS })
    }))
  }
  agent.destroy()
  await sleep(2000)
}

// ---- measurement 1: one request at a time ------------------------------------------------------

/** `rounds` rounds of one request per system, each round starting with the next system, after a warm-up. */
async function measureSequential(systems: System[], rounds: number): Promise<Map<SystemName, Tally>> {
  const agent = newAgent()
  const tallies = new Map(systems.map((system) => [system.name, new Tally()]))
  for (let round = -SEQUENTIAL_WARMUP_ROUNDS; round < rounds; round++) {
    for (const system of rotate(systems, round)) {
      const reply = await send(system, agent, BODY, { timeoutMs: REQUEST_TIMEOUT_MS })
      if (round >= 0) tallies.get(system.name)?.add(reply, reply.endAt - reply.sentAt)
    }
  }
  agent.destroy()
  return tallies
}

function rotate<T>(items: T[], by: number): T[] {
  const start = ((by % items.length) + items.length) % items.length
  return [...items.slice(start), ...items.slice(0, start)]
}

// ---- measurements 2, 3 and 5: an open-loop rate ------------------------------------------------

interface LoadResult {
  rate: number
  planned: number
  tally: Tally
  /** Why the run stopped before its planned end (the ceiling search gives up early), or null. */
  cutShort: string | null
}

/**
 * Sends `rate` requests a second for `seconds`, each at its scheduled time whatever happened to
 * the ones before, and counts latency from that time. With `giveUpAtMs`, stops as soon as the
 * run cannot end with p99 below it and without errors (an overloaded system would otherwise
 * pile up thousands of waiting requests).
 */
async function openLoop(system: System, rate: number, seconds: number, giveUpAtMs?: number): Promise<LoadResult> {
  const agent = newAgent()
  const result: LoadResult = { rate, planned: Math.round(rate * seconds), tally: new Tally(), cutShort: null }
  const scheduledOf = new Map<number, number>()
  const interval = 1000 / rate
  const startAt = performance.now() + 10
  let late = 0
  let closed = false
  const fire = (index: number, scheduled: number) => {
    scheduledOf.set(index, scheduled)
    void send(system, agent, BODY, { timeoutMs: REQUEST_TIMEOUT_MS }).then((reply) => {
      if (closed) return
      scheduledOf.delete(index)
      const latency = reply.endAt - scheduled
      if (giveUpAtMs !== undefined && reply.error === null && latency >= giveUpAtMs) late++
      result.tally.add(reply, latency)
    })
  }
  let sent = 0
  let checkedAt = 0
  while (sent < result.planned && result.cutShort === null) {
    const now = performance.now()
    for (; sent < result.planned && startAt + sent * interval <= now; sent++) fire(sent, startAt + sent * interval)
    if (giveUpAtMs !== undefined && now - checkedAt >= 100) {
      checkedAt = now
      result.cutShort = hopeless(result, late, scheduledOf, now, giveUpAtMs)
    }
    // At least a millisecond: the generator must not spin a core the servers need; the requests
    // that fall due meanwhile leave together and are charged for the wait.
    await sleep(Math.max(1, Math.floor(startAt + sent * interval - performance.now())))
  }
  await until(() => scheduledOf.size === 0, result.cutShort ? 2000 : REQUEST_TIMEOUT_MS + 1000)
  closed = true
  agent.destroy()
  return result
}

/** Why a ceiling step has already failed, or null while it may still hold. */
function hopeless(result: LoadResult, late: number, scheduledOf: Map<number, number>, now: number, limitMs: number): string | null {
  if (result.tally.errors > 0) return `error: ${result.tally.errorSummary()}`
  let waiting = 0
  for (const scheduled of scheduledOf.values()) if (now - scheduled >= limitMs) waiting++
  return late + waiting > result.planned * 0.01 ? `p99 ≥ ${limitMs / 1000} s` : null
}

async function until(done: () => boolean, timeoutMs: number) {
  const deadline = performance.now() + timeoutMs
  while (!done() && performance.now() < deadline) await sleep(10)
}

async function measureFixedRate(systems: System[], profile: Profile): Promise<Map<SystemName, LoadResult>> {
  const results = new Map<SystemName, LoadResult>()
  for (const system of systems) {
    progress(`fixed rate: ${LABELS[system.name]} at ${profile.fixedRate}/s for ${profile.fixedRateSeconds} s`)
    results.set(system.name, await openLoop(system, profile.fixedRate, profile.fixedRateSeconds))
    await sleep(1000)
  }
  return results
}

/**
 * The rate steps in turn, every system that still holds at each one. Direct goes on only while
 * a gateway does (unless it is alone): past that its ceiling would compare with nothing.
 */
async function measureCeiling(systems: System[], stepSeconds: number): Promise<Map<SystemName, LoadResult[]>> {
  const steps = new Map<SystemName, LoadResult[]>(systems.map((system) => [system.name, []]))
  const holding = new Set(systems)
  const stillComparing = () => [...holding].some((system) => system.name !== 'direct') || (systems.length === 1 && holding.size === 1)
  for (const rate of STEP_RATES) {
    for (const system of holding) {
      progress(`ceiling: ${LABELS[system.name]} at ${rate}/s`)
      const result = await openLoop(system, rate, stepSeconds, CEILING_P99_MS)
      steps.get(system.name)?.push(result)
      if (!held(result)) holding.delete(system)
      await sleep(1000)
    }
    if (!stillComparing()) break
  }
  return steps
}

const held = (result: LoadResult) => result.cutShort === null && result.tally.errors === 0 && result.tally.p(99) < CEILING_P99_MS

// ---- measurement 4: concurrent streams ---------------------------------------------------------

interface Burst {
  count: number
  stalled: number
  failed: number
  maxGapMs: number
  /** Time to first chunk of the streams that completed, sorted (ms). */
  firstChunkMs: number[]
  errors: string
}

/** `count` streams started at once; each must deliver every chunk with no pause above the stall gap. */
async function streamBurst(system: System, count: number): Promise<Burst> {
  const agent = newAgent()
  const replies = await Promise.all(Array.from({ length: count }, () => send(system, agent, STREAM_BODY, { timeoutMs: STREAM_TIMEOUT_MS, endMarker: '[DONE]' })))
  agent.destroy()
  const failed = replies.filter((reply) => reply.error !== null)
  const tally = new Tally()
  failed.forEach((reply) => tally.addError(reply.error as string))
  return {
    count,
    failed: failed.length,
    stalled: replies.filter((reply) => reply.error === null && reply.maxGapMs > STALL_GAP_MS).length,
    maxGapMs: Math.max(...replies.map((reply) => reply.maxGapMs)),
    firstChunkMs: replies.filter((reply) => reply.error === null).map((reply) => reply.firstChunkAt - reply.sentAt).sort((a, b) => a - b),
    errors: tally.errorSummary(),
  }
}

const burstHeld = (burst: Burst) => burst.failed === 0 && burst.stalled === 0

/** Rising burst sizes, every system that has not stalled yet at each (direct throughout: it is the baseline). */
async function measureStreams(systems: System[]): Promise<Map<SystemName, Burst[]>> {
  const bursts = new Map<SystemName, Burst[]>(systems.map((system) => [system.name, []]))
  for (const system of systems) await streamBurst(system, 8)
  const holding = new Set(systems.filter((system) => system.name !== 'direct'))
  for (const count of STREAM_COUNTS) {
    if (holding.size === 0) break
    for (const system of systems) {
      if (system.name !== 'direct' && !holding.has(system)) continue
      progress(`streams: ${LABELS[system.name]}, ${count} at once`)
      const burst = await streamBurst(system, count)
      bursts.get(system.name)?.push(burst)
      if (!burstHeld(burst)) holding.delete(system)
      await sleep(500)
    }
  }
  return bursts
}

// ---- measurement 5: memory under a steady rate -------------------------------------------------

interface MemorySample {
  seconds: number
  rssKb: number
  /** The server and the processes it started (llmbase's embedded database runs in a child). */
  treeRssKb: number
}

async function measureMemory(system: System, rate: number, minutes: number): Promise<{ load: LoadResult; samples: MemorySample[] }> {
  const pid = system.pid as number
  const samples: MemorySample[] = []
  const started = performance.now()
  const sample = () => samples.push({ seconds: (performance.now() - started) / 1000, rssKb: rssKb(pid), treeRssKb: treeRssKb(pid) })
  const sampler = setInterval(() => {
    sample()
    const last = samples[samples.length - 1] as MemorySample
    if (Math.round(last.seconds) % 60 < SOAK_SAMPLE_MS / 1000) progress(`memory: ${LABELS[system.name]} ${(last.seconds / 60).toFixed(0)}/${minutes} min, RSS ${mb(last.rssKb)} MB`)
  }, SOAK_SAMPLE_MS)
  const load = await openLoop(system, rate, minutes * 60)
  clearInterval(sampler)
  sample()
  return { load, samples }
}

function rssKb(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0)
  } catch {
    return 0
  }
}

function treeRssKb(root: number): number {
  const childrenOf = new Map<number, number[]>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      childrenOf.set(parent, [...(childrenOf.get(parent) ?? []), Number(entry)])
    } catch {
      // The process ended while the list was read.
    }
  }
  const total = (pid: number): number => rssKb(pid) + (childrenOf.get(pid) ?? []).reduce((sum, child) => sum + total(child), 0)
  return total(root)
}

// ---- reporting ---------------------------------------------------------------------------------

const ms = (value: number) => (Number.isFinite(value) ? value.toFixed(2) : 'n/a')
const signedMs = (value: number) => (Number.isFinite(value) ? `${value >= 0 ? '+' : ''}${value.toFixed(2)}` : 'n/a')
const mb = (kb: number) => (kb / 1024).toFixed(0)
const progress = (message: string) => process.stderr.write(`  … ${message}\n`)

/** "llmbase 0.80 ms, Portkey 2.40 ms: llmbase/Portkey = 0.33" (a ratio only where both are positive). */
function versus(what: string, llmbase: number | string, portkey: number | string, unit: string): string {
  const show = (value: number | string) => (typeof value === 'number' ? `${unit === 'ms' ? ms(value) : value} ${unit}` : value)
  const ratio = typeof llmbase === 'number' && typeof portkey === 'number' && llmbase > 0 && portkey > 0 ? `: llmbase/Portkey = ${(llmbase / portkey).toFixed(2)}` : ''
  return `${what}: llmbase ${show(llmbase)}, Portkey ${show(portkey)}${ratio}`
}

function unavailableRow(entry: Entry, columns: string[]): Record<string, string> {
  const row: Record<string, string> = Object.fromEntries(columns.map((column) => [column, '']))
  row[columns[0] as string] = LABELS[entry.name]
  // The reason itself is printed once, above the tables.
  row[columns[1] as string] = 'unavailable (reason above)'
  return row
}

function reportSequential(entries: Entry[], tallies: Map<SystemName, Tally>, rounds: number) {
  console.log(`\n1. Added latency at concurrency 1: ${rounds} requests per system, one at a time, the systems in interleaved rounds (after ${SEQUENTIAL_WARMUP_ROUNDS} warm-up rounds)`)
  const direct = tallies.get('direct') as Tally
  const columns = ['system', 'requests', 'errors', 'p50 ms', 'p99 ms', 'added p50 ms', 'added p99 ms']
  const rows = entries.map((entry) => {
    const tally = tallies.get(entry.name)
    if (!tally) return unavailableRow(entry, columns)
    const added = entry.name === 'direct' ? ['', ''] : [signedMs(tally.p(50) - direct.p(50)), signedMs(tally.p(99) - direct.p(99))]
    return Object.fromEntries(columns.map((c, i) => [c, [LABELS[entry.name], tally.latencies.length + tally.errors, tally.errors, ms(tally.p(50)), ms(tally.p(99)), ...added][i] as string | number]))
  })
  console.log(table(rows))
  const added = (name: SystemName, p: number) => {
    const tally = tallies.get(name)
    return tally ? tally.p(p) - direct.p(p) : reasonOf(entries, name)
  }
  console.log(versus('added p50 (median)', added('llmbase', 50), added('portkey', 50), 'ms'))
  console.log(versus('added p99', added('llmbase', 99), added('portkey', 99), 'ms'))
}

function reasonOf(entries: Entry[], name: SystemName): string {
  const entry = entries.find((e) => e.name === name)
  return entry && 'unavailable' in entry ? 'unavailable' : 'not measured'
}

function reportFixedRate(entries: Entry[], results: Map<SystemName, LoadResult>, profile: Profile) {
  console.log(`\n2. Added latency at a fixed open-loop rate: ${profile.fixedRate} requests/s for ${profile.fixedRateSeconds} s per system, one system after the other; latency from each request's scheduled send time`)
  const direct = results.get('direct') as LoadResult
  const columns = ['system', 'requests', 'errors', 'p50 ms', 'p99 ms', 'added p50 ms', 'added p99 ms']
  const rows = entries.map((entry) => {
    const result = results.get(entry.name)
    if (!result) return unavailableRow(entry, columns)
    const { tally } = result
    const added = entry.name === 'direct' ? ['', ''] : [signedMs(tally.p(50) - direct.tally.p(50)), signedMs(tally.p(99) - direct.tally.p(99))]
    const errors = tally.errors ? `${tally.errors} (${tally.errorSummary()})` : '0'
    return Object.fromEntries(columns.map((c, i) => [c, [LABELS[entry.name], result.planned, errors, ms(tally.p(50)), ms(tally.p(99)), ...added][i] as string | number]))
  })
  console.log(table(rows))
  const added = (name: SystemName, p: number) => {
    const result = results.get(name)
    return result ? result.tally.p(p) - direct.tally.p(p) : reasonOf(entries, name)
  }
  console.log(versus('added p50 (median)', added('llmbase', 50), added('portkey', 50), 'ms'))
  console.log(versus('added p99', added('llmbase', 99), added('portkey', 99), 'ms'))
}

function reportCeiling(entries: Entry[], steps: Map<SystemName, LoadResult[]>, stepSeconds: number) {
  console.log(`\n3. Highest sustained rate: open-loop steps of ${stepSeconds} s, each system until p99 ≥ ${CEILING_P99_MS / 1000} s or any error (cells: p99 ms of the step, or why it failed). The load generator, the mock and the gateway share ${cpus().length} cores: direct's ceiling is this rig's`)
  const rates = STEP_RATES.filter((rate) => [...steps.values()].some((results) => results.some((r) => r.rate === rate)))
  const columns = ['system', ...rates.map((rate) => `${rate}/s`), 'highest held']
  const highest = (name: SystemName) => {
    const results = steps.get(name)
    return results ? Math.max(0, ...results.filter(held).map((r) => r.rate)) : reasonOf(entries, name)
  }
  const rows = entries.map((entry) => {
    const results = steps.get(entry.name)
    if (!results) return unavailableRow(entry, columns)
    const cells = rates.map((rate) => {
      const result = results.find((r) => r.rate === rate)
      return result ? stepCell(result) : ''
    })
    return Object.fromEntries(columns.map((c, i) => [c, [LABELS[entry.name], ...cells, highestCell(results)][i] as string]))
  })
  console.log(table(rows))
  const shown = (name: SystemName) => {
    const best = highest(name)
    return best === 0 ? `below ${STEP_RATES[0]} req/s` : best
  }
  console.log(versus('highest rate held', shown('llmbase'), shown('portkey'), 'req/s'))
}

/** The highest rate held; "or more" when the steps stopped before this system failed. */
function highestCell(results: LoadResult[]): string {
  const best = Math.max(0, ...results.filter(held).map((r) => r.rate))
  if (best === 0) return `below ${STEP_RATES[0]}/s`
  const last = results[results.length - 1] as LoadResult
  return held(last) ? `${best}/s or more` : `${best}/s`
}

function stepCell(result: LoadResult): string {
  if (result.cutShort) return `fail: ${result.cutShort}`
  if (result.tally.errors) return `fail: ${result.tally.errorSummary()}`
  const p99 = result.tally.p(99)
  return p99 >= CEILING_P99_MS ? `fail: p99 ${ms(p99)}` : ms(p99)
}

function reportStreams(entries: Entry[], bursts: Map<SystemName, Burst[]>) {
  console.log(`\n4. Concurrent streams: bursts of streams started at once (${MOCK.streamChunks} chunks, ${MOCK.chunkIntervalMs} ms apart); a stream stalls if two chunks arrive more than ${STALL_GAP_MS} ms apart or it fails. Cells: time to first chunk p50 ms (added over direct at the same count), or stalls`)
  const counts = STREAM_COUNTS.filter((count) => [...bursts.values()].some((list) => list.some((b) => b.count === count)))
  const columns = ['system', ...counts.map((count) => `${count} streams`), 'most without stall', 'added TTFC p50 ms']
  const directAt = (count: number) => bursts.get('direct')?.find((b) => b.count === count)
  const mostHeld = (name: SystemName) => {
    const list = bursts.get(name)
    return list ? Math.max(0, ...list.filter(burstHeld).map((b) => b.count)) : reasonOf(entries, name)
  }
  const addedAtFirst = (name: SystemName) => {
    const first = bursts.get(name)?.[0]
    const direct = first && directAt(first.count)
    return first && direct ? percentile(first.firstChunkMs, 50) - percentile(direct.firstChunkMs, 50) : reasonOf(entries, name)
  }
  const rows = entries.map((entry) => {
    const list = bursts.get(entry.name)
    if (!list) return unavailableRow(entry, columns)
    const cells = counts.map((count) => {
      const burst = list.find((b) => b.count === count)
      return burst ? burstCell(burst, entry.name === 'direct' ? undefined : directAt(count)) : ''
    })
    const most = mostHeld(entry.name)
    const added = entry.name === 'direct' ? '' : signedMs(addedAtFirst(entry.name) as number)
    return Object.fromEntries(columns.map((c, i) => [c, [LABELS[entry.name], ...cells, most === 0 ? `below ${STREAM_COUNTS[0]}` : String(most), added][i] as string]))
  })
  console.log(table(rows))
  console.log(`(added TTFC p50: at ${STREAM_COUNTS[0]} streams)`)
  const shown = (name: SystemName) => {
    const most = mostHeld(name)
    return most === 0 ? `below ${STREAM_COUNTS[0]} streams` : most
  }
  console.log(versus('most concurrent streams without a stall', shown('llmbase'), shown('portkey'), 'streams'))
  console.log(versus(`added time to first chunk p50 at ${STREAM_COUNTS[0]} streams`, addedAtFirst('llmbase'), addedAtFirst('portkey'), 'ms'))
}

function burstCell(burst: Burst, direct: Burst | undefined): string {
  if (burst.failed) return `${burst.failed} failed (${burst.errors})`
  if (burst.stalled) return `${burst.stalled} stalled (gap ${burst.maxGapMs.toFixed(0)} ms)`
  const p50 = percentile(burst.firstChunkMs, 50)
  return direct ? `${ms(p50)} (${signedMs(p50 - percentile(direct.firstChunkMs, 50))})` : ms(p50)
}

function reportMemory(entries: Entry[], soaks: Map<SystemName, { load: LoadResult; samples: MemorySample[] }>, rate: number, minutes: number) {
  console.log(`\n5. Memory: a steady ${rate} requests/s for ${minutes} min, the server's resident memory (VmRSS) sampled every ${SOAK_SAMPLE_MS / 1000} s; "with children" adds the processes it started (llmbase's embedded database)`)
  const columns = ['system', 'requests', 'errors', 'p99 ms', 'RSS MB at baseline', 'RSS MB at end', 'change', 'with children MB at baseline', 'with children MB at end', 'change (with children)']
  const rows = entries.filter((entry) => soaks.has(entry.name) || 'unavailable' in entry).map((entry) => {
    const soak = soaks.get(entry.name)
    if (!soak) return unavailableRow(entry, columns)
    const baseline = baselineSample(soak.samples, minutes)
    const end = soak.samples[soak.samples.length - 1] as MemorySample
    const change = (from: number, to: number) => `${to >= from ? '+' : ''}${(((to - from) / from) * 100).toFixed(1)} %`
    const { tally } = soak.load
    return Object.fromEntries(columns.map((c, i) => [c, [LABELS[entry.name], soak.load.planned, tally.errors, ms(tally.p(99)), mb(baseline.rssKb), mb(end.rssKb), change(baseline.rssKb, end.rssKb), mb(baseline.treeRssKb), mb(end.treeRssKb), change(baseline.treeRssKb, end.treeRssKb)][i] as string | number]))
  })
  console.log(table(rows))
  const baselineAt = minutes * 60 > SOAK_BASELINE_SECONDS ? `minute ${SOAK_BASELINE_SECONDS / 60}` : `the first sample (${SOAK_SAMPLE_MS / 1000} s; the soak is shorter than ${SOAK_BASELINE_SECONDS / 60} min)`
  console.log(`(baseline: ${baselineAt}; end: after ${minutes} min)`)
}

/** The sample nearest minute 2, or the first one in a soak that ends before then. */
function baselineSample(samples: MemorySample[], minutes: number): MemorySample {
  if (minutes * 60 <= SOAK_BASELINE_SECONDS) return samples[0] as MemorySample
  const distance = (sample: MemorySample) => Math.abs(sample.seconds - SOAK_BASELINE_SECONDS)
  return samples.reduce((best, sample) => (distance(sample) < distance(best) ? sample : best))
}

// ---- the run -----------------------------------------------------------------------------------

function packageVersion(dir: string): string {
  try {
    return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version
  } catch {
    return 'not installed'
  }
}

function printHeader(profile: Profile, measurements: Set<Measurement>, mockUrl: string, soak: { minutes: number; rate: number }) {
  const honoServer = [join(PORTKEY_DIR, 'node_modules/@hono/node-server'), join(ROOT, 'node_modules/@hono/node-server')].find(existsSync)
  console.log(`gateway benchmark, profile ${values.profile}: ${[...measurements].join(', ')}`)
  console.log(`Node ${process.version}; @portkey-ai/gateway ${packageVersion(PORTKEY_DIR)} (@hono/node-server ${honoServer ? packageVersion(honoServer) : 'not installed'}); llmbase ${commitOf()}; ${cpus().length} cores`)
  console.log(`mock provider (its own process, ${mockUrl}): ${MOCK.latencyMs} ms before each answer, ~${MOCK.responseBytes}-byte answers, streams of ${MOCK.streamChunks} chunks ${MOCK.chunkIntervalMs} ms apart`)
  console.log(`every request: the same OpenAI chat body, ${BODY.length} bytes (${STREAM_BODY.length} with "stream": true); client: this process, node:http keep-alive agent`)
  console.log(`Portkey: node build/start-server.js --port=<free> --headless; headers x-portkey-provider: openai, x-portkey-custom-host: <mock>/openai/v1`)
  console.log(`llmbase: node dist/cli.js serve (built from the current source), embedded database, LOG_LEVEL info to a file; chat instance ${MODEL} → <mock>/openai/v1/chat/completions, called as POST /v1/chat/completions with model "${MODEL}" and the user's key`)
  console.log(`settings: sequential ${profile.sequentialRequests} requests per system; fixed rate ${profile.fixedRate}/s × ${profile.fixedRateSeconds} s; ceiling steps ${profile.stepSeconds} s over ${STEP_RATES.join(', ')} req/s; streams ${STREAM_COUNTS.join(', ')}; memory ${soak.minutes ? `${soak.rate}/s × ${soak.minutes} min` : 'skipped (--soak-minutes 0)'}`)
}

function parseList<T extends string>(text: string, allowed: readonly T[], option: string): T[] {
  const items = text.split(',').map((item) => item.trim()).filter(Boolean)
  const wrong = items.filter((item) => !allowed.includes(item as T))
  if (wrong.length) throw new Error(`--${option}: unknown ${wrong.join(', ')}; use ${allowed.join(', ')}`)
  return items as T[]
}

async function main() {
  const profile = PROFILES[values.profile as string]
  if (!profile) throw new Error(`unknown profile ${values.profile}; use quick or full`)
  const measurements = new Set(parseList(values.only as string, MEASUREMENTS, 'only'))
  const gateways = parseList(values.gateways as string, GATEWAYS, 'gateways')
  const soak = { minutes: Number(values['soak-minutes'] ?? profile.soakMinutes), rate: Number(values['soak-rate'] ?? SOAK_DEFAULT_RATE) }
  const soakGateways = parseList(values['soak-gateways'] as string, GATEWAYS, 'soak-gateways')
  if (!(soak.minutes > 0)) measurements.delete('memory')

  const workDir = mkdtempSync(join(tmpdir(), 'llmbase-bench-gateway-'))
  const mock = await startMock()
  printHeader(profile, measurements, mock.url, soak)
  const started: Array<{ entry: Entry; child: ChildProcess | null }> = [{ entry: { name: 'direct', system: directSystem(mock.url) }, child: null }]
  if (gateways.includes('portkey')) started.push(await tryStart('portkey', workDir, () => startPortkey(mock.url, workDir)))
  if (gateways.includes('llmbase')) started.push(await tryStart('llmbase', workDir, () => startLlmbase(mock.url, workDir)))
  const entries = started.map((s) => s.entry)
  for (const entry of entries) if ('unavailable' in entry) console.log(`${LABELS[entry.name]} unavailable: ${entry.unavailable}`)
  const systems = entries.flatMap((entry) => ('system' in entry ? [entry.system] : []))
  try {
    await runMeasurements(entries, systems, measurements, profile, { ...soak, gateways: soakGateways })
  } finally {
    for (const { child } of started) if (child) await stopChild(child)
    await stopChild(mock.child)
    rmSync(workDir, { recursive: true, force: true })
  }
}

function directSystem(mockUrl: string): System {
  const url = new URL(mockUrl)
  return { name: 'direct', host: url.hostname, port: Number(url.port), path: '/openai/v1/chat/completions', headers: { authorization: `Bearer ${PROVIDER_KEY}` }, pid: null }
}

async function runMeasurements(entries: Entry[], systems: System[], measurements: Set<Measurement>, profile: Profile, soak: { minutes: number; rate: number; gateways: SystemName[] }) {
  progress(`warm-up: ${WARMUP_REQUESTS} requests per system`)
  await warmUp(systems)
  if (measurements.has('sequential')) {
    progress(`sequential: ${profile.sequentialRequests} rounds`)
    reportSequential(entries, await measureSequential(systems, profile.sequentialRequests), profile.sequentialRequests)
  }
  if (measurements.has('rate')) reportFixedRate(entries, await measureFixedRate(systems, profile), profile)
  if (measurements.has('ceiling')) reportCeiling(entries, await measureCeiling(systems, profile.stepSeconds), profile.stepSeconds)
  if (measurements.has('streams')) reportStreams(entries, await measureStreams(systems))
  if (measurements.has('memory')) {
    const soaks = new Map<SystemName, { load: LoadResult; samples: MemorySample[] }>()
    for (const system of systems.filter((s) => soak.gateways.includes(s.name))) soaks.set(system.name, await measureMemory(system, soak.rate, soak.minutes))
    reportMemory(entries.filter((entry) => soak.gateways.includes(entry.name)), soaks, soak.rate, soak.minutes)
  }
}

await main()
