import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { type Static, Type } from 'typebox'
import type { Executor } from '../db/database.js'
import type { UserRow } from '../db/tables.js'
import { AppError, type ValidationIssue } from '../http/errors.js'
import type { Caller } from '../identity/caller.js'
import { loadOwner, ownerCaller, recheckAccess, type UserCaller } from '../jobs/run-as.js'
import { type ClaimedJob, type JobContext, JobFailure, type JobType } from '../jobs/types.js'
import { type GatewayCallContext, type GatewayDeps } from './deps.js'
import { requireModelKind } from './gateway-call.js'
import { chatCompletion } from './chat.js'
import { ChatBody } from './client-routes.js'
import { jobCallContext } from './job-call.js'
import type { ChatCompletion, ChatRequest } from './providers/types.js'
import { findModel } from './targets.js'

/**
 * `chat.batch`: many chat completions with one model, run through the gateway (limits, cache,
 * retries, failover, request log) a few at a time. A request that fails is recorded with its
 * error and the others go on; docs/jobs.md#chat-batch says when the job itself fails.
 */

export const MAX_CHAT_REQUESTS = 1000
const DEFAULT_CONCURRENCY = 4
/**
 * Finished answers are saved for a retry at most this often, not after every request: the
 * checkpoint holds every answer so far, and rewriting it after each of 1,000 requests would
 * write the first answers a thousand times.
 */
const CHECKPOINT_EVERY_MS = 2_000
/**
 * A batch runs into the owner's own rate limits (requests or tokens per minute, concurrent
 * requests) by design; such a request waits for the Retry-After the limit gives (at most a
 * minute, when the minute's window resets) and goes again, up to this many times in all,
 * rather than being recorded as failed.
 */
const RATE_LIMITED_TRIES = 5
const MAX_RATE_LIMIT_WAIT_MS = 60_000

const RequestBody = Type.Object(
  {
    ...ChatBody.properties,
    model: Type.Optional(Type.Never({ 'x-error': 'is set for the whole job: give it once, as payload.model' })),
    stream: Type.Optional(Type.Literal(false, { 'x-error': 'must be false or absent: a job stores whole answers' })),
    stream_options: Type.Optional(Type.Never({ 'x-error': 'is for streams, which a job does not use' })),
  },
  { additionalProperties: true, description: 'A chat completion request body (OpenAI\'s shape) without model and stream' },
)

export const ChatBatchPayload = Type.Object(
  {
    model: Type.String({ minLength: 1, maxLength: 200, description: 'An instance or route the owner may use, as in POST /v1/chat/completions' }),
    requests: Type.Array(
      Type.Object(
        {
          custom_id: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Your name for the request, unique in the job; repeated in its result' })),
          body: RequestBody,
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: MAX_CHAT_REQUESTS },
    ),
    concurrency: Type.Optional(Type.Integer({ minimum: 1, maximum: 16, default: DEFAULT_CONCURRENCY, description: 'Requests in flight at once' })),
  },
  { additionalProperties: false },
)
export type ChatBatchPayload = Static<typeof ChatBatchPayload>

export interface ItemError {
  code: string
  message: string
  /** The HTTP status the same failure would have had on POST /v1/chat/completions. */
  status: number
}

export interface ItemResult {
  custom_id: string | null
  index: number
  status: 'succeeded' | 'failed'
  response?: ChatCompletion
  error?: ItemError
}

export interface ChatBatchResult {
  results: ItemResult[]
  succeeded: number
  failed: number
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number }
}

/** Requests that ended for good in earlier attempts: answers, and failures a retry cannot change. */
interface ChatBatchCheckpoint {
  finished: ItemResult[]
}

function duplicateCustomIds(requests: ChatBatchPayload['requests']): ValidationIssue[] {
  const seen = new Set<string>()
  const issues: ValidationIssue[] = []
  requests.forEach((request, index) => {
    if (request.custom_id === undefined) return
    if (seen.has(request.custom_id)) issues.push({ location: `body.payload.requests[${index}].custom_id`, message: 'must be unique in the job', value: request.custom_id })
    seen.add(request.custom_id)
  })
  return issues
}

/** Refuses a model the caller may not use as a chat model, with the gateway's own errors. */
async function requireChatModel(db: Executor, caller: UserCaller, model: string) {
  const found = await findModel(db, { userId: caller.userId, handle: caller.handle, isAdmin: caller.role === 'admin' }, model)
  requireModelKind(model, found?.rows ?? [], 'chat')
}

/** What the chat.batch job's handler uses. */
export interface ChatBatchJobDeps {
  db: Executor
  gateway: GatewayDeps
}

/** A failure a later attempt may not repeat: the provider's or the network's, a rate limit, a timeout. */
const isRetryable = (error: ItemError) => error.status >= 500 || error.status === 429

function describeError(error: unknown): ItemError {
  if (error instanceof AppError) return { code: error.code, message: error.message, status: error.status }
  return { code: 'internal_error', message: 'the request failed with an unexpected error (details are in the server log)', status: 500 }
}

