import { createHash } from 'node:crypto'
import { sql } from 'kysely'
import { LRUCache } from 'lru-cache'
import type { Logger } from 'pino'
import type { Executor } from '../../db/database.js'
import type { ChatCompletion } from '../providers/types.js'

/** Request fields that change how an answer is delivered or labelled, not what it says. */
const DELIVERY_FIELDS = new Set(['model', 'stream', 'stream_options', 'user', 'metadata', 'store'])

/** JSON with object keys sorted, so that the same request always gives the same text. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (value && typeof value === 'object') {
    const entries = Object.keys(value as object)
      .sort()
      .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
      .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`)
    return `{${entries.join(',')}}`
  }
  return JSON.stringify(value)
}

export interface CacheScope {
  userId: number
  instanceId: number
  operation: 'chat'
}

interface Entry {
  response: ChatCompletion
  bytes: number
}

/**
 * The exact response cache. A key is the hash of the normalised request (delivery fields
 * removed, keys sorted), the instance and, unless the operator shares answers between users
 * (LLMBASE_GATEWAY_CACHE_SHARED), the user: one user's answers are never served to another.
 * The first level is this process's memory, bounded in bytes with LRU eviction; the second is
 * the `gateway_cache_entries` table, so that replicas share what each has learned. Entries
 * expire after the instance's `cache_ttl_seconds`. Streamed answers are stored assembled and
 * replayed as streams.
 */
export class ResponseCache {
  private readonly memory: LRUCache<string, Entry>
  private readonly purgeTimer: NodeJS.Timeout

  constructor(
    private readonly db: Executor,
    private readonly logger: Logger,
    private readonly options: { memoryBytes: number; shared: boolean },
  ) {
    this.memory = new LRUCache<string, Entry>({
      maxSize: Math.max(1, options.memoryBytes),
      sizeCalculation: (entry) => Math.max(1, entry.bytes),
      ttlAutopurge: false,
    })
    this.purgeTimer = setInterval(() => void this.purgeExpired(), 60_000)
    this.purgeTimer.unref()
  }

  key(scope: CacheScope, request: Record<string, unknown>): string {
    const normalized: Record<string, unknown> = {}
    for (const [field, value] of Object.entries(request)) if (!DELIVERY_FIELDS.has(field)) normalized[field] = value
    const who = this.options.shared ? 'shared' : `u${scope.userId}`
    return createHash('sha256').update(`v1\u0000${who}\u0000i${scope.instanceId}\u0000${scope.operation}\u0000${canonicalJson(normalized)}`).digest('base64url')
  }

  async get(key: string): Promise<ChatCompletion | null> {
    const local = this.memory.get(key)
    if (local) return local.response
    let row: { response: unknown; bytes: number; ttl: number } | undefined
    try {
      row = await this.db
        .updateTable('gateway_cache_entries')
        .set({ hits: sql`hits + 1` })
        .where('key', '=', key)
        .where('expires_at', '>', sql<Date>`now()`)
        .returning(['response', 'bytes', sql<number>`extract(epoch from expires_at - now())`.as('ttl')])
        .executeTakeFirst()
    } catch (error) {
      // The cache is an optimisation: when it cannot be read, the call goes to the provider.
      this.logger.warn({ err: error }, 'could not read the shared response cache')
      return null
    }
    if (!row) return null
    const entry = { response: row.response as ChatCompletion, bytes: row.bytes }
    this.memory.set(key, entry, { ttl: Math.max(1, Math.floor(Number(row.ttl) * 1000)) })
    return entry.response
  }

  set(key: string, scope: CacheScope, response: ChatCompletion, ttlSeconds: number) {
    const text = JSON.stringify(response)
    const bytes = Buffer.byteLength(text)
    this.memory.set(key, { response, bytes }, { ttl: ttlSeconds * 1000 })
    void this.db
      .insertInto('gateway_cache_entries')
      .values({
        key,
        user_id: scope.userId,
        instance_id: scope.instanceId,
        response: text,
        bytes,
        expires_at: sql<Date>`now() + make_interval(secs => ${ttlSeconds})`,
      })
      .onConflict((oc) =>
        oc.column('key').doUpdateSet({ response: text, bytes, created_at: sql`now()`, expires_at: sql<Date>`now() + make_interval(secs => ${ttlSeconds})` }),
      )
      .execute()
      .catch((error) => this.logger.warn({ err: error }, 'could not write the shared response cache'))
  }

  private async purgeExpired() {
    try {
      await this.db.deleteFrom('gateway_cache_entries').where('expires_at', '<=', sql<Date>`now()`).execute()
    } catch (error) {
      this.logger.warn({ err: error }, 'could not remove expired cache entries')
    }
  }

  /** Memory level figures for /readyz and the docs' sizing advice. */
  stats() {
    return { entries: this.memory.size, bytes: this.memory.calculatedSize, max_bytes: this.options.memoryBytes }
  }

  close() {
    clearInterval(this.purgeTimer)
    this.memory.clear()
  }
}
