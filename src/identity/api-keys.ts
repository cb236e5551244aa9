import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { RefreshAheadCache } from '../cache/refresh-ahead.js'
import type { Logger } from 'pino'
import type { Executor } from '../db/database.js'
import { findActiveKeyByHash, recordKeyUses } from './queries.js'

/**
 * User API keys: `llmb_` followed by 32 random bytes in base64url (256 bits of entropy). The
 * prefix makes a leaked key recognisable to secret scanners and to our own log masking.
 * Only SHA-256 of the key is stored; with this much entropy a slow password hash would add
 * cost without adding safety.
 */
export const API_KEY_PREFIX = 'llmb_'
/**
 * Keys of users imported from dhamps-vdb (`llmbase import dhamps-vdb`): 32 random bytes in hex,
 * its own format. They are looked up by their SHA-256 like ours, so they keep working.
 */
const IMPORTED_KEY = /^[0-9a-f]{64}$/
/** Characters of a key shown in lists, enough to tell keys apart, far too few to guess the rest. */
const SHOWN_PREFIX_LENGTH = 12

export function generateApiKey(): { key: string; prefix: string; hash: Buffer } {
  const key = API_KEY_PREFIX + randomBytes(32).toString('base64url')
  return { key, prefix: key.slice(0, SHOWN_PREFIX_LENGTH), hash: hashApiKey(key) }
}

export const hashApiKey = (key: string): Buffer => createHash('sha256').update(key, 'utf8').digest()

/** Compares a presented key with the configured admin key in time independent of where they differ. */
export function isAdminKey(presented: string, adminKeyHash: Buffer): boolean {
  return timingSafeEqual(hashApiKey(presented), adminKeyHash)
}

export interface VerifiedKey {
  keyId: string
  userId: number
  handle: string
  role: 'user' | 'admin'
  expiresAt: Date | null
}

/**
 * Finds the user behind a key. A hit is cached for one second, so that a burst of requests
 * costs one query while a revoked key stops working within a second on every replica; under
 * steady traffic the entry is reloaded in the background after half a second, so no request
 * waits for the database (src/cache/refresh-ahead.ts).
 * The lookup itself is by the key's hash: what an attacker controls is the key, not the
 * hash, so timing of the index lookup reveals nothing useful.
 *
 * `last_used_at` is not written on every request: uses are collected in memory and written
 * in one statement every few seconds (and on shutdown), off the request path.
 */
export class ApiKeyVerifier {
  /**
   * Keyed by the hash in base64. Unknown keys are not remembered: random guesses must not push
   * real keys out of the cache.
   */
  private readonly cache: RefreshAheadCache<string, VerifiedKey | null>
  private readonly usedSince = new Map<string, Date>()
  private readonly timer: NodeJS.Timeout

  constructor(
    private readonly db: Executor,
    private readonly logger: Logger,
    flushIntervalMs = 5_000,
  ) {
    this.cache = new RefreshAheadCache((hash) => findActiveKeyByHash(this.db, Buffer.from(hash, 'base64')).then((row) => row ?? null), { ttlMs: 1_000, max: 10_000, keep: (row) => row !== null })
    this.timer = setInterval(() => void this.flushUsage().catch((error) => this.logger.warn({ err: error }, 'could not record key usage')), flushIntervalMs)
    this.timer.unref()
  }

  async verify(presented: string): Promise<VerifiedKey | null> {
    if (!(presented.startsWith(API_KEY_PREFIX) && presented.length <= 200) && !IMPORTED_KEY.test(presented)) return null
    const hash = hashApiKey(presented)
    const verified = await this.cache.get(hash.toString('base64'))
    if (!verified) return null
    if (verified.expiresAt && verified.expiresAt.getTime() <= Date.now()) return null
    this.usedSince.set(verified.keyId, new Date())
    return verified
  }

  /** Forget cached keys at once on this server (after a revocation or a user deletion). */
  invalidate(): void {
    this.cache.clear()
  }

  async flushUsage(): Promise<void> {
    if (this.usedSince.size === 0) return
    const uses = [...this.usedSince]
    this.usedSince.clear()
    await recordKeyUses(this.db, uses.map(([keyId, at]) => ({ keyId, at })))
  }

  async close(): Promise<void> {
    clearInterval(this.timer)
    await this.flushUsage()
  }
}
