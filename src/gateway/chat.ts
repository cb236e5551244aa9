import { performance } from 'node:perf_hooks'
import { TextDecoder } from 'node:util'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { classify } from '../egress/client.js'
import { AppError } from '../http/errors.js'
import { failedStatus, failedTransport, providerReported, transportFailure } from './attempts.js'
import { bypassesCache } from './cache/bypass.js'
import type { CallRecord } from './call-record.js'
import { assembleCompletion, replayAsChunks } from './chunks.js'
import type { GatewayCallContext, GatewayDeps } from './deps.js'
import { withFailover } from './failover.js'
import { gatewayCall, resolveModel } from './gateway-call.js'
import { withKey } from './provider-key.js'
import { adapterFor, ProviderResponseError } from './providers/index.js'
import type { ChatChunk, ChatCompletion, ChatRequest, StreamTranslator, Usage } from './providers/types.js'
import { callSignal, deadlineSignal } from './signals.js'
import { SseParser } from './sse.js'
import type { Resolution, Target } from './targets.js'

/** How answers are written for one kind of client (OpenAI's chat completions, Anthropic's messages). */
export interface Ingress {
  operation: 'chat' | 'messages'
  completionBody(completion: ChatCompletion, request: ChatRequest): unknown
  streamEncoder(request: ChatRequest): StreamEncoder
}

/** Turns chunks into the client's stream format. */
export interface StreamEncoder {
  chunk(chunk: ChatChunk): string
  /** What closes a complete stream: usage (if the client's format wants it) and the end marker. */
  end(usage: Usage | null): string
  /** A typed error event for a failure after the stream began. */
  error(error: AppError): string
}

/** An upstream stream that has produced its first chunks and may be handed to the client. */
interface OpenStream {
  target: Target
  first: ChatChunk[]
  rest: AsyncIterator<Buffer>
  translator: StreamTranslator
  parser: SseParser
  decoder: TextDecoder
  attemptStarted: number
  body: { destroy(error?: Error): void }
}

/**
 * `POST /v1/chat/completions` and `POST /v1/messages`: resolve the model, check limits,
 * answer from the cache when allowed, otherwise call the providers through the retry loop,
 * and record the call. A stream is committed to the client (status 200 sent) only when the
 * first chunk is in hand: until then a failure can still fail over or become a real status.
 */
export async function handleChat(deps: GatewayDeps, request: FastifyRequest, reply: FastifyReply, body: ChatRequest, ingress: Ingress) {
  const stream = body.stream === true
  const spec = { operation: ingress.operation, model: body.model, stream, resolve: () => resolveModel(deps, request, body.model, 'chat') }
  await gatewayCall(deps, request, spec, async (resolution, record) => {
    const { cacheKey, cached } = await lookUpCache(deps, request, record, resolution, body)
    if (cached) {
      reply.header('x-llmbase-cache', 'hit')
      if (stream) await sendStream(reply, ingress.streamEncoder(body), record, oneBatch(replayAsChunks(cached)), null)
      else reply.send(ingress.completionBody({ ...cached, id: cached.id }, body))
      return
    }
    if (cacheKey) reply.header('x-llmbase-cache', 'miss')
    else if (record.cache === 'bypass') reply.header('x-llmbase-cache', 'bypass')
    const { signal, done } = callSignal(reply, record, deps.settings.totalTimeoutMs)
    try {
      if (stream) await streamChat(deps, request, reply, body, ingress, record, resolution, signal, cacheKey)
      else {
        const completion = await completeChat(deps, request, body, record, resolution, signal, cacheKey)
        reply.send(ingress.completionBody({ ...completion, model: body.model }, body))
      }
    } finally {
      done()
    }
  })
}

/**
 * A chat completion for a caller without an HTTP connection (the `chat.batch` job): the same
 * resolution, limits, cache, retry loop and request log as `POST /v1/chat/completions`
 * without streaming, logged with operation `chat`. `signal` stops the call early.
 */
export async function chatCompletion(deps: GatewayDeps, context: GatewayCallContext, body: ChatRequest, signal?: AbortSignal): Promise<ChatCompletion> {
  const request: ChatRequest = { ...body, stream: false }
  const spec = { operation: 'chat' as const, model: body.model, stream: false, resolve: () => resolveModel(deps, context, body.model, 'chat') }
  const completion = await gatewayCall(deps, context, spec, async (resolution, record) => {
    const { cacheKey, cached } = await lookUpCache(deps, context, record, resolution, request)
    if (cached) return cached
    const deadline = deadlineSignal(deps.settings.totalTimeoutMs, signal)
    try {
      return await completeChat(deps, context, request, record, resolution, deadline.signal, cacheKey)
    } finally {
      deadline.done()
    }
  })
  return { ...completion, model: body.model }
}

