import { randomUUID } from 'node:crypto'
import { RefreshAheadCache } from '../../cache/refresh-ahead.js'
import type { Logger } from 'pino'
import type { Executor } from '../../db/database.js'
import { AppError } from '../../http/errors.js'
import * as q from './queries.js'

/** Who a gateway call is counted against. */
export interface LimitSubject {
  userId: number
  /** The API key the call came with (null for the admin key, which the gateway refuses anyway). */
  keyId: string | null
}

/** A call that was let through; `finish` must be called exactly once when it ends. */
export interface Admission {
  /** Records what the call used (tokens, USD when the price is known) and frees its concurrency slot; never throws. */
  finish(used: { tokens: number; usd: number | null }): void
}

export interface LimitEnforcerOptions {
  /** How long a call may hold a concurrency slot if its process dies before `finish` (the gateway's total timeout). */
  totalTimeoutMs?: number
  /** How long limit settings are remembered; a change through another process shows within this time. */
  cacheTtlMs?: number
  /** How often old counters and abandoned slots are deleted; 0: never. */
  sweepIntervalMs?: number
}

/** A refused call: `retryAfter` (seconds) is also sent as the `Retry-After` header. */
export class LimitRefusal extends AppError {
  constructor(
    code: 'rate_limited' | 'budget_exceeded',
    detail: string,
    readonly limit: q.LimitName,
    readonly retryAfter: number,
  ) {
    super(code, detail, { headers: { 'retry-after': String(retryAfter) } })
  }
}

interface ScopeLimits extends q.ScopeLimitParams {
  limitsId: number
  /** `user` or `API key`, for refusal messages. */
  label: string
}

const UNLIMITED: Admission = { finish: () => {} }
const MINUTE_MS = 60_000
const DAY_MS = 86_400_000

/**
 * Enforces the limits of `gateway_limits` (requests/min, tokens/min, concurrent requests, USD
 * per day and month) per user and per key, in the database so they hold across processes.
 *
 * Limit settings are remembered per subject for a few seconds, so a subject without limits
 * costs no database round trip; one with limits costs one statement per admission, or one
 * short transaction when both its user and its key have limits or a concurrency limit is set
 * (so that a refusal by one scope leaves no count behind in the other). Counting starts when
 * a limit is set: subjects without limits are not counted at all.
 */
export class LimitEnforcer {
  private readonly cache: RefreshAheadCache<string, ScopeLimits[]>
  private readonly pending = new Set<Promise<void>>()
  private readonly slotLifetimeMs: number
  private readonly sweeper: NodeJS.Timeout | undefined
  private sweeping = false

  constructor(
    readonly db: Executor,
    readonly logger: Logger,
    options: LimitEnforcerOptions = {},
  ) {
    this.slotLifetimeMs = options.totalTimeoutMs ?? 600_000
    this.cache = new RefreshAheadCache((key) => {
      const [userId, keyId] = key.split('\u0000')
      return this.load({ userId: Number(userId), keyId: keyId ? keyId : null })
    }, { max: 10_000, ttlMs: options.cacheTtlMs ?? 5_000 })
    const sweepIntervalMs = options.sweepIntervalMs ?? 60_000
    if (sweepIntervalMs > 0) {
      this.sweeper = setInterval(() => this.sweep(), sweepIntervalMs)
      this.sweeper.unref()
    }
  }

  /** Lets a call through or throws AppError `rate_limited` / `budget_exceeded` with a retry-after. */
  async admit(subject: LimitSubject): Promise<Admission> {
    const scopes = await this.limitsOf(subject)
    if (scopes.length === 0) return UNLIMITED
    const slotId = scopes.some((scope) => scope.concurrentRequests !== null) ? randomUUID() : null
    const admitAll = async (db: Executor) => {
      for (const scope of scopes) {
        const slot = scope.concurrentRequests !== null && slotId ? { id: slotId, lifetimeMs: this.slotLifetimeMs } : null
        if (slot) await q.lockLimits(db, scope.limitsId)
        const outcome = await q.admitScope(db, scope, slot)
        if (outcome.refused) throw refusal(scope, outcome.refused, outcome)
      }
    }
    if (scopes.length > 1 || slotId) await this.db.transaction().execute(admitAll)
    else await admitAll(this.db)
    return this.admission(scopes.map((scope) => scope.scope), slotId)
  }

  /** Forget cached limit settings (after a write through the API). */
  clear(): void {
    this.cache.clear()
  }

