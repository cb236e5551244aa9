import { classify, type UpstreamTransportError } from '../egress/client.js'
import { AppError } from '../http/errors.js'
import type { HealthBook } from './health.js'
import { adapterFor, ProviderResponseError } from './providers/index.js'
import type { ProviderError, Usage } from './providers/types.js'
import type { Resolution, Target } from './targets.js'

/*
 * How the gateway judges one attempt at a provider: the order of instances, whether a status
 * is worth another attempt, what the client is told. Chat and embeddings share all of it.
 */

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

/** How one upstream attempt ended, for the retry loop and the `llm_responses` row. */
export interface AttemptOutcome {
  ok: boolean
  status: number | null
  /** A provider fault worth another attempt (or another instance). */
  retryable: boolean
  /** The error as the client will see it if this was the last attempt. */
  error?: AppError
  retryAfterMs?: number | null
  latencyMs: number
  ttftMs: number | null
  usage: Usage | null
}

/** Reads a provider's error answer into the error the client will get. */
export function providerFailure(status: number, headers: Record<string, string | string[] | undefined>, bodyText: string, target: Target): AppError {
  let parsed: unknown = null
  try {
    parsed = JSON.parse(bodyText)
  } catch {
    parsed = { message: bodyText.slice(0, 300) }
  }
  let providerError: ProviderError
  try {
    providerError = adapterFor(target.apiStandard).error(status, parsed)
  } catch {
    providerError = { message: `status ${status}`, type: 'api_error' }
  }
  const said = `${providerError.message}`.slice(0, 500)
  const retryAfter = retryAfterMs(headers)
  const retryHeaders: Record<string, string> = retryAfter !== null ? { 'retry-after': String(Math.max(1, Math.ceil(retryAfter / 1000))) } : {}
  if (status === 429) return new AppError('rate_limited', `the provider of ${target.name} is rate limiting: ${said}`, { headers: retryHeaders })
  if (status === 401 || status === 403) {
    return new AppError('upstream_error', `the provider refused the key of instance ${target.name} (status ${status}): ${said}`)
  }
  if (status >= 500 || status === 408 || status === 409) {
    return new AppError('upstream_error', `the provider of ${target.name} failed with status ${status}: ${said}`, { headers: retryHeaders })
  }
  if (status === 404) return new AppError('upstream_error', `the provider of ${target.name} does not know this model or endpoint (404): ${said}`)
  return new AppError('bad_request', `the provider refused the request (status ${status}): ${said}`)
}

/** The client-facing error for a transport failure. */
export function transportFailure(error: UpstreamTransportError, target: Target): AppError {
  switch (error.failure) {
    case 'connect_timeout':
    case 'first_byte_timeout':
    case 'idle_timeout':
    case 'total_timeout':
      return new AppError('upstream_timeout', `${target.name}: ${error.message}`)
    case 'endpoint_not_allowed':
      return new AppError('endpoint_not_allowed', `instance ${target.name}: ${error.message}`)
    default:
      return new AppError('upstream_error', `${target.name}: ${error.message}`)
  }
}

/** An attempt that got an error status from the provider. */
export function failedStatus(status: number, headers: Record<string, string | string[] | undefined>, text: string, target: Target, latencyMs: number): AttemptOutcome {
  return {
    ok: false,
    status,
    retryable: isRetryableStatus(status),
    error: providerFailure(status, headers, text, target),
    retryAfterMs: retryAfterMs(headers),
    latencyMs,
    ttftMs: null,
    usage: null,
  }
}

/**
 * An attempt that ended with an exception: an error the provider put inside a 200 answer, an
 * answer that is not JSON, one of our own refusals, or the network's (a timeout, a refused or
 * broken connection, the client gone). The one classifier of chat and embeddings alike.
 */
export function failedTransport(error: unknown, signal: AbortSignal, target: Target, latencyMs: number): AttemptOutcome {
  const base = { ok: false as const, latencyMs, ttftMs: null, usage: null }
  if (error instanceof ProviderResponseError) return { ...base, status: 200, retryable: true, error: providerReported(error, target) }
  if (error instanceof SyntaxError) {
    return { ...base, status: 200, retryable: true, error: new AppError('upstream_error', `${target.name}: the provider's answer is not valid JSON`) }
  }
  if (error instanceof AppError) return { ...base, status: null, retryable: false, error }
  const transport = classify(error, signal)
  return {
    ...base,
    status: null,
    retryable: transport.failure !== 'client_closed' && transport.failure !== 'endpoint_not_allowed' && !signal.aborted,
    error: transportFailure(transport, target),
  }
}

/** An error the provider put inside a 200 answer or stream (Anthropic's `overloaded_error` event, …). */
export const providerReported = (error: ProviderResponseError, target: Target) =>
  new AppError('upstream_error', `${target.name}: the provider reported an error: ${error.providerError.message.slice(0, 500)}`)
