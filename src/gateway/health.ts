/**
 * Passive health of instances, per process: a latency average and an error rate from the
 * calls that happen anyway (no paid probes), and a cooldown that keeps a failing instance out
 * of routes for a while. Everything here is synchronous bookkeeping on plain objects: nothing
 * is locked, and nothing waits on the provider while holding state.
 */

/** Weight of the newest observation in the moving averages. */
const ALPHA = 0.2
/** Consecutive failures that put an instance in cooldown (a 429 does at once). */
const FAILURES_BEFORE_COOLDOWN = 3
const MAX_COOLDOWN_MS = 60_000

export interface InstanceHealthView {
  state: 'healthy' | 'degraded' | 'cooling_down'
  cooldown_until: string | null
  latency_ewma_ms: number | null
  ttft_ewma_ms: number | null
  error_rate_ewma: number | null
  requests: number
  failures: number
  consecutive_failures: number
  last_status: number | null
  last_error: string | null
  last_seen_at: string | null
}

interface Health {
  latency: number | null
  ttft: number | null
  errorRate: number | null
  requests: number
  failures: number
  consecutiveFailures: number
  cooldowns: number
  cooldownUntil: number
  lastStatus: number | null
  lastError: string | null
  lastSeenAt: number | null
}

const ewma = (previous: number | null, value: number) => (previous === null ? value : previous + ALPHA * (value - previous))

export class HealthBook {
  private readonly byInstance = new Map<number, Health>()

  constructor(private readonly baseCooldownMs: number) {}

  private get(instanceId: number): Health {
    let health = this.byInstance.get(instanceId)
    if (!health) {
      health = {
        latency: null, ttft: null, errorRate: null, requests: 0, failures: 0, consecutiveFailures: 0,
        cooldowns: 0, cooldownUntil: 0, lastStatus: null, lastError: null, lastSeenAt: null,
      }
      this.byInstance.set(instanceId, health)
    }
    return health
  }

  succeeded(instanceId: number, latencyMs: number, ttftMs: number | null, status: number) {
    const health = this.get(instanceId)
    health.requests += 1
    health.latency = ewma(health.latency, latencyMs)
    if (ttftMs !== null) health.ttft = ewma(health.ttft, ttftMs)
    health.errorRate = ewma(health.errorRate, 0)
    health.consecutiveFailures = 0
    health.cooldowns = 0
    health.cooldownUntil = 0
    health.lastStatus = status
    health.lastSeenAt = Date.now()
  }

  /**
   * Counts a provider fault (5xx, 429, timeout, connection failure): client errors (4xx other
   * than 429) are the caller's fault and are not counted. `retryAfterMs` from a 429 sets the
   * cooldown directly.
   */
  failed(instanceId: number, latencyMs: number, status: number | null, error: string, retryAfterMs: number | null) {
    const health = this.get(instanceId)
    health.requests += 1
    health.failures += 1
    health.consecutiveFailures += 1
    health.latency = ewma(health.latency, latencyMs)
    health.errorRate = ewma(health.errorRate, 1)
    health.lastStatus = status
    health.lastError = error
    health.lastSeenAt = Date.now()
    if (status === 429 || health.consecutiveFailures >= FAILURES_BEFORE_COOLDOWN) {
      const backoff = Math.min(MAX_COOLDOWN_MS, this.baseCooldownMs * 2 ** health.cooldowns)
      health.cooldowns += 1
      health.cooldownUntil = Date.now() + Math.max(backoff, retryAfterMs ?? 0)
    }
  }

  /** Milliseconds until the instance may be tried again; 0 when it may be now. */
  coolingFor(instanceId: number, now = Date.now()): number {
    const health = this.byInstance.get(instanceId)
    return health ? Math.max(0, health.cooldownUntil - now) : 0
  }

  view(instanceId: number): InstanceHealthView {
    const health = this.get(instanceId)
    const cooling = this.coolingFor(instanceId)
    const round = (value: number | null, digits = 1) => (value === null ? null : Number(value.toFixed(digits)))
    return {
      state: cooling > 0 ? 'cooling_down' : (health.errorRate ?? 0) > 0.2 ? 'degraded' : 'healthy',
      cooldown_until: cooling > 0 ? new Date(health.cooldownUntil).toISOString() : null,
      latency_ewma_ms: round(health.latency),
      ttft_ewma_ms: round(health.ttft),
      error_rate_ewma: round(health.errorRate, 3),
      requests: health.requests,
      failures: health.failures,
      consecutive_failures: health.consecutiveFailures,
      last_status: health.lastStatus,
      last_error: health.lastError,
      last_seen_at: health.lastSeenAt === null ? null : new Date(health.lastSeenAt).toISOString(),
    }
  }
}