  async close(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper)
    await this.flush()
  }

  /** Waits for the usage records and sweeps under way, so that nothing is lost on shutdown. */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.pending])
  }

  /** Deletes old counters and abandoned slots; off the request path, failures only logged. */
  sweep(): void {
    if (this.sweeping) return
    this.sweeping = true
    this.track(
      q
        .sweep(this.db)
        .catch((error) => this.logger.warn({ err: error }, 'could not delete old gateway counters'))
        .finally(() => {
          this.sweeping = false
        }),
    )
  }

  private admission(scopes: string[], slotId: string | null): Admission {
    let finished = false
    return {
      finish: (used) => {
        if (finished) return
        finished = true
        const tokens = Number.isFinite(used.tokens) && used.tokens > 0 ? Math.round(used.tokens) : 0
        const usd = used.usd !== null && Number.isFinite(used.usd) && used.usd > 0 ? used.usd : 0
        if (tokens === 0 && usd === 0 && slotId === null) return
        this.track(
          q.recordUse(this.db, scopes, slotId, tokens, usd).catch((error) =>
            this.logger.warn({ err: error, scopes, tokens, usd }, 'could not record gateway usage against limits'),
          ),
        )
      },
    }
  }

  private track(work: Promise<void>) {
    this.pending.add(work)
    void work.finally(() => this.pending.delete(work))
  }

  private async limitsOf(subject: LimitSubject): Promise<ScopeLimits[]> {
    return this.cache.get(`${subject.userId}\u0000${subject.keyId ?? ''}`)
  }

  /** The user scope first, then the key: one order of locks for every admission of a subject. */
  private async load(subject: LimitSubject): Promise<ScopeLimits[]> {
    const rows = await q.findSubjectLimits(this.db, subject.userId, subject.keyId)
    return rows
      .sort((a, b) => (a.api_key_id === null ? 0 : 1) - (b.api_key_id === null ? 0 : 1))
      .filter((row) => [row.requests_per_minute, row.tokens_per_minute, row.concurrent_requests, row.usd_per_day, row.usd_per_month].some((value) => value !== null))
      .map((row) => ({
        limitsId: row.id,
        scope: row.api_key_id === null ? q.userScope(subject.userId) : q.keyScope(row.api_key_id),
        label: row.api_key_id === null ? 'user' : 'API key',
        requestsPerMinute: row.requests_per_minute,
        tokensPerMinute: row.tokens_per_minute,
        concurrentRequests: row.concurrent_requests,
        usdPerDay: row.usd_per_day,
        usdPerMonth: row.usd_per_month,
      }))
  }
}

function secondsUntil(at: Date, resetAt: Date) {
  return Math.max(1, Math.ceil((resetAt.getTime() - at.getTime()) / 1000))
}

/** Dollars as stored (up to six decimals), without trailing zeros: `USD 5`, `USD 0.125`. */
const dollars = (value: string | number) => `USD ${Number(value).toFixed(6).replace(/\.?0+$/, '')}`

function refusal(scope: ScopeLimits, limit: q.LimitName, outcome: q.AdmissionOutcome): LimitRefusal {
  const who = `this ${scope.label}`
  const nextMinute = new Date(outcome.minute.getTime() + MINUTE_MS)
  const inMinute = secondsUntil(outcome.at, nextMinute)
  switch (limit) {
    case 'requests_per_minute':
      return new LimitRefusal('rate_limited', `rate limit reached: ${scope.requestsPerMinute} requests per minute for ${who}; it resets at ${nextMinute.toISOString()} (in ${inMinute} s)`, limit, inMinute)
    case 'tokens_per_minute':
      return new LimitRefusal('rate_limited', `rate limit reached: ${scope.tokensPerMinute} tokens per minute for ${who} (${outcome.tokens_minute} used); it resets at ${nextMinute.toISOString()} (in ${inMinute} s)`, limit, inMinute)
    case 'concurrent_requests':
      // A slot frees when any call ends, which nobody can foretell; one second is a fair guess.
      return new LimitRefusal('rate_limited', `concurrency limit reached: ${scope.concurrentRequests} concurrent requests for ${who} are in flight; try again when one of them ends`, limit, 1)
    case 'usd_per_day': {
      const nextDay = new Date(outcome.day.getTime() + DAY_MS)
      const seconds = secondsUntil(outcome.at, nextDay)
      return new LimitRefusal('budget_exceeded', `daily budget reached: ${dollars(scope.usdPerDay ?? 0)} per day for ${who} (${dollars(outcome.usd_day)} spent); it resets at ${nextDay.toISOString()} (in ${seconds} s)`, limit, seconds)
    }
    case 'usd_per_month': {
      const nextMonth = new Date(Date.UTC(outcome.month.getUTCFullYear(), outcome.month.getUTCMonth() + 1, 1))
      const seconds = secondsUntil(outcome.at, nextMonth)
      return new LimitRefusal('budget_exceeded', `monthly budget reached: ${dollars(scope.usdPerMonth ?? 0)} per month for ${who} (${dollars(outcome.usd_month)} spent); it resets at ${nextMonth.toISOString()} (in ${seconds} s)`, limit, seconds)
    }
  }
}
