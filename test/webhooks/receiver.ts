import { createHmac, timingSafeEqual } from 'node:crypto'
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Webhook } from 'standardwebhooks'

/**
 * A webhook receiver for tests, on 127.0.0.1. It checks every request's signature twice: with
 * the few lines of node:crypto that docs/webhooks.md shows, and with the Standard Webhooks
 * library, so that a receiver using either accepts what llmbase sends.
 */
export interface Received {
  path: string
  headers: IncomingHttpHeaders
  body: string
  at: number
  /** Verified by the node:crypto check below. */
  verified: boolean
  /** Verified by `standardwebhooks`. */
  libraryVerified: boolean
}

export interface Answer {
  status: number
  headers?: Record<string, string>
  body?: string
}

export interface Receiver {
  url: string
  port: number
  received: Received[]
  /** The secret to verify with, per path (set after the endpoint is created). */
  secrets: Map<string, string>
  /** How to answer a request to a path; 200 `ok` when not set. */
  answer: (path: string) => Answer | Promise<Answer>
  on(path: string, answer: Answer | ((path: string) => Answer | Promise<Answer>)): void
  deliveredTo(path: string): Received[]
  close(): Promise<void>
}

const TOLERANCE_SECONDS = 5 * 60

/** The receiver-side check: HMAC-SHA256 over `id.timestamp.body`, constant-time compare, 5 min tolerance. */
export function verifySignature(secret: string, headers: IncomingHttpHeaders, body: string, nowSeconds = Math.floor(Date.now() / 1000)): boolean {
  const id = headers['webhook-id']
  const timestamp = headers['webhook-timestamp']
  const signatures = headers['webhook-signature']
  if (typeof id !== 'string' || typeof timestamp !== 'string' || typeof signatures !== 'string') return false
  if (!/^\d+$/.test(timestamp) || Math.abs(nowSeconds - Number(timestamp)) > TOLERANCE_SECONDS) return false
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64')
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest()
  return signatures.split(' ').some((entry) => {
    const [version, value] = entry.split(',')
    if (version !== 'v1' || !value) return false
    const given = Buffer.from(value, 'base64')
    return given.length === expected.length && timingSafeEqual(given, expected)
  })
}

function libraryVerifies(secret: string, headers: IncomingHttpHeaders, body: string): boolean {
  try {
    new Webhook(secret).verify(body, headers as Record<string, string>)
    return true
  } catch {
    return false
  }
}

export async function startReceiver(): Promise<Receiver> {
  const received: Received[] = []
  const secrets = new Map<string, string>()
  const answers = new Map<string, Answer | ((path: string) => Answer | Promise<Answer>)>()
  const receiver = {} as Receiver
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', async () => {
      const body = Buffer.concat(chunks).toString('utf8')
      const path = request.url ?? '/'
      const secret = secrets.get(path)
      received.push({
        path,
        headers: request.headers,
        body,
        at: Date.now(),
        verified: secret !== undefined && verifySignature(secret, request.headers, body),
        libraryVerified: secret !== undefined && libraryVerifies(secret, request.headers, body),
      })
      const answer = await receiver.answer(path)
      response.writeHead(answer.status, { 'content-type': 'text/plain', ...answer.headers })
      response.end(answer.body ?? (answer.status < 300 ? 'ok' : `status ${answer.status}`))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  Object.assign(receiver, {
    url: `http://127.0.0.1:${port}`,
    port,
    received,
    secrets,
    answer: (path: string) => {
      const answer = answers.get(path) ?? { status: 200 }
      return typeof answer === 'function' ? answer(path) : answer
    },
    on: (path: string, answer: Answer | ((path: string) => Answer | Promise<Answer>)) => answers.set(path, answer),
    deliveredTo: (path: string) => received.filter((r) => r.path === path),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  })
  return receiver
}
