/**
 * A stand-in for the LLM providers the gateway calls (OpenAI, Anthropic, Cohere, Gemini),
 * speaking each one's real wire format over plain HTTP. Tests and the benchmark start it
 * themselves, script failures per tag, and read back what the gateway sent;
 * `llmbase mock-provider` runs it on its own, so that the README's tour works offline. It
 * also takes webhook deliveries (`POST /webhooks/…`, answered 204) for that tour.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { anthropic } from './anthropic.js'
import { cohere } from './cohere.js'
import { gemini } from './gemini.js'
import { isObject } from './json.js'
import { openai } from './openai.js'
import { formatOfPath, matchRoute, type Operation, type ProviderHandler, type Reply, type Route } from './routes.js'
import { pause, sendPaced } from './sse.js'
import type { AnswerSettings, ProviderFormat } from './text.js'

export type { ProviderFormat } from './text.js'
export type { Operation } from './routes.js'

export interface MockStep {
  /** answer with this HTTP status and a provider-shaped error body instead of a result */
  status?: number
  /** with status 429 or 503: the Retry-After header value in seconds */
  retryAfter?: number
  /** wait this long before sending the status line / headers (time to first byte) */
  delayMs?: number
  /** for streams: send this many content chunks, then destroy the socket (no end marker) */
  dropAfterChunks?: number
  /** never answer (hangs until the client gives up or the mock closes) */
  hang?: boolean
}

export interface MockOptions {
  /** added before every answer (default 0) */
  latencyMs?: number
  /** approximate size of the assistant text (default ~40 bytes); a stream splits the same text */
  responseBytes?: number
  /** streamed answers: number of content chunks (default 4) and the pause between them (default 0) */
  streamChunks?: number
  chunkIntervalMs?: number
  /** host to listen on (default 127.0.0.1) */
  host?: string
  /** port 0 (the default) = any free port */
  port?: number
  /** keep every request in `received` (default true); a long benchmark turns it off to stay light */
  record?: boolean
  /** called once per request answered, with a one-line summary (`llmbase mock-provider` prints it) */
  log?: (line: string) => void
}

export interface ReceivedRequest {
  tag: string | null
  format: ProviderFormat
  operation: Operation
  method: string
  /** path and query as received */
  path: string
  headers: Record<string, string | string[] | undefined>
  /** parsed JSON; the raw text when the body was not JSON */
  body: unknown
}

export interface MockProvider {
  /** e.g. http://127.0.0.1:40123 */
  readonly url: string
  /** every request received, in order (tests assert keys, translated bodies) */
  readonly received: ReceivedRequest[]
  /** one-shot steps consumed by the next requests carrying `tag` (null: untagged requests) */
  enqueue(tag: string | null, ...steps: MockStep[]): void
  /** a standing behaviour for every request with `tag` until cleared (null clears) */
  setBehaviour(tag: string, step: MockStep | null): void
  /** clears received, queues and behaviours */
  reset(): void
  close(): Promise<void>
}

const handlers: Record<ProviderFormat, ProviderHandler> = { openai, anthropic, cohere, gemini }

const REJECTED_KEY = 'reject-me'

function carriesRejectedKey(req: IncomingMessage, query: URLSearchParams): boolean {
  // Keys travel in different headers per provider (and per gateway setting), so look at all of them.
  for (const value of Object.values(req.headers)) {
    if (value === REJECTED_KEY || value === `Bearer ${REJECTED_KEY}`) return true
  }
  for (const value of query.values()) if (value === REJECTED_KEY) return true
  return false
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) }
  } catch {
    return { ok: false }
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown, extraHeaders: Record<string, string> = {}): void {
  if (res.destroyed) return
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...extraHeaders,
  })
  res.end(text)
}

function sendError(res: ServerResponse, route: Pick<Route, 'format'>, status: number, message: string, retryAfter?: number): void {
  const headers: Record<string, string> = retryAfter === undefined ? {} : { 'retry-after': String(retryAfter) }
  sendJson(res, status, handlers[route.format].errorBody(status, message), headers)
}

