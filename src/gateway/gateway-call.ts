import { AppError, errors } from '../http/errors.js'
import { isAdmin } from '../identity/caller.js'
import type { RequestRow } from './accounting/log-writer.js'
import { CallRecord } from './call-record.js'
import type { GatewayCallContext, GatewayDeps } from './deps.js'
import type { Admission } from './limits/enforcer.js'
import type { Resolution } from './targets.js'

/**
 * The one way a client's call goes through the gateway, whoever makes it (the OpenAI and
 * Anthropic routes, the embeddings store, jobs, and the ensembles, conversations and tool
 * loops to come): a record of the call, the model resolved for the caller, admission against
 * the caller's limits (released exactly once), the work itself, which calls providers through
 * `withFailover` (failover.ts), and one row in the request log whether it succeeded or not.
 * The entry points (chat.ts, embeddings.ts) only say what the work is and how to answer.
 */
export interface CallSpec {
  operation: RequestRow['operation']
  /** The model as the client named it, for the log. */
  model: string
  stream: boolean
  /** What the model stands for; null in the log when it cannot be resolved. */
  resolve(): Promise<Resolution>
}

export async function gatewayCall<T>(
  deps: GatewayDeps,
  context: GatewayCallContext,
  spec: CallSpec,
  work: (resolution: Resolution, record: CallRecord) => Promise<T>,
): Promise<T> {
  const record = new CallRecord(context, spec.operation, spec.model, spec.stream)
  let resolution: Resolution | null = null
  try {
    resolution = await spec.resolve()
    const resolved = resolution
    const value = await admitted(deps, context, record, () => work(resolved, record))
    logCall(deps, record, resolution, { status: 200, error: record.failedAfterAnswer ?? undefined })
    return value
  } catch (error) {
    const failure = error instanceof AppError ? error : undefined
    logCall(deps, record, resolution, { status: failure?.status ?? 500, error: failure })
    throw error
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

/** Runs `admit` and guarantees exactly one `finish`, whatever happens to the call. */
async function admitted<T>(deps: GatewayDeps, request: GatewayCallContext, record: CallRecord, run: () => Promise<T>): Promise<T> {
  const caller = gatewayCaller(request)
  const admission: Admission = await deps.limits.admit({ userId: caller.userId, keyId: caller.keyId })
  try {
    return await run()
  } finally {
    admission.finish({ tokens: record.cache === 'hit' ? 0 : (record.usage?.total_tokens ?? 0), usd: record.cache === 'hit' ? 0 : record.budgetCost })
  }
}

/** Writes the call's `llm_requests` row (and its attempts) to the batched log. */
function logCall(deps: GatewayDeps, record: CallRecord, resolution: Resolution | null, answered: { status: number; error?: AppError | undefined }) {
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
