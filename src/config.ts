import { existsSync, readFileSync } from 'node:fs'
import { totalmem } from 'node:os'
import { resolve } from 'node:path'
import { parse as parseDotenv } from 'dotenv'
import { type EgressPolicy, parseEgressPolicy } from './egress/policy.js'

/**
 * Everything the server reads from its environment, parsed and checked once at start-up and
 * passed down. Nothing else in the code reads `process.env`.
 *
 * Precedence, highest first: command-line flags, the process environment, the `.env` file,
 * the defaults below. `docs/configuration.md` documents every option and must change with
 * this file.
 */
export interface Config {
  host: string
  port: number
  /** PostgreSQL server to use; unset means the embedded database in `dataDir`. */
  databaseUrl: string | undefined
  dataDir: string
  /** Admin key from configuration; resolved further by `resolveSecrets` for the embedded default. */
  adminKey: string | undefined
  encryptionKey: string | undefined
  /** The key `llmbase keys rotate` moves every secret to (LLMBASE_NEW_ENCRYPTION_KEY); nothing else reads it. */
  newEncryptionKey: string | undefined
  /** Earlier encryption keys that still decrypt (during a key rotation); never used to encrypt. */
  previousEncryptionKeys: string[]
  /** Private destinations that endpoints given by users may point to (LLMBASE_PRIVATE_HOSTS). */
  egress: EgressPolicy
  gateway: GatewaySettings
  jobs: JobSettings
  logLevel: LogLevel
  /** Origins allowed by CORS; empty turns CORS off, `['*']` allows any origin. */
  corsOrigins: string[]
  bodyLimit: number
  /** How long a graceful shutdown waits for in-flight requests before closing anyway. */
  shutdownTimeoutMs: number
  /** Connections in the pool to a PostgreSQL server (the embedded database always uses one). */
  dbPoolSize: number
  /** `POST /v1/admin/reset` wipes all data; off unless explicitly enabled (LLMBASE_ALLOW_RESET). */
  allowReset: boolean
  /** How similarity search runs; see docs/embeddings.md. */
  vectors: VectorSettings
}

export const VECTOR_ENGINES = ['auto', 'pgvector', 'native'] as const
export type VectorEngineChoice = (typeof VECTOR_ENGINES)[number]

