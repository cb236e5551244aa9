import type { TestResponse, TestServer } from './server.js'

/** Job settings that make retries quick in tests: 50 ms backoff base, workers poll every 50 ms. */
export const JOBS_TEST_ENV = {
  LLMBASE_JOBS_BACKOFF_BASE_MS: '50',
  LLMBASE_JOBS_POLL_MS: '50',
}

const ENDED = ['succeeded', 'dead', 'cancelled']

/** Submits a job for `user` with `key` (the user's own key, or the admin key). */
export function submitJob(server: Pick<TestServer, 'request'>, user: string, key: string, body: Record<string, unknown>): Promise<TestResponse> {
  return server.request('POST', `/v1/jobs/${user}`, { key, body })
}

/**
 * Polls a job until it has ended (succeeded, dead or cancelled) and returns it; throws with
 * the job's last state when that takes longer than `timeoutMs`.
 */
// biome-ignore lint: jobs of every type are asserted on
export async function waitForJob(server: Pick<TestServer, 'request'>, user: string, key: string, id: string, timeoutMs = 15_000): Promise<any> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const response = await server.request('GET', `/v1/jobs/${user}/${id}`, { key })
    if (response.status !== 200) throw new Error(`GET job ${id}: ${response.status} ${response.text}`)
    if (ENDED.includes(response.body.state)) return response.body
    if (Date.now() > deadline) throw new Error(`job ${id} did not end in time: ${response.text}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}
