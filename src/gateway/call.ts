import { randomUUID } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import type { FastifyReply } from 'fastify'
import type { Logger } from 'pino'
import type { GatewaySettings } from '../config.js'
import { AppError, errors } from '../http/errors.js'
import { type Caller, isAdmin } from '../identity/caller.js'
import type { RequestRow, RequestLogWriter, ResponseRow } from './accounting/log-writer.js'
import { budgetCostOf, costOf, effectivePrices } from './accounting/prices.js'
import { backoffMs, planOrder, retryAfterMs } from './attempts.js'
import type { ResponseCache } from './cache/response-cache.js'
import type { HealthBook } from './health.js'
import type { Admission, LimitEnforcer } from './limits/enforcer.js'
import { adapterFor } from './providers/index.js'
import type { ChatCompletion, ChatRequest, ProviderError, Usage } from './providers/types.js'
import type { Resolution, Target, TargetResolver } from './targets.js'
import { type UpstreamClient, UpstreamTransportError } from '../egress/client.js'

/** Everything a gateway call uses, built once per server (src/gateway/gateway.ts). */
export interface GatewayDeps {
  settings: GatewaySettings
  upstream: UpstreamClient
  resolver: TargetResolver
  health: HealthBook
  cache: ResponseCache
  log: RequestLogWriter
  limits: LimitEnforcer
  logger: Logger
}

/**
 * What a gateway call needs to know about whoever makes it: the caller it is accounted to, the
 * request id it is logged under, and the headers that steer the cache. A Fastify request is
 * one; a job builds one for its owner (src/gateway/job-call.ts) to call without HTTP.
 */
export interface GatewayCallContext {
  caller: Caller
  id: string
  headers: Record<string, string | string[] | undefined>
}

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

/** The running record of one client call: its attempts and what it used. */
export class CallRecord {
  readonly id = randomUUID()
  readonly startedAt = new Date()
  readonly started = performance.now()
  readonly responses: ResponseRow[] = []
  instanceId: number | null = null
  usage: Usage | null = null
  cost: number | null = null
  /** What the call counts against spending budgets (see `budgetCostOf`). */
  budgetCost: number | null = null
  ttftMs: number | null = null
  cache: RequestRow['cache'] = 'off'
  /** The client went away before the answer was complete. */
  clientClosed = false

  constructor(
    readonly request: GatewayCallContext,
    readonly operation: RequestRow['operation'],
    readonly model: string,
    readonly stream: boolean,
  ) {}

  elapsed() {
    return performance.now() - this.started
  }

  attempt(target: Target, outcome: AttemptOutcome, attemptStarted: Date) {
    if (outcome.ok) this.answered(target, outcome.usage)
    const cost = outcome.ok ? this.cost : outcome.usage ? costOf(outcome.usage, effectivePrices(target.model, target.prices)) : null
    this.responses.push({
      attempt: this.responses.length + 1,
      instance_id: target.instanceId,
      provider: adapterFor(target.apiStandard).name,
      model: target.model,
      status: outcome.status,
      error_code: outcome.error?.code ?? null,
      error_message: outcome.error ? outcome.error.message.slice(0, 1000) : null,
      latency_ms: outcome.latencyMs,
      ttft_ms: outcome.ttftMs,
      prompt_tokens: outcome.usage?.prompt_tokens ?? null,
      completion_tokens: outcome.usage?.completion_tokens ?? null,
      cached_tokens: outcome.usage?.cached_tokens ?? null,
      cost_usd: cost,
      created_at: attemptStarted,
    })
  }

  /** Records the usage of the attempt that answered. */
  answered(target: Target, usage: Usage | null) {
    this.instanceId = target.instanceId
    this.usage = usage
    this.cost = usage ? costOf(usage, effectivePrices(target.model, target.prices)) : null
    this.budgetCost = usage ? budgetCostOf(usage, target.model, target.prices) : null
  }
}

/** The user a gateway call is made for; the bare admin key has none to account to. */
export function gatewayCaller(request: GatewayCallContext) {
  const caller = request.caller
  if (caller.kind !== 'user') {
    throw errors.forbidden('the gateway accounts every call to a user: call it with a user API key (POST /v1/users/{user}/keys, or `llmbase users create <handle>` for a new user), not the admin key')
  }
  return { userId: caller.userId, handle: caller.handle, isAdmin: isAdmin(caller), keyId: caller.keyId }
}

export async function resolveModel(deps: GatewayDeps, request: GatewayCallContext, model: unknown, kind: 'chat' | 'embedding'): Promise<Resolution> {
  if (typeof model !== 'string' || model.length === 0 || model.length > 200) {
    throw new AppError('validation_failed', 'model must name an instance or route you may use (`handle` or `owner/handle`)', {
      errors: [{ location: 'body.model', message: 'must be a non-empty string of at most 200 characters' }],
    })
  }
  const caller = gatewayCaller(request)
  const resolution = await deps.resolver.resolve(caller, model)
  requireModelKind(model, resolution?.targets ?? [], kind)
  return resolution as Resolution
}

