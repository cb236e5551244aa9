import { randomBytes } from 'node:crypto'
import { Writable } from 'node:stream'
import { loadConfig } from '../../src/config.js'
import { createLogger } from '../../src/logger.js'
import { type RunningServer, startServer } from '../../src/server.js'
import { createTestDatabase, type DatabaseKind, type TestDatabase } from './databases.js'

export interface TestServer {
  kind: DatabaseKind
  url: string
  adminKey: string
  running: RunningServer
  testDatabase: TestDatabase
  /** Log lines written so far (parsed JSON), when started with `captureLogs`. */
  logs(): Array<Record<string, unknown>>
  /** Raw log text written so far, when started with `captureLogs`. */
  logText(): string
  request: Requester
  close(): Promise<void>
}

export interface RequestOptions {
  key?: string | null
  /** Sent as JSON unless `raw` is given. */
  body?: unknown
  raw?: string | Buffer
  headers?: Record<string, string>
}

export interface TestResponse {
  status: number
  headers: Headers
  // Tests assert on bodies of many shapes; `any` keeps those assertions short.
  // biome-ignore lint: test helper
  body: any
  text: string
}

export type Requester = (method: string, path: string, options?: RequestOptions) => Promise<TestResponse>

/**
 * Starts the real server (the same `startServer` that `llmbase serve` runs) on a fresh
 * database of the given kind, listening on a free port.
 */
export async function startTestServer(
  kind: DatabaseKind,
  options: {
    env?: Record<string, string>
    captureLogs?: boolean
    keyUsageFlushMs?: number
    /** Start on this database instead of a fresh one (to restart a server); it is not cleaned up by `close`. */
    testDatabase?: TestDatabase
  } = {},
): Promise<TestServer> {
  const ownDatabase = options.testDatabase === undefined
  const testDatabase = options.testDatabase ?? (await createTestDatabase(kind))
  const adminKey = `test-admin-${randomBytes(24).toString('hex')}`
  const config = loadConfig({
    env: {
      ...testDatabase.env,
      PORT: '0',
      LLMBASE_ADMIN_KEY: adminKey,
      ENCRYPTION_KEY: `test-encryption-${randomBytes(24).toString('hex')}`,
      LOG_LEVEL: options.captureLogs ? 'debug' : (process.env.TEST_LOG_LEVEL ?? 'silent'),
      // Two test files run at once on two cores: an index build takes one of them, not both.
      LLMBASE_NATIVE_BUILD_THREADS: '1',
      ...options.env,
    },
    flags: { dotenv: undefined },
    cwd: testDatabase.dataDir,
  })
  const lines: string[] = []
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean))
      done()
    },
  })
  const logger = createLogger({ level: config.logLevel, ...(options.captureLogs ? { destination } : {}) })
  let running: RunningServer
  try {
    running = await startServer(config, logger, { keyUsageFlushMs: options.keyUsageFlushMs ?? 200 })
  } catch (error) {
    if (ownDatabase) await testDatabase.cleanup()
    throw error
  }
  const request = requester(running.url, adminKey)
  return {
    kind,
    url: running.url,
    adminKey,
    running,
    testDatabase,
    logs: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>),
    logText: () => lines.join('\n'),
    request,
    close: async () => {
      await running.close()
      if (ownDatabase) await testDatabase.cleanup()
    },
  }
}

/** `key` defaults to the admin key; pass `null` for an anonymous request. */
export function requester(baseUrl: string, defaultKey: string | null): Requester {
  return async (method, path, options = {}) => {
    const headers: Record<string, string> = { ...options.headers }
    const key = options.key === undefined ? defaultKey : options.key
    if (key !== null && headers.authorization === undefined) headers.authorization = `Bearer ${key}`
    let body: string | Buffer | undefined
    if (options.raw !== undefined) body = options.raw
    else if (options.body !== undefined) {
      body = JSON.stringify(options.body)
      headers['content-type'] ??= 'application/json'
    }
    const response = await fetch(baseUrl + path, { method, headers, body })
    const text = await response.text()
    let parsed: unknown = text
    // JSON and problem+json, not NDJSON (several documents, one per line).
    if (/\bjson/.test(response.headers.get('content-type') ?? '') && text) parsed = JSON.parse(text)
    return { status: response.status, headers: response.headers, body: parsed, text }
  }
}

/** Creates a user through the API and returns its handle and first key. */
export async function createUser(server: Pick<TestServer, 'request'>, handle: string, extra: Record<string, unknown> = {}) {
  const response = await server.request('PUT', `/v1/users/${handle}`, {
    body: { user_handle: handle, email: `${handle}@example.org`, name: `User ${handle}`, ...extra },
  })
  if (response.status !== 201) throw new Error(`creating ${handle} failed: ${response.status} ${response.text}`)
  return { handle, key: response.body.vdb_key as string, keyId: response.body.key_id as string }
}