export interface VectorSettings {
  /** LLMBASE_VECTOR_ENGINE: `auto` is native on the embedded database and on a server without pgvector, pgvector on a server that has it. */
  engine: VectorEngineChoice
  /** Threads a native index build may use; 0: one per core. */
  nativeBuildThreads: number
  /** Quiet time after a change before the native engine saves a project's snapshot. */
  nativeSaveDelayMs: number
  /** HNSW candidates per native search; wider than pgvector's, because its index is 8-bit (see normalize.ts). */
  nativeEfSearch: number
  /** Memory the native engine may hold for projects (bytes); beyond it, the least recently searched are unloaded. */
  nativeMemoryBytes: number
  exactSearchMaxRows: number
  efSearch: number
  m: number
  efConstruction: number
  buildDelayMs: number
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

/** Command-line flags that override the environment (names as in `llmbase serve --help`). */
export interface ConfigFlags {
  host?: string
  port?: string | number
  databaseUrl?: string
  dataDir?: string
  logLevel?: string
  /** `--dotenv <file>`; named so because Node itself claims `--env-file` (Node 20 reads it even after the script name). */
  dotenv?: string
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`)
    this.name = 'ConfigError'
  }
}

const MIB = 1024 * 1024

/**
 * Reads the `.env` file (if any) and returns the variables it sets, without touching
 * `process.env`. A missing default `.env` is fine; a missing file named by `--dotenv` is not.
 */
export function readEnvFile(path: string | undefined, cwd = process.cwd()): Record<string, string> {
  const file = resolve(cwd, path ?? '.env')
  if (!existsSync(file)) {
    if (path) throw new ConfigError([`env file ${file} does not exist`])
    return {}
  }
  return parseDotenv(readFileSync(file))
}

/** The gateway's retry, timeout, cache and logging settings (docs/configuration.md#gateway). */
export interface GatewaySettings {
  /** Upstream attempts per client call, over all targets of a route. */
  maxAttempts: number
  /** The longest Retry-After the gateway waits out itself; a longer one is passed to the client. */
  maxRetryWaitMs: number
  connectTimeoutMs: number
  /** Until the provider's response headers arrive. */
  firstByteTimeoutMs: number
  /** The longest silence inside a streamed or slow response body. */
  idleTimeoutMs: number
  totalTimeoutMs: number
  /** First cooldown of a failing instance; doubles with each further failure, up to a minute. */
  cooldownMs: number
  /** Bytes the in-process level of the response cache may hold. */
  cacheMemoryBytes: number
  /** Share cached answers between users of the same instance (off: each user has their own). */
  cacheShared: boolean
  /** How often the request log is written to the database. */
  logFlushMs: number
  /** Days the request log keeps calls; 0 keeps them forever. */
  logRetentionDays: number
}

/** The job queue, its workers and webhook deliveries (docs/configuration.md#jobs-and-webhooks). */
export interface JobSettings {
  /** Jobs one process runs at once; 0 runs no workers in `llmbase serve` (as `--no-workers`). */
  concurrency: number
  /** How long a claimed job stays the worker's without a renewal; renewed every third of it. */
  leaseMs: number
  /** Longest sleep of an idle worker between looks at the queue when no wake-up arrives. */
  pollMs: number
  /** Attempts of a job unless its request names another number. */
  maxAttempts: number
  /** First retry delay; doubled per attempt, with jitter, up to `backoffMaxMs`. */
  backoffBaseMs: number
  backoffMaxMs: number
  /** How long a graceful stop waits for running jobs before releasing them to other workers. */
  shutdownTimeoutMs: number
  /** Days finished jobs (succeeded, cancelled) are kept; 0 keeps them forever. */
  retentionDays: number
  /** Delays between webhook delivery attempts; the first attempt is immediate. */
  webhookRetryScheduleMs: number[]
  /** Time a receiver has to answer one delivery attempt. */
  webhookTimeoutMs: number
}

export function loadConfig(
  options: { flags?: ConfigFlags; env?: Record<string, string | undefined>; cwd?: string } = {},
): Config {
  const flags = options.flags ?? {}
  const cwd = options.cwd ?? process.cwd()
  const fileEnv = readEnvFile(flags.dotenv, cwd)
  const env = { ...fileEnv, ...(options.env ?? process.env) }
  const problems: string[] = []
  const pick = (flag: string | number | undefined, name: string) =>
    flag !== undefined && flag !== '' ? String(flag) : nonEmpty(env[name])

  const port = parseInteger(pick(flags.port, 'PORT') ?? '8880', 'PORT', 0, 65535, problems)
  const logLevel = (pick(flags.logLevel, 'LOG_LEVEL') ?? 'info').toLowerCase()
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')} (got "${logLevel}")`)
  }
  const databaseUrl = pick(flags.databaseUrl, 'DATABASE_URL')
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    problems.push('DATABASE_URL must be a postgres:// or postgresql:// URL')
  }
  const corsOrigins = splitList(env.CORS_ORIGINS)
  for (const origin of corsOrigins) {
    if (origin !== '*' && !/^https?:\/\/[^/\s]+$/.test(origin)) {
      problems.push(`CORS_ORIGINS entry "${origin}" must be "*" or an origin such as https://app.example.com`)
    }
  }

  // LLMBASE_ALLOW_PRIVATE_ENDPOINTS=true is the short way of allowing every private destination.
  const allowPrivate = parseBoolean(nonEmpty(env.LLMBASE_ALLOW_PRIVATE_ENDPOINTS) ?? 'false', 'LLMBASE_ALLOW_PRIVATE_ENDPOINTS', problems)
  const egress = parseEgressPolicy([...splitList(env.LLMBASE_PRIVATE_HOSTS), ...(allowPrivate ? ['*'] : [])])
  problems.push(...egress.problems)

  const config: Config = {
    host: pick(flags.host, 'HOST') ?? '127.0.0.1',
    port,
    databaseUrl,
    dataDir: resolve(cwd, pick(flags.dataDir, 'LLMBASE_DATA_DIR') ?? './data'),
    adminKey: nonEmpty(env.LLMBASE_ADMIN_KEY),
    encryptionKey: nonEmpty(env.ENCRYPTION_KEY),
    newEncryptionKey: nonEmpty(env.LLMBASE_NEW_ENCRYPTION_KEY),
    previousEncryptionKeys: splitList(env.ENCRYPTION_KEY_PREVIOUS),
    egress: egress.policy,
    logLevel: logLevel as LogLevel,
    corsOrigins,
    bodyLimit: parseByteSize(nonEmpty(env.BODY_LIMIT) ?? '32MiB', 'BODY_LIMIT', problems),
    shutdownTimeoutMs: parseInteger(nonEmpty(env.LLMBASE_SHUTDOWN_TIMEOUT_MS) ?? '10000', 'LLMBASE_SHUTDOWN_TIMEOUT_MS', 0, 3_600_000, problems),
    dbPoolSize: parseInteger(nonEmpty(env.LLMBASE_DB_POOL_SIZE) ?? '10', 'LLMBASE_DB_POOL_SIZE', 1, 1000, problems),
    allowReset: parseBoolean(nonEmpty(env.LLMBASE_ALLOW_RESET) ?? 'false', 'LLMBASE_ALLOW_RESET', problems),
    gateway: {
      maxAttempts: parseInteger(nonEmpty(env.LLMBASE_GATEWAY_MAX_ATTEMPTS) ?? '3', 'LLMBASE_GATEWAY_MAX_ATTEMPTS', 1, 20, problems),
      maxRetryWaitMs: parseInteger(nonEmpty(env.LLMBASE_GATEWAY_MAX_RETRY_WAIT_MS) ?? '10000', 'LLMBASE_GATEWAY_MAX_RETRY_WAIT_MS', 0, 600_000, problems),
      connectTimeoutMs: parseInteger(nonEmpty(env.LLMBASE_GATEWAY_CONNECT_TIMEOUT_MS) ?? '5000', 'LLMBASE_GATEWAY_CONNECT_TIMEOUT_MS', 1, 600_000, problems),
      firstByteTimeoutMs: parseInteger(nonEmpty(env.LLMBASE_GATEWAY_FIRST_BYTE_TIMEOUT_MS) ?? '120000', 'LLMBASE_GATEWAY_FIRST_BYTE_TIMEOUT_MS', 1, 3_600_000, problems),
      idleTimeoutMs: parseInteger(nonEmpty(env.LLMBASE_GATEWAY_IDLE_TIMEOUT_MS) ?? '60000', 'LLMBASE_GATEWAY_IDLE_TIMEOUT_MS', 1, 3_600_000, problems),
      totalTimeoutMs: parseInteger(nonEmpty(env.LLMBASE_GATEWAY_TOTAL_TIMEOUT_MS) ?? '600000', 'LLMBASE_GATEWAY_TOTAL_TIMEOUT_MS', 1, 86_400_000, problems),
      cooldownMs: parseInteger(nonEmpty(env.LLMBASE_GATEWAY_COOLDOWN_MS) ?? '5000', 'LLMBASE_GATEWAY_COOLDOWN_MS', 0, 3_600_000, problems),
      cacheMemoryBytes: parseByteSize(nonEmpty(env.LLMBASE_GATEWAY_CACHE_MEMORY) ?? '64MiB', 'LLMBASE_GATEWAY_CACHE_MEMORY', problems),
      cacheShared: parseBoolean(nonEmpty(env.LLMBASE_GATEWAY_CACHE_SHARED) ?? 'false', 'LLMBASE_GATEWAY_CACHE_SHARED', problems),
      logFlushMs: parseInteger(nonEmpty(env.LLMBASE_GATEWAY_LOG_FLUSH_MS) ?? '1000', 'LLMBASE_GATEWAY_LOG_FLUSH_MS', 10, 60_000, problems),
      logRetentionDays: parseInteger(nonEmpty(env.LLMBASE_GATEWAY_LOG_RETENTION_DAYS) ?? '0', 'LLMBASE_GATEWAY_LOG_RETENTION_DAYS', 0, 100_000, problems),
    },
    jobs: {
      concurrency: parseInteger(nonEmpty(env.LLMBASE_WORKER_CONCURRENCY) ?? '4', 'LLMBASE_WORKER_CONCURRENCY', 0, 1000, problems),
      leaseMs: parseInteger(nonEmpty(env.LLMBASE_JOBS_LEASE_MS) ?? '30000', 'LLMBASE_JOBS_LEASE_MS', 300, 3_600_000, problems),
      pollMs: parseInteger(nonEmpty(env.LLMBASE_JOBS_POLL_MS) ?? '2000', 'LLMBASE_JOBS_POLL_MS', 10, 600_000, problems),
      maxAttempts: parseInteger(nonEmpty(env.LLMBASE_JOBS_MAX_ATTEMPTS) ?? '5', 'LLMBASE_JOBS_MAX_ATTEMPTS', 1, 100, problems),
      backoffBaseMs: parseInteger(nonEmpty(env.LLMBASE_JOBS_BACKOFF_BASE_MS) ?? '10000', 'LLMBASE_JOBS_BACKOFF_BASE_MS', 0, 86_400_000, problems),
      backoffMaxMs: parseInteger(nonEmpty(env.LLMBASE_JOBS_BACKOFF_MAX_MS) ?? '3600000', 'LLMBASE_JOBS_BACKOFF_MAX_MS', 0, 7 * 86_400_000, problems),
      shutdownTimeoutMs: parseInteger(nonEmpty(env.LLMBASE_JOBS_SHUTDOWN_TIMEOUT_MS) ?? '10000', 'LLMBASE_JOBS_SHUTDOWN_TIMEOUT_MS', 0, 3_600_000, problems),
      retentionDays: parseInteger(nonEmpty(env.LLMBASE_JOBS_RETENTION_DAYS) ?? '30', 'LLMBASE_JOBS_RETENTION_DAYS', 0, 100_000, problems),
      webhookRetryScheduleMs: parseDurations(nonEmpty(env.LLMBASE_WEBHOOK_RETRY_SCHEDULE) ?? '5s,5m,30m,2h,5h,8h,8h', 'LLMBASE_WEBHOOK_RETRY_SCHEDULE', problems),
      webhookTimeoutMs: parseInteger(nonEmpty(env.LLMBASE_WEBHOOK_TIMEOUT_MS) ?? '15000', 'LLMBASE_WEBHOOK_TIMEOUT_MS', 100, 120_000, problems),
    },
    vectors: {
      engine: parseChoice(nonEmpty(env.LLMBASE_VECTOR_ENGINE) ?? 'auto', 'LLMBASE_VECTOR_ENGINE', VECTOR_ENGINES, problems),
      nativeBuildThreads: parseInteger(nonEmpty(env.LLMBASE_NATIVE_BUILD_THREADS) ?? '0', 'LLMBASE_NATIVE_BUILD_THREADS', 0, 256, problems),
      nativeSaveDelayMs: parseInteger(nonEmpty(env.LLMBASE_NATIVE_SAVE_DELAY_MS) ?? '30000', 'LLMBASE_NATIVE_SAVE_DELAY_MS', 0, 3_600_000, problems),
      nativeEfSearch: parseInteger(nonEmpty(env.LLMBASE_NATIVE_EF_SEARCH) ?? '150', 'LLMBASE_NATIVE_EF_SEARCH', 1, 1000, problems),
      nativeMemoryBytes: parseByteSize(nonEmpty(env.LLMBASE_NATIVE_MEMORY) ?? `${Math.floor(totalmem() / 2 / MIB)}MiB`, 'LLMBASE_NATIVE_MEMORY', problems),
      exactSearchMaxRows: parseInteger(nonEmpty(env.LLMBASE_EXACT_SEARCH_MAX_ROWS) ?? '20000', 'LLMBASE_EXACT_SEARCH_MAX_ROWS', 0, 100_000_000, problems),
      efSearch: parseInteger(nonEmpty(env.LLMBASE_HNSW_EF_SEARCH) ?? '100', 'LLMBASE_HNSW_EF_SEARCH', 1, 1000, problems),
      m: parseInteger(nonEmpty(env.LLMBASE_HNSW_M) ?? '16', 'LLMBASE_HNSW_M', 2, 100, problems),
      efConstruction: parseInteger(nonEmpty(env.LLMBASE_HNSW_EF_CONSTRUCTION) ?? '128', 'LLMBASE_HNSW_EF_CONSTRUCTION', 4, 1000, problems),
      buildDelayMs: parseInteger(nonEmpty(env.LLMBASE_INDEX_BUILD_DELAY_MS) ?? '10000', 'LLMBASE_INDEX_BUILD_DELAY_MS', 0, 3_600_000, problems),
    },
  }
  if (config.adminKey !== undefined && config.adminKey.length < 32) {
    problems.push('LLMBASE_ADMIN_KEY must be at least 32 characters long')
  }
  if (config.encryptionKey !== undefined && config.encryptionKey.length < 32) {
    problems.push('ENCRYPTION_KEY must be at least 32 characters long')
  }
  if (config.newEncryptionKey !== undefined && config.newEncryptionKey.length < 32) {
    problems.push('LLMBASE_NEW_ENCRYPTION_KEY must be at least 32 characters long')
  }
  if (config.previousEncryptionKeys.some((key) => key.length < 32)) {
    problems.push('every key in ENCRYPTION_KEY_PREVIOUS must be at least 32 characters long')
  }
  if (problems.length > 0) throw new ConfigError(problems)
  return config
}

