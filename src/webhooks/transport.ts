import type { Config } from '../config.js'
import { retryAfterMs } from '../gateway/attempts.js'
import { type TransportFailure, UpstreamClient, UpstreamTransportError } from '../egress/client.js'

/** At most this much of a receiver's answer is read and kept with the attempt. */
export const EXCERPT_BYTES = 1024

/** The longest Retry-After honoured: a receiver cannot park a delivery for longer. */
export const MAX_RETRY_AFTER_MS = 86_400_000

export type PostOutcome =
  | { kind: 'response'; status: number; excerpt: string; retryAfterMs: number | null }
  | { kind: 'failed'; error: string }

/**
 * POSTs deliveries with the gateway's guarded client: the URL is checked against the private
 * address policy before each request and every resolved address again at connect time, so a
 * name that points at 10.x or 169.254.169.254 after the endpoint was saved is still refused.
 * undici follows no redirects, which is what the Standard Webhooks spec asks of a sender (a
 * 3xx is a failure: a redirect could lead the signed request somewhere private).
 */
export class WebhookTransport {
  private readonly client: UpstreamClient

  constructor(
    config: Pick<Config, 'gateway' | 'egress'>,
    private readonly timeoutMs: number,
  ) {
    // The attempt's own timer (below) is the limit; undici's coarser timers only back it up.
    const backstop = timeoutMs + 1_000
    this.client = new UpstreamClient(
      { ...config.gateway, connectTimeoutMs: Math.min(config.gateway.connectTimeoutMs, timeoutMs), firstByteTimeoutMs: backstop, idleTimeoutMs: backstop },
      config.egress,
    )
  }

  /**
   * One attempt, bounded by the webhook timeout from the first byte sent to the last byte of
   * the excerpt read. Throws only when `signal` (the job's) aborts.
   */
  async post(url: string, headers: Record<string, string>, body: string, signal: AbortSignal): Promise<PostOutcome> {
    const attempt = AbortSignal.any([signal, AbortSignal.timeout(this.timeoutMs)])
    try {
      const response = await this.client.send(url, headers, body, attempt)
      const excerpt = await readExcerpt(response.body)
      const retryAfter = response.status === 429 || response.status === 503 ? retryAfterMs(response.headers) : null
      return { kind: 'response', status: response.status, excerpt, retryAfterMs: retryAfter === null ? null : Math.min(retryAfter, MAX_RETRY_AFTER_MS) }
    } catch (error) {
      if (signal.aborted) throw error
      return { kind: 'failed', error: describe(error, this.timeoutMs) }
    }
  }

  close(): Promise<void> {
    return this.client.close()
  }
}

/** The start of the body, decoded as UTF-8 without a partial character at the cut. */
async function readExcerpt(body: AsyncIterable<Buffer> & { destroy(error?: Error): void }): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  try {
    for await (const chunk of body) {
      chunks.push(chunk)
      size += chunk.length
      if (size >= EXCERPT_BYTES) break
    }
  } catch {
    // The status is what counts; a body cut short leaves a shorter excerpt.
  } finally {
    body.destroy()
  }
  const bytes = Buffer.concat(chunks).subarray(0, EXCERPT_BYTES)
  return new TextDecoder('utf-8', { fatal: false }).decode(bytes, { stream: true })
}

const FAILURE_TEXT: Record<TransportFailure, string> = {
  connect_timeout: 'could not connect in time',
  first_byte_timeout: 'no response within the timeout',
  idle_timeout: 'the response stalled',
  total_timeout: 'no complete response within the timeout',
  connection_failed: 'could not connect',
  endpoint_not_allowed: 'the endpoint is not allowed',
  client_closed: 'the attempt was stopped',
}

/** A short, secret-free description of a failed request for the attempt log. */
function describe(error: unknown, timeoutMs: number): string {
  if (!(error instanceof UpstreamTransportError)) return 'the request failed'
  const cause = error.cause as { code?: string; cause?: { code?: string } } | undefined
  const code = cause?.code ?? cause?.cause?.code
  switch (error.failure) {
    case 'endpoint_not_allowed':
      return error.message
    case 'first_byte_timeout':
    case 'total_timeout':
    case 'idle_timeout':
      return `timeout: ${FAILURE_TEXT[error.failure]} (${timeoutMs} ms)`
    default:
      return `${FAILURE_TEXT[error.failure]}${code && code !== 'LLMBASE_PRIVATE_ADDRESS' ? ` (${code})` : ''}`
  }
}
