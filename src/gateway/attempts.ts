import type { HealthBook } from './health.js'
import type { Resolution, Target } from './targets.js'

/**
 * The order in which a call tries a resolution's instances. `fallback` keeps the route's
 * order; `weighted` draws the first choice by weight and keeps the others in order behind it.
 * Instances cooling down go to the back, soonest-available first, so they are tried only when
 * nothing healthy is left.
 */
export function planOrder(resolution: Resolution, health: HealthBook, random: () => number = Math.random): Target[] {
  let order = resolution.targets
  if (resolution.strategy === 'weighted' && order.length > 1) {
    const total = order.reduce((sum, target) => sum + target.weight, 0)
    let draw = random() * total
    let chosen = 0
    for (let i = 0; i < order.length; i += 1) {
      draw -= (order[i] as Target).weight
      if (draw < 0) {
        chosen = i
        break
      }
    }
    order = [order[chosen] as Target, ...order.filter((_, i) => i !== chosen)]
  }
  const now = Date.now()
  const ready = order.filter((target) => health.coolingFor(target.instanceId, now) === 0)
  const cooling = order
    .filter((target) => health.coolingFor(target.instanceId, now) > 0)
    .sort((a, b) => health.coolingFor(a.instanceId, now) - health.coolingFor(b.instanceId, now))
  return [...ready, ...cooling]
}

/** Statuses worth another attempt: the provider is busy or broken, not the request wrong. */
export const isRetryableStatus = (status: number) => status === 408 || status === 409 || status === 429 || status >= 500

/** Retry-After as milliseconds (seconds or an HTTP date), or null. */
export function retryAfterMs(headers: Record<string, string | string[] | undefined>, now = Date.now()): number | null {
  const raw = headers['retry-after'] ?? headers['retry-after-ms']
  const value = Array.isArray(raw) ? raw[0] : raw
  if (value === undefined) return null
  if (headers['retry-after-ms'] !== undefined && headers['retry-after'] === undefined) {
    const ms = Number(value)
    return Number.isFinite(ms) && ms >= 0 ? ms : null
  }
  const seconds = Number(value)
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000
  const date = Date.parse(value)
  return Number.isNaN(date) ? null : Math.max(0, date - now)
}

/** Exponential backoff with full jitter when the provider gave no Retry-After. */
export const backoffMs = (round: number, random: () => number = Math.random) => Math.round(random() * Math.min(8_000, 250 * 2 ** round))