function splitList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean)
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim()
  return trimmed ? trimmed : undefined
}

function parseInteger(raw: string, name: string, min: number, max: number, problems: string[]): number {
  const value = Number(raw)
  if (!/^\d+$/.test(raw) || value < min || value > max) {
    problems.push(`${name} must be an integer from ${min} to ${max} (got "${raw}")`)
    return min
  }
  return value
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** A comma-separated list of durations such as `5s,5m,2h` (at most 20, each at most a day). */
function parseDurations(raw: string, name: string, problems: string[]): number[] {
  const durations: number[] = []
  for (const item of splitList(raw)) {
    const match = /^(\d+)(ms|s|m|h|d)$/.exec(item)
    const ms = match ? Number(match[1]) * (DURATION_UNITS[match[2] ?? ''] ?? 0) : Number.NaN
    if (!(ms >= 0 && ms <= 86_400_000)) {
      problems.push(`${name} must list durations such as 5s,5m,2h, each at most 1d (got "${item}")`)
      return []
    }
    durations.push(ms)
  }
  if (durations.length > 20) problems.push(`${name} may list at most 20 delays (got ${durations.length})`)
  return durations
}

function parseBoolean(raw: string, name: string, problems: string[]): boolean {
  const value = raw.toLowerCase()
  if (['true', '1', 'yes', 'on'].includes(value)) return true
  if (['false', '0', 'no', 'off'].includes(value)) return false
  problems.push(`${name} must be true or false (got "${raw}")`)
  return false
}

const SIZE_UNITS: Record<string, number> = {
  '': 1, b: 1, kb: 1000, kib: 1024, mb: 1000 ** 2, mib: MIB, gb: 1000 ** 3, gib: 1024 * MIB,
}

/** Accepts a plain byte count or a number with a unit: `32MiB`, `1mb`, `512KiB`. */
export function parseByteSize(raw: string, name: string, problems: string[]): number {
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(raw.trim())
  const unit = SIZE_UNITS[match?.[2]?.toLowerCase() ?? 'invalid']
  if (!match || unit === undefined) {
    problems.push(`${name} must be a size such as 33554432, 32MiB or 10mb (got "${raw}")`)
    return 32 * MIB
  }
  const bytes = Math.floor(Number(match[1]) * unit)
  if (bytes < 1024) {
    problems.push(`${name} must be at least 1KiB (got "${raw}")`)
    return 32 * MIB
  }
  return bytes
}

function parseChoice<T extends string>(raw: string, name: string, choices: readonly T[], problems: string[]): T {
  const value = raw.toLowerCase()
  if ((choices as readonly string[]).includes(value)) return value as T
  problems.push(`${name} must be one of ${choices.join(', ')} (got "${raw}")`)
  return choices[0] as T
}
