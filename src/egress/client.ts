import { lookup as dnsLookup, type LookupAddress } from 'node:dns'
import { Agent, errors as undiciErrors, request } from 'undici'
import { type EgressPolicy, endpointProblem, isPrivateAddress } from './policy.js'

/**
 * The HTTP client for URLs that users give (providers' endpoints, webhook receivers), with the
 * private-address guard at connect time (`guardedLookup`); the gateway and the webhooks both
 * use it. On undici: one keep-alive pool per origin, and the four timeouts providers need kept
 * apart (connect, first byte, idle body, total), which `fetch` cannot express.
 */

/** The timeouts of one client (the gateway's come from its settings, the webhooks' from theirs). */
export interface ClientTimeouts {
  connectTimeoutMs: number
  firstByteTimeoutMs: number
  idleTimeoutMs: number
}

/** How an attempt failed before or while reading the provider's answer. */
export type TransportFailure =
  | 'connect_timeout'
  | 'first_byte_timeout'
  | 'idle_timeout'
  | 'total_timeout'
  | 'connection_failed'
  | 'endpoint_not_allowed'
  | 'client_closed'

export class UpstreamTransportError extends Error {
  constructor(
    readonly failure: TransportFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
    this.name = 'UpstreamTransportError'
  }
}

export interface UpstreamResponse {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: AsyncIterable<Buffer> & { text(): Promise<string>; json(): Promise<unknown>; destroy(error?: Error): void }
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void

/**
 * Resolves a host name and refuses it when every answer the policy forbids is private:
 * a public-looking name that resolves to 10.x or 169.254.169.254 is caught here, at
 * connection time, where the check at registration could not see it.
 */
function guardedLookup(policy: EgressPolicy) {
  return (hostname: string, options: object, callback: LookupCallback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, [])
      const list = addresses as LookupAddress[]
      const allowed = policy.allowAllPrivate || policy.allowedHosts.has(hostname.toLowerCase().replace(/\.+$/, ''))
        ? list
        : list.filter((entry) => !isPrivateAddress(entry.address) || policy.allowedRanges.check(entry.address, entry.family === 6 ? 'ipv6' : 'ipv4'))
      if (allowed.length === 0) {
        const refused = Object.assign(new Error(`${hostname} resolves to a private address; allow it with LLMBASE_PRIVATE_HOSTS`), { code: 'LLMBASE_PRIVATE_ADDRESS' })
        return callback(refused, [])
      }
      const wantsAll = (options as { all?: boolean }).all
      if (wantsAll) return callback(null, allowed)
      const first = allowed[0] as LookupAddress
      callback(null, first.address, first.family)
    })
  }
}

export class UpstreamClient {
  private readonly agent: Agent
  /** Endpoint checks are pure functions of the URL and the policy: remembered per URL. */
  private readonly checkedEndpoints = new Map<string, string | null>()

  constructor(
    settings: ClientTimeouts,
    private readonly egress: EgressPolicy,
  ) {
    this.agent = new Agent({
      connect: { timeout: settings.connectTimeoutMs, lookup: guardedLookup(egress) as never },
      headersTimeout: settings.firstByteTimeoutMs,
      bodyTimeout: settings.idleTimeoutMs,
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 120_000,
      connections: 512,
    })
  }

  /** Why the URL may not be called now (the policy may have changed since it was stored). */
  private endpointProblem(url: string): string | null {
    let problem = this.checkedEndpoints.get(url)
    if (problem === undefined) {
      problem = endpointProblem(url, this.egress)
      if (this.checkedEndpoints.size > 10_000) this.checkedEndpoints.clear()
      this.checkedEndpoints.set(url, problem)
    }
    return problem
  }

  /**
   * Sends one request. `signal` aborts it (client gone, total timeout). Resolves once the
   * response headers are in; the body is read by the caller, under the idle timeout.
   */
  async send(url: string, headers: Record<string, string>, body: string, signal: AbortSignal): Promise<UpstreamResponse> {
    const problem = this.endpointProblem(url)
    if (problem) throw new UpstreamTransportError('endpoint_not_allowed', `endpoint ${problem}`)
    try {
      const response = await request(url, { method: 'POST', headers, body, signal, dispatcher: this.agent })
      return { status: response.statusCode, headers: response.headers, body: response.body }
    } catch (error) {
      throw classify(error, signal)
    }
  }

  async close(): Promise<void> {
    await this.agent.close().catch(() => this.agent.destroy())
  }
}

/** Maps undici's and the network's errors onto the gateway's few failure kinds. */
export function classify(error: unknown, signal?: AbortSignal): UpstreamTransportError {
  if (error instanceof UpstreamTransportError) return error
  if (signal?.aborted) {
    const reason = signal.reason as { name?: string } | undefined
    return reason?.name === 'TimeoutError'
      ? new UpstreamTransportError('total_timeout', 'the provider did not finish within the total timeout', { cause: error })
      : new UpstreamTransportError('client_closed', 'the client closed the connection', { cause: error })
  }
  if (error instanceof undiciErrors.ConnectTimeoutError) {
    return new UpstreamTransportError('connect_timeout', 'could not connect to the provider in time', { cause: error })
  }
  if (error instanceof undiciErrors.HeadersTimeoutError) {
    return new UpstreamTransportError('first_byte_timeout', 'the provider did not start answering in time', { cause: error })
  }
  if (error instanceof undiciErrors.BodyTimeoutError) {
    return new UpstreamTransportError('idle_timeout', 'the provider stopped sending in the middle of its answer', { cause: error })
  }
  const code = (error as { code?: string; cause?: { code?: string } }).code ?? (error as { cause?: { code?: string } }).cause?.code
  if (code === 'LLMBASE_PRIVATE_ADDRESS') {
    return new UpstreamTransportError('endpoint_not_allowed', (error as Error).message, { cause: error })
  }
  return new UpstreamTransportError('connection_failed', `could not reach the provider${code ? ` (${code})` : ''}`, { cause: error })
}