/** Refuses a model name that stands for nothing the caller may use, or for models of the other kind. */
export function requireModelKind(model: string, targets: ReadonlyArray<{ kind: 'chat' | 'embedding' }>, kind: 'chat' | 'embedding') {
  if (targets.length === 0) {
    throw new AppError('model_not_found', `the model ${model} does not exist or you do not have access to it; GET /v1/models lists what you may use`)
  }
  if (targets.some((target) => target.kind !== kind)) {
    const other = kind === 'chat' ? 'an embedding model' : 'a chat model'
    throw new AppError('bad_request', `the model ${model} is ${other}; this endpoint needs ${kind === 'chat' ? 'a chat' : 'an embedding'} model`)
  }
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

/** Runs `admit` and guarantees exactly one `finish`, whatever happens to the call. */
export async function admitted<T>(deps: GatewayDeps, request: GatewayCallContext, record: CallRecord, run: () => Promise<T>): Promise<T> {
  const caller = gatewayCaller(request)
  const admission: Admission = await deps.limits.admit({ userId: caller.userId, keyId: caller.keyId })
  try {
    return await run()
  } finally {
    admission.finish({ tokens: record.cache === 'hit' ? 0 : (record.usage?.total_tokens ?? 0), usd: record.cache === 'hit' ? 0 : record.budgetCost })
  }
}

/** Writes the call's `llm_requests` row (and its attempts) to the batched log. */
export function logCall(deps: GatewayDeps, record: CallRecord, resolution: Resolution | null, answered: { status: number; error?: AppError | undefined }) {
  const caller = record.request.caller
  if (caller.kind !== 'user') return
  // 499 (nginx's convention): the client closed the connection before the answer was complete.
  const outcome = record.clientClosed
    ? { status: 499, error: { code: 'client_closed', message: 'the client closed the connection before the answer was complete' } }
    : answered
  deps.log.record(
    {
      id: record.id,
      request_id: record.request.id,
      user_id: caller.userId,
      api_key_id: caller.keyId,
      operation: record.operation,
      model: record.model,
      route_id: resolution?.routeId ?? null,
      instance_id: record.instanceId,
      stream: record.stream,
      status: outcome.status,
      error_code: outcome.error?.code ?? null,
      error_message: outcome.error ? outcome.error.message.slice(0, 1000) : null,
      cache: record.cache,
      attempts: record.responses.length,
      prompt_tokens: record.usage?.prompt_tokens ?? null,
      completion_tokens: record.usage?.completion_tokens ?? null,
      cached_tokens: record.usage?.cached_tokens ?? null,
      total_tokens: record.usage?.total_tokens ?? null,
      cost_usd: record.cache === 'hit' ? 0 : record.cost,
      latency_ms: record.elapsed(),
      ttft_ms: record.ttftMs,
      created_at: record.startedAt,
    },
    record.responses,
  )
}

/** Whether the client asked to skip the cache (`Cache-Control: no-cache`/`no-store` or `x-llmbase-cache: bypass`). */
export function bypassesCache(request: GatewayCallContext): boolean {
  const control = String(request.headers['cache-control'] ?? '').toLowerCase()
  return /no-cache|no-store/.test(control) || String(request.headers['x-llmbase-cache'] ?? '').toLowerCase() === 'bypass'
}

/**
 * An AbortSignal for a call made without a client connection (a job, the embeddings store):
 * it fires when `outer` does (a cancelled job) or the total timeout passes; `done` clears the
 * timer when the call is over.
 */
export function deadlineSignal(totalTimeoutMs: number, outer?: AbortSignal) {
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(new DOMException('the total timeout passed', 'TimeoutError')), totalTimeoutMs)
  const onAbort = () => controller.abort(outer?.reason)
  if (outer?.aborted) onAbort()
  else outer?.addEventListener('abort', onAbort, { once: true })
  const done = () => {
    clearTimeout(timer)
    outer?.removeEventListener('abort', onAbort)
  }
  return { signal: controller.signal, done }
}

/**
 * An AbortSignal that fires when the client goes away or the total timeout passes, and `done`
 * to call when the call is over. The timer is our own and cleared at the end: a timer per call
 * left running for the whole total timeout (as `AbortSignal.timeout` would be) would hold
 * every finished call's signal in memory for ten minutes.
 */
export function callSignal(reply: FastifyReply, record: CallRecord, totalTimeoutMs: number) {
  const controller = new AbortController()
  const onClose = () => {
    if (reply.raw.writableFinished) return
    record.clientClosed = true
    controller.abort(new Error('client closed'))
  }
  reply.raw.once('close', onClose)
  const timer = setTimeout(() => controller.abort(new DOMException('the total timeout passed', 'TimeoutError')), totalTimeoutMs)
  const done = () => {
    clearTimeout(timer)
    reply.raw.off('close', onClose)
  }
  return { signal: controller.signal, done }
}

export type { ChatCompletion, ChatRequest }
