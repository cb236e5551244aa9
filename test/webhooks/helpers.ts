import assert from 'node:assert/strict'
import { eventually } from '../helpers/gateway.js'
import type { Requester } from '../helpers/server.js'

/** What the webhook suites share: submitting a job that ends, and reading deliveries back. */

/** A chat.batch job of one request on the user's mock instance `chat`; it succeeds. */
export async function submitChatJob(request: Requester, user: string, key: string, extra: Record<string, unknown> = {}): Promise<string> {
  const response = await request('POST', `/v1/jobs/${user}`, {
    key,
    body: { type: 'chat.batch', payload: { model: 'chat', requests: [{ custom_id: 'a', body: { messages: [{ role: 'user', content: 'hi' }] } }] }, ...extra },
  })
  assert.equal(response.status, 201, response.text)
  return response.body.id as string
}

export async function waitForJob(request: Requester, user: string, key: string, id: string, state = 'succeeded', timeoutMs = 15_000) {
  return eventually(async () => {
    const job = await request('GET', `/v1/jobs/${user}/${id}`, { key })
    return job.body.state === state ? job.body : undefined
  }, timeoutMs)
}

// biome-ignore lint: test helper
export async function listDeliveries(request: Requester, user: string, key: string, endpointId: string, query = ''): Promise<any[]> {
  const response = await request('GET', `/v1/webhooks/${user}/${endpointId}/deliveries${query}`, { key })
  assert.equal(response.status, 200, response.text)
  return response.body
}

/** Waits until the endpoint has `count` deliveries, all in `state`, and returns them. */
export async function waitForDeliveries(request: Requester, user: string, key: string, endpointId: string, state: string, count = 1, timeoutMs = 15_000) {
  return eventually(async () => {
    const deliveries = await listDeliveries(request, user, key, endpointId)
    return deliveries.length === count && deliveries.every((d) => d.state === state) ? deliveries : undefined
  }, timeoutMs)
}

export async function createEndpoint(request: Requester, user: string, key: string, body: Record<string, unknown>) {
  const response = await request('POST', `/v1/webhooks/${user}`, { key, body })
  assert.equal(response.status, 201, response.text)
  return response.body as { id: string; secret: string; url: string }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
