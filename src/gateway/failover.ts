import { AppError } from '../http/errors.js'
import { type AttemptOutcome, backoffMs, planOrder } from './attempts.js'
import type { CallRecord } from './call-record.js'
import type { GatewayDeps } from './deps.js'
import type { Resolution, Target } from './targets.js'

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms)
    signal.addEventListener('abort', () => {
      clearTimeout(timer)
      resolve()
    }, { once: true })
  })

/**
 * The one retry loop of the gateway. It walks the resolution's instances in plan order:
 * a provider fault moves on to the next instance at once; when every instance has failed,
 * it waits (the provider's Retry-After if it is short enough, else an exponential backoff
 * with jitter) and goes round again, up to `maxAttempts` attempts in all. A client error
 * (4xx other than 408/409/429) ends the loop: another attempt would fail the same way.
 * `attempt` returns once it knows whether it succeeded; for streams that is the first chunk,
 * after which nothing is retried.
 */
export async function withFailover(
  deps: GatewayDeps,
  record: CallRecord,
  resolution: Resolution,
  signal: AbortSignal,
  attempt: (target: Target) => Promise<AttemptOutcome>,
): Promise<void> {
  const { settings, health } = deps
  let lastError: AppError | undefined
  let lastRetryAfter: number | null = null
  for (let round = 0; ; round += 1) {
    const order = planOrder(resolution, health)
    for (const target of order) {
      if (record.responses.length >= settings.maxAttempts || signal.aborted) {
        throw lastError ?? new AppError('upstream_error', 'the call was given up')
      }
      const cooling = health.coolingFor(target.instanceId)
      if (cooling > settings.maxRetryWaitMs) {
        lastError ??= new AppError('upstream_unavailable', `instance ${target.name} is cooling down after failures`, {
          headers: { 'retry-after': String(Math.ceil(cooling / 1000)) },
        })
        continue
      }
      if (cooling > 0) await sleep(cooling, signal)
      const attemptStarted = new Date()
      const outcome = await attempt(target)
      record.attempt(target, outcome, attemptStarted)
      if (outcome.ok) {
        health.succeeded(target.instanceId, outcome.latencyMs, outcome.ttftMs, outcome.status ?? 200)
        return
      }
      if (outcome.retryable && outcome.error?.code !== 'endpoint_not_allowed') {
        health.failed(target.instanceId, outcome.latencyMs, outcome.status, outcome.error?.message ?? 'failed', outcome.retryAfterMs ?? null)
      }
      lastError = outcome.error
      lastRetryAfter = outcome.retryAfterMs ?? null
      if (!outcome.retryable || signal.aborted) throw lastError ?? new AppError('upstream_error', 'the provider call failed')
    }
    if (record.responses.length >= settings.maxAttempts || signal.aborted) break
    if (record.responses.length === 0) break // every instance is cooling down for longer than we wait
    const wait = lastRetryAfter ?? backoffMs(round)
    if (wait > settings.maxRetryWaitMs) break
    await sleep(wait, signal)
  }
  throw lastError ?? new AppError('upstream_error', 'the call was given up')
}
