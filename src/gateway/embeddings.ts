import { performance } from 'node:perf_hooks'
import type { FastifyReply } from 'fastify'
import { AppError } from '../http/errors.js'
import { dimensionsProblem, sendsDimensions } from '../registry/embedding-dimensions.js'
import { type AttemptOutcome, failedStatus, failedTransport } from './attempts.js'
import type { GatewayCallContext, GatewayDeps } from './deps.js'
import { withFailover } from './failover.js'
import { gatewayCall, resolveModel } from './gateway-call.js'
import { withKey } from './provider-key.js'
import { adapterFor } from './providers/index.js'
import type { Usage } from './providers/types.js'
import { callSignal, deadlineSignal } from './signals.js'
import type { Resolution, Target } from './targets.js'

export interface EmbeddingsBody {
  model: string
  input: string | string[]
  encoding_format?: 'float' | 'base64'
  dimensions?: number
  user?: string
}

/** Calls that run at once for one request's batches: enough to hide latency, few enough not to trip provider limits. */
const PARALLEL_BATCHES = 4

/**
 * Embeds texts with one instance, split into batches the provider accepts, in order. Throws
 * the attempt's outcome (as an AttemptFailure) so that the retry loop can judge it.
 */
export async function embedWith(
  deps: GatewayDeps, target: Target, texts: string[], dimensions: number | null, signal: AbortSignal,
): Promise<{ vectors: number[][]; usage: Usage }> {
  const adapter = adapterFor(target.apiStandard)
  if (adapter.embeddingsBatchLimit <= 0) throw new AppError('bad_request', `instance ${target.name} speaks ${adapter.name}, which has no embeddings API`)
  const sizeProblem = dimensions !== null ? dimensionsProblem(target.model, dimensions) : null
  if (sizeProblem) throw new AppError('bad_request', `dimensions ${dimensions} cannot be asked of instance ${target.name}: ${sizeProblem}`)
  const batches: string[][] = []
  for (let start = 0; start < texts.length; start += adapter.embeddingsBatchLimit) batches.push(texts.slice(start, start + adapter.embeddingsBatchLimit))
  const results: number[][][] = new Array(batches.length)
  const usage: Usage = { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 }
  let next = 0
  const worker = async () => {
    while (next < batches.length) {
      const index = next
      next += 1
      const batch = batches[index] as string[]
      // A fixed-size model is not told a size (Cohere's v3 models refuse the parameter).
      const upstreamTarget = { endpoint: target.endpoint, model: target.model, dimensions: sendsDimensions(target.model) ? (dimensions ?? target.dimensions) : null }
      const { url, headers, body } = withKey(adapter.embeddingsRequest(batch, upstreamTarget), target)
      const response = await deps.upstream.send(url, headers, body, signal)
      const text = await response.body.text()
      if (response.status >= 400) throw new AttemptFailure(response.status, response.headers, text)
      const result = adapter.embeddingsResponse(JSON.parse(text), batch.length)
      results[index] = result.vectors
      usage.prompt_tokens += result.usage.prompt_tokens
      usage.total_tokens += result.usage.total_tokens
    }
  }
  await Promise.all(Array.from({ length: Math.min(PARALLEL_BATCHES, batches.length) }, worker))
  return { vectors: results.flat(), usage }
}

/** A provider's error answer inside a multi-batch call. */
export class AttemptFailure extends Error {
  constructor(
    readonly status: number,
    readonly headers: Record<string, string | string[] | undefined>,
    readonly body: string,
  ) {
    super(`status ${status}`)
  }
}

/** Runs `embedWith` as one attempt of the retry loop, judged as chat attempts are (attempts.ts). */
export async function embeddingAttempt(
  deps: GatewayDeps, target: Target, texts: string[], dimensions: number | null, signal: AbortSignal,
  done: (result: { vectors: number[][]; usage: Usage }) => void,
): Promise<AttemptOutcome> {
  const started = performance.now()
  const elapsed = () => performance.now() - started
  try {
    const result = await embedWith(deps, target, texts, dimensions, signal)
    done(result)
    return { ok: true, status: 200, retryable: false, latencyMs: elapsed(), ttftMs: null, usage: result.usage }
  } catch (error) {
    if (error instanceof AttemptFailure) return failedStatus(error.status, error.headers, error.body, target, elapsed())
    return failedTransport(error, signal, target, elapsed())
  }
}

const toBase64 = (vector: number[]) => Buffer.from(new Float32Array(vector).buffer).toString('base64')

/** `POST /v1/embeddings` in OpenAI's shape. */
export async function handleEmbeddings(deps: GatewayDeps, request: GatewayCallContext, reply: FastifyReply, body: EmbeddingsBody) {
  const texts = typeof body.input === 'string' ? [body.input] : body.input
  const spec = { operation: 'embeddings' as const, model: body.model, stream: false, resolve: () => resolveModel(deps, request, body.model, 'embedding') }
  await gatewayCall(deps, request, spec, async (resolution, record) => {
    const { signal, done } = callSignal(reply, record, deps.settings.totalTimeoutMs)
    let result: { vectors: number[][]; usage: Usage } | undefined
    try {
      await withFailover(deps, record, resolution, signal, (target) =>
        embeddingAttempt(deps, target, texts, body.dimensions ?? null, signal, (answer) => {
          result = answer
        }),
      )
    } finally {
      done()
    }
    if (!result) throw new AppError('upstream_error', 'the provider gave no answer')
    const { vectors, usage } = result
    reply.send({
      object: 'list',
      data: vectors.map((vector, index) => ({ object: 'embedding', index, embedding: body.encoding_format === 'base64' ? toBase64(vector) : vector })),
      model: body.model,
      usage: { prompt_tokens: usage.prompt_tokens, total_tokens: usage.total_tokens },
    })
  })
}

/**
 * Embeds texts for the embeddings store through the instance a project is bound to: the
 * caller was allowed to write the project, which is what grants the use of its instance. The
 * call goes through the same retry loop, limits and request log as `POST /v1/embeddings`
 * (logged with operation `embeddings` and the project's instance as model). `signal` stops
 * the call early (a cancelled job).
 */
export async function embedForStore(
  deps: GatewayDeps, request: GatewayCallContext, instanceId: number, texts: string[], signal?: AbortSignal,
): Promise<number[][]> {
  const target = await deps.resolver.byInstanceId(instanceId)
  if (!target) throw new AppError('bad_request', 'the project is bound to no instance; bind one to compute vectors from text')
  if (target.kind !== 'embedding') throw new AppError('bad_request', `instance ${target.name} is not an embedding model`)
  const resolution: Resolution = { name: target.name, routeId: null, strategy: 'single', targets: [target] }
  const spec = { operation: 'embeddings' as const, model: target.name, stream: false, resolve: async () => resolution }
  return gatewayCall(deps, request, spec, async (resolved, record) => {
    const deadline = deadlineSignal(deps.settings.totalTimeoutMs, signal)
    let result: { vectors: number[][]; usage: Usage } | undefined
    try {
      await withFailover(deps, record, resolved, deadline.signal, (t) =>
        embeddingAttempt(deps, t, texts, null, deadline.signal, (answer) => {
          result = answer
        }),
      )
    } finally {
      deadline.done()
    }
    if (!result) throw new AppError('upstream_error', 'the provider gave no answer')
    return result.vectors
  })
}