/** The cached answer to a call, if caching applies and one is stored; records the cache state on `record`. */
async function lookUpCache(deps: GatewayDeps, request: GatewayCallContext, record: CallRecord, resolution: Resolution, body: ChatRequest) {
  const cacheKey = cacheKeyFor(deps, request, record, resolution, body)
  const cached = cacheKey ? await deps.cache.get(cacheKey) : null
  if (cached) {
    record.cache = 'hit'
    record.instanceId = resolution.targets[0]?.instanceId ?? null
    record.usage = cached.usage ?? null
  }
  return { cacheKey, cached }
}

function cacheKeyFor(deps: GatewayDeps, request: GatewayCallContext, record: CallRecord, resolution: Resolution, body: ChatRequest): string | null {
  const first = resolution.targets[0]
  // Routes are cached by their first instance only when all instances agree on a TTL.
  if (!first || first.cacheTtlSeconds === null || resolution.targets.some((t) => t.cacheTtlSeconds !== first.cacheTtlSeconds)) return null
  if (bypassesCache(request)) {
    record.cache = 'bypass'
    return null
  }
  record.cache = 'miss'
  const userId = request.caller.kind === 'user' ? request.caller.userId : 0
  return deps.cache.key({ userId, instanceId: first.instanceId, operation: 'chat' }, body)
}

function storeInCache(deps: GatewayDeps, request: GatewayCallContext, resolution: Resolution, cacheKey: string | null, completion: ChatCompletion) {
  const first = resolution.targets[0]
  if (!cacheKey || !first || first.cacheTtlSeconds === null) return
  if (completion.choices.some((choice) => choice.finish_reason === null)) return
  const userId = request.caller.kind === 'user' ? request.caller.userId : 0
  deps.cache.set(cacheKey, { userId, instanceId: first.instanceId, operation: 'chat' }, completion, first.cacheTtlSeconds)
}

/** The retry loop of a call without streaming; stores the answer in the cache when it may. */
async function completeChat(
  deps: GatewayDeps, request: GatewayCallContext, body: ChatRequest, record: CallRecord,
  resolution: Resolution, signal: AbortSignal, cacheKey: string | null,
): Promise<ChatCompletion> {
  let completion: ChatCompletion | undefined
  await withFailover(deps, record, resolution, signal, async (target) => {
    const started = performance.now()
    const adapter = adapterFor(target.apiStandard)
    const elapsed = () => performance.now() - started
    try {
      const { url, headers, body: text } = withKey(adapter.chatRequest(body, target, false), target)
      const response = await deps.upstream.send(url, headers, text, signal)
      const answer = await response.body.text()
      if (response.status >= 400) {
        return failedStatus(response.status, response.headers, answer, target, elapsed())
      }
      completion = adapter.chatResponse(JSON.parse(answer), body)
      return { ok: true, status: response.status, retryable: false, latencyMs: elapsed(), ttftMs: null, usage: completion.usage ?? null }
    } catch (error) {
      return failedTransport(error, signal, target, elapsed())
    }
  })
  if (!completion) throw new AppError('upstream_error', 'the provider gave no answer')
  storeInCache(deps, request, resolution, cacheKey, completion)
  return completion
}

async function streamChat(
  deps: GatewayDeps, request: FastifyRequest, reply: FastifyReply, body: ChatRequest, ingress: Ingress,
  record: CallRecord, resolution: Resolution, signal: AbortSignal, cacheKey: string | null,
) {
  let open: OpenStream | undefined
  await withFailover(deps, record, resolution, signal, async (target) => {
    const started = performance.now()
    const adapter = adapterFor(target.apiStandard)
    const elapsed = () => performance.now() - started
    try {
      const { url, headers, body: text } = withKey(adapter.chatRequest(body, target, true), target)
      const response = await deps.upstream.send(url, headers, text, signal)
      if (response.status >= 400) return failedStatus(response.status, response.headers, await response.body.text(), target, elapsed())
      const translator = adapter.chatStream(body)
      const parser = new SseParser()
      const decoder = new TextDecoder()
      const rest = response.body[Symbol.asyncIterator]()
      // Read until the provider has said something a client can use; an error before that
      // point can still fail over.
      const first: ChatChunk[] = []
      while (first.length === 0) {
        const next = await rest.next()
        if (next.done) {
          for (const event of parser.end()) first.push(...translator.push(event))
          first.push(...translator.end())
          break
        }
        for (const event of parser.push(decoder.decode(next.value, { stream: true }))) first.push(...translator.push(event))
      }
      if (first.length === 0) {
        return { ok: false, status: 200, retryable: true, error: new AppError('upstream_error', `${target.name}: the provider ended the stream without an answer`), latencyMs: elapsed(), ttftMs: null, usage: null }
      }
      open = { target, first, rest, translator, parser, decoder, attemptStarted: started, body: response.body }
      const ttft = elapsed()
      return { ok: true, status: 200, retryable: false, latencyMs: ttft, ttftMs: ttft, usage: null }
    } catch (error) {
      return failedTransport(error, signal, target, elapsed())
    }
  })
  if (!open) throw new AppError('upstream_error', 'the provider gave no answer')
  const stream = open
  const collected: ChatChunk[] | null = cacheKey ? [] : null
  const upstreamChunks = readRest(stream, signal)
  const failure = await sendStream(reply, ingress.streamEncoder(body), record, prepend([stream.first], upstreamChunks), collected)
  // The attempt row was written at the first chunk; complete it with what the stream used.
  const attemptRow = record.responses[record.responses.length - 1]
  const usage = stream.translator.usage
  if (attemptRow) {
    attemptRow.latency_ms = performance.now() - stream.attemptStarted
    attemptRow.prompt_tokens = usage?.prompt_tokens ?? null
    attemptRow.completion_tokens = usage?.completion_tokens ?? null
    attemptRow.cached_tokens = usage?.cached_tokens ?? null
    if (failure) {
      attemptRow.error_code = failure.code
      attemptRow.error_message = failure.message
    }
  }
  if (usage) {
    record.answered(stream.target, usage)
    if (attemptRow) attemptRow.cost_usd = record.cost
  }
  if (failure) {
    deps.health.failed(stream.target.instanceId, performance.now() - stream.attemptStarted, 200, failure.message, null)
    // The client has its 200 and an error event; the request log keeps both facts.
    record.failedAfterAnswer = failure
    return
  }
  if (collected) storeInCache(deps, request, resolution, cacheKey, assembleCompletion(collected, usage))
}