export async function startMockProvider(options: MockOptions = {}): Promise<MockProvider> {
  const latencyMs = options.latencyMs ?? 0
  const intervalMs = options.chunkIntervalMs ?? 0
  const record = options.record ?? true
  const settings: AnswerSettings = { responseBytes: options.responseBytes, streamChunks: options.streamChunks ?? 4 }
  const received: ReceivedRequest[] = []
  const queues = new Map<string | null, MockStep[]>()
  const behaviours = new Map<string, MockStep>()
  let serial = 0

  const takeStep = (tag: string | null): MockStep | undefined => {
    const queued = queues.get(tag)?.shift()
    if (queued) return queued
    return tag === null ? undefined : behaviours.get(tag)
  }

  const answer = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const target = req.url ?? '/'
    const queryStart = target.indexOf('?')
    const pathname = queryStart === -1 ? target : target.slice(0, queryStart)
    const query = new URLSearchParams(queryStart === -1 ? '' : target.slice(queryStart + 1))
    if (req.method === 'POST' && pathname.startsWith('/webhooks/')) {
      const raw = await readBody(req)
      options.log?.(`webhook ${pathname} ${String(req.headers['webhook-id'] ?? '')} ${raw.slice(0, 200)}`)
      res.writeHead(204).end()
      return
    }
    const route = matchRoute(pathname)
    const handler = route && handlers[route.format]
    const operate = route && handler && (route.operation === 'chat' ? handler.chat : handler.embeddings)
    if (!route || !operate || req.method !== 'POST') {
      req.resume()
      return sendError(res, { format: formatOfPath(pathname) }, 404, `the mock has no route for ${req.method} ${pathname}`)
    }

    const raw = await readBody(req)
    const parsed = parseJson(raw)
    if (record) {
      received.push({
        tag: route.tag,
        format: route.format,
        operation: route.operation,
        method: req.method,
        path: target,
        headers: req.headers,
        body: parsed.ok ? parsed.value : raw,
      })
    }
    serial++

    const body = parsed.ok && isObject(parsed.value) ? parsed.value : null
    const rejected = carriesRejectedKey(req, query)
    // A bad body or key is the caller's own mistake: it leaves the scripted steps to the requests after it.
    const step = body && !rejected ? takeStep(route.tag) : undefined
    if (step?.hang) return
    const waitMs = latencyMs + (step?.delayMs ?? 0)
    if (waitMs > 0 && !(await pause(res, waitMs))) return

    if (!body) return sendError(res, route, 400, 'the request body is not a JSON object')
    if (rejected) return sendError(res, route, 401, 'invalid API key')
    if (step?.status !== undefined) return sendError(res, route, step.status, `mock failure ${step.status}`, step.retryAfter)

    const reply: Reply = operate({ body, route, query, settings, serial })
    options.log?.(`${route.format} ${route.operation}${reply.kind === 'stream' ? ' (streamed)' : ''} ${pathname}`)
    if (step?.dropAfterChunks !== undefined && reply.kind === 'json') {
      // A non-streamed answer has no chunks to send first: the connection just drops.
      res.socket?.destroy()
      return
    }
    if (reply.kind === 'json') return sendJson(res, reply.status, reply.body)
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' })
    await sendPaced(res, reply.frames, { intervalMs, dropAfterChunks: step?.dropAfterChunks })
  }

  const server = createServer({ keepAlive: true, noDelay: true }, (req, res) => {
    answer(req, res).catch(() => {
      // The client went away while its body was read, or a handler failed: neither may take the mock down.
      if (!res.headersSent && !res.destroyed) sendJson(res, 500, { error: { message: 'mock provider failure' } })
      else res.destroy()
    })
  })
  // Longer than any client's idle timeout, so the client, never the mock, closes idle sockets
  // (a server closing one just as the client reuses it shows up as a spurious ECONNRESET).
  server.keepAliveTimeout = 65_000
  server.headersTimeout = 66_000

  const host = options.host ?? '127.0.0.1'
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, host, 1024, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const { port } = server.address() as AddressInfo
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`

  return {
    url,
    received,
    enqueue(tag, ...steps) {
      const queue = queues.get(tag)
      if (queue) queue.push(...steps)
      else queues.set(tag, [...steps])
    },
    setBehaviour(tag, step) {
      if (step === null) behaviours.delete(tag)
      else behaviours.set(tag, step)
    },
    reset() {
      // Emptied in place: callers may hold on to `received`.
      received.length = 0
      queues.clear()
      behaviours.clear()
    },
    close() {
      return new Promise<void>((resolve) => {
        // Closing twice is harmless: the second call's "not running" error is no failure.
        server.close(() => resolve())
        server.closeAllConnections()
      })
    },
  }
}