/** One request through the gateway, waiting out rate limits (see RATE_LIMITED_TRIES). */
async function complete(deps: ChatBatchJobDeps, call: GatewayCallContext, body: ChatRequest, signal: AbortSignal): Promise<ChatCompletion> {
  for (let tries = 1; ; tries++) {
    try {
      return await chatCompletion(deps.gateway, call, body, signal)
    } catch (error) {
      if (!(error instanceof AppError) || error.code !== 'rate_limited' || tries >= RATE_LIMITED_TRIES) throw error
      const seconds = Number(error.headers?.['retry-after'] ?? 1)
      await sleep(Math.min(MAX_RATE_LIMIT_WAIT_MS, (Number.isFinite(seconds) && seconds > 0 ? seconds : 1) * 1000), undefined, { signal })
    }
  }
}

function finishedBefore(checkpoint: unknown): Map<number, ItemResult> {
  const finished = (checkpoint as Partial<ChatBatchCheckpoint> | null)?.finished
  return new Map(Array.isArray(finished) ? finished.map((result) => [result.index, result]) : [])
}

/**
 * Saves progress after every request and the finished answers now and then. Calls are chained
 * so that writes land in order even though requests finish side by side.
 */
function progressWriter(context: JobContext, total: number, finished: Map<number, ItemResult>) {
  let chain = Promise.resolve()
  let savedAt = performance.now()
  return (done: number) => {
    const now = performance.now()
    const save = now - savedAt >= CHECKPOINT_EVERY_MS
    if (save) savedAt = now
    const checkpoint: ChatBatchCheckpoint | undefined = save ? { finished: [...finished.values()] } : undefined
    chain = chain.then(() => context.progress(done, total, checkpoint))
    return chain
  }
}

export const chatBatchJob: JobType<ChatBatchJobDeps> = {
  type: 'chat.batch',
  payload: ChatBatchPayload,
  submission: {
    async check(db: Executor, owner: UserRow, _caller: Caller, payload: unknown) {
      const { model, requests } = payload as ChatBatchPayload
      const duplicates = duplicateCustomIds(requests)
      if (duplicates.length > 0) throw new AppError('validation_failed', 'custom_id must be unique in the job', { errors: duplicates.slice(0, 50) })
      // The job runs as its owner, so the owner, not an admin submitting for it, must be able to use the model.
      await requireChatModel(db, ownerCaller(owner), model)
      return { total: requests.length }
    },
  },
  handler: (deps) => ({
    type: 'chat.batch',
    payload: ChatBatchPayload,
    async run(job: ClaimedJob<ChatBatchPayload>, context) {
      const { payload } = job
      const owner = await loadOwner(deps.db, job)
      const caller = ownerCaller(owner)
      await recheckAccess(`using the model ${payload.model} as ${owner.handle}`, () => requireChatModel(deps.db, caller, payload.model))
      const call = jobCallContext(job, caller)
      const total = payload.requests.length
      const finished = finishedBefore(job.checkpoint)
      const results = new Map(finished)
      if (finished.size > 0) context.debug('resuming from the checkpoint', { finished: finished.size, total })
      const report = progressWriter(context, total, finished)
      const waiting = payload.requests.map((_, index) => index).filter((index) => !finished.has(index))
      let next = 0
      const worker = async () => {
        while (next < waiting.length && !context.signal.aborted) {
          const index = waiting[next++] as number
          const request = payload.requests[index] as ChatBatchPayload['requests'][number]
          const base = { custom_id: request.custom_id ?? null, index }
          const started = performance.now()
          let result: ItemResult
          try {
            const response = await complete(deps, call, { ...request.body, model: payload.model } as ChatRequest, context.signal)
            result = { ...base, status: 'succeeded', response }
          } catch (error) {
            result = { ...base, status: 'failed', error: describeError(error) }
          }
          if (context.signal.aborted) return
          results.set(index, result)
          if (result.status === 'succeeded' || !isRetryable(result.error as ItemError)) finished.set(index, result)
          context.debug('request finished', { index, status: result.status, ...(result.error ? { code: result.error.code } : {}), ms: Math.round(performance.now() - started) })
          await report(results.size)
        }
      }
      await Promise.all(Array.from({ length: Math.min(payload.concurrency ?? DEFAULT_CONCURRENCY, waiting.length) }, worker))
      context.signal.throwIfAborted()
      const ordered = [...results.values()].sort((a, b) => a.index - b.index)
      const retryable = ordered.filter((result) => result.status === 'failed' && isRetryable(result.error as ItemError))
      // No answer at all, and some failures may pass (the provider down, rate limits): the
      // attempt fails so that the queue retries it later, running only those requests again.
      if (ordered.every((result) => result.status === 'failed') && retryable.length > 0) {
        await context.progress(finished.size, total, { finished: [...finished.values()] } satisfies ChatBatchCheckpoint)
        const first = retryable[0] as ItemResult
        throw new JobFailure(`all ${total} requests failed; ${retryable.length} may succeed later, such as request ${first.index}: ${first.error?.message}`, first.error?.code ?? 'upstream_error')
      }
      return summarize(ordered)
    },
  }),
}

/** The job's result: every request's outcome in payload order, with counts and summed usage. */
function summarize(ordered: ItemResult[]): ChatBatchResult {
  const failed = ordered.filter((result) => result.status === 'failed').length
  const usage = { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 }
  for (const result of ordered) {
    usage.prompt_tokens += result.response?.usage?.prompt_tokens ?? 0
    usage.completion_tokens += result.response?.usage?.completion_tokens ?? 0
    usage.total_tokens += result.response?.usage?.total_tokens ?? 0
  }
  return { results: ordered, succeeded: ordered.length - failed, failed, usage }
}