async function* prepend<T>(first: T[], rest: AsyncGenerator<T>): AsyncGenerator<T> {
  yield* first
  yield* rest
}

/** A stream already in memory (a cached answer) as one batch. */
async function* oneBatch(chunks: ChatChunk[]): AsyncGenerator<ChatChunk[]> {
  yield chunks
}

/**
 * The rest of the provider's stream, translated, one batch per read from the provider (most
 * reads hold one event). Batches rather than single chunks: every step of an async generator
 * costs promise ticks, and at hundreds of concurrent streams those ticks are the bulk of the
 * gateway's work. Throws when the stream is cut or fails.
 */
async function* readRest(stream: OpenStream, signal: AbortSignal): AsyncGenerator<ChatChunk[]> {
  const { translator, parser, decoder, target } = stream
  try {
    for (;;) {
      const next = await stream.rest.next()
      if (next.done) break
      const batch: ChatChunk[] = []
      for (const event of parser.push(decoder.decode(next.value, { stream: true }))) batch.push(...translator.push(event))
      if (batch.length > 0) yield batch
    }
    const last: ChatChunk[] = []
    for (const event of parser.end()) last.push(...translator.push(event))
    last.push(...translator.end())
    if (last.length > 0) yield last
  } catch (error) {
    if (signal.aborted) throw new AppError('upstream_error', 'the call was cancelled')
    if (error instanceof AppError) throw error
    if (error instanceof ProviderResponseError) throw providerReported(error, target)
    const transport = classify(error)
    throw transport.failure === 'connection_failed'
      ? new AppError('upstream_error', `${target.name}: the provider's stream broke off`, { cause: error })
      : transportFailure(transport, target)
  } finally {
    stream.body.destroy()
  }
  if (!translator.finished) throw new AppError('upstream_error', `${target.name}: the provider ended the stream before its end marker`)
}

/**
 * Writes a stream to the client with backpressure: when the socket's buffer is full, reading
 * from the provider waits. Usage the provider sent is always taken off the chunks (it was
 * asked for upstream even when the client did not ask) and given once at the end if the
 * client asked. Returns the failure that ended the stream early, if any.
 */
async function sendStream(
  reply: FastifyReply, encoder: StreamEncoder, record: CallRecord, batches: AsyncIterable<ChatChunk[]>,
  collected: ChatChunk[] | null,
): Promise<AppError | null> {
  const raw = reply.raw
  reply.hijack()
  raw.writeHead(200, {
    ...(reply.getHeaders() as Record<string, string>),
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  })
  const drained = () =>
    new Promise<void>((resolve) => {
      const done = () => {
        raw.off('drain', done)
        raw.off('close', done)
        resolve()
      }
      raw.on('drain', done)
      raw.on('close', done)
    })
  const write = async (text: string) => {
    if (text.length > 0 && !raw.destroyed && !raw.write(text)) await drained()
  }
  let failure: AppError | null = null
  let usage: Usage | null = record.usage
  try {
    for await (const batch of batches) {
      if (raw.destroyed) break
      let text = ''
      for (const chunk of batch) {
        if (chunk.usage) usage = chunk.usage
        if (collected) collected.push(chunk)
        if (chunk.choices.length === 0) continue
        const { usage: _dropped, ...rest } = chunk
        text += encoder.chunk(rest as ChatChunk)
      }
      if (text.length === 0) continue
      if (record.ttftMs === null) record.ttftMs = record.elapsed()
      // Awaited only when the socket's buffer is full: that is the backpressure.
      if (!raw.write(text)) await drained()
    }
  } catch (error) {
    failure = error instanceof AppError ? error : new AppError('upstream_error', 'the stream broke off', { cause: error })
  }
  if (!raw.destroyed) {
    if (failure) await write(encoder.error(failure))
    else await write(encoder.end(usage))
    raw.end()
  }
  return failure
}
