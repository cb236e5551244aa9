/**
 * A cache for lookups on the request path (API keys, model names, limit settings) that keeps
 * the database off that path under steady traffic. An entry is served for `ttlMs`; once it is
 * older than half of that, the next use still gets it but starts one reload in the
 * background, so a busy key or model never waits for the database, while nothing older than
 * `ttlMs` is ever served (the promise a revocation gives: it holds within `ttlMs`).
 * Concurrent misses share one load. lru-cache's stale-while-revalidate serves stale entries
 * of any age, which would break that promise; hence this small class on top of it.
 */
import { LRUCache } from 'lru-cache'

interface Entry<V> {
  value: V
  loadedAt: number
}

export class RefreshAheadCache<K extends {}, V extends {} | null> {
  private readonly entries: LRUCache<K, Entry<V>>
  private readonly loading = new Map<K, Promise<V>>()
  /** Raised by `clear`, so that a load started before it does not refill the cache. */
  private generation = 0

  constructor(
    private readonly load: (key: K) => Promise<V>,
    private readonly options: {
      ttlMs: number
      max: number
      /** Whether a loaded value is remembered (default: all are). */
      keep?: (value: V) => boolean
      now?: () => number
    },
  ) {
    this.entries = new LRUCache({ max: options.max })
  }

  private now() {
    return this.options.now ? this.options.now() : performance.now()
  }

  get(key: K): Promise<V> | V {
    const entry = this.entries.get(key)
    if (entry) {
      const age = this.now() - entry.loadedAt
      if (age < this.options.ttlMs) {
        if (age >= this.options.ttlMs / 2) void this.reload(key).catch(() => {})
        return entry.value
      }
    }
    return this.reload(key)
  }

  private reload(key: K): Promise<V> {
    let pending = this.loading.get(key)
    if (!pending) {
      const generation = this.generation
      const startedAt = this.now()
      pending = this.load(key)
        .then((value) => {
          if (generation !== this.generation) return value
          if (this.options.keep && !this.options.keep(value)) this.entries.delete(key)
          else this.entries.set(key, { value, loadedAt: startedAt })
          return value
        })
        .finally(() => this.loading.delete(key))
      this.loading.set(key, pending)
    }
    return pending
  }

  delete(key: K) {
    this.generation += 1
    this.loading.delete(key)
    this.entries.delete(key)
  }

  clear() {
    this.generation += 1
    this.loading.clear()
    this.entries.clear()
  }
}
