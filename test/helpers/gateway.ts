import type { DatabaseKind } from './databases.js'
import { createUser, startTestServer, type TestServer } from './server.js'
import { type MockProvider, startMockProvider } from '../../src/mock-provider/index.js'

/** Settings that make gateway tests quick: private endpoints allowed (the mock), short waits, fast log writes. */
export const GATEWAY_TEST_ENV = {
  LLMBASE_ALLOW_PRIVATE_ENDPOINTS: 'true',
  LLMBASE_GATEWAY_LOG_FLUSH_MS: '50',
  LLMBASE_GATEWAY_COOLDOWN_MS: '200',
  LLMBASE_GATEWAY_MAX_RETRY_WAIT_MS: '3000',
}

export interface GatewayFixture {
  server: TestServer
  mock: MockProvider
  keys: Record<string, string>
  keyIds: Record<string, string>
  close(): Promise<void>
}

/** A server on `kind` with the mock provider running and the given users created. */
export async function startGateway(kind: DatabaseKind, users: string[], env: Record<string, string> = {}): Promise<GatewayFixture> {
  const mock = await startMockProvider()
  const server = await startTestServer(kind, { env: { ...GATEWAY_TEST_ENV, ...env } })
  const keys: Record<string, string> = {}
  const keyIds: Record<string, string> = {}
  for (const handle of users) {
    const user = await createUser(server, handle)
    keys[handle] = user.key
    keyIds[handle] = user.keyId
  }
  return {
    server,
    mock,
    keys,
    keyIds,
    async close() {
      await server.close()
      await mock.close()
    },
  }
}

/** The mock's endpoint for a format and operation, under an optional tag. */
export function mockEndpoint(mock: MockProvider, format: 'openai' | 'anthropic' | 'cohere' | 'gemini', operation: 'chat' | 'embeddings' = 'chat', tag?: string) {
  const prefix = `${mock.url}${tag ? `/x/${tag}` : ''}`
  const paths = {
    openai: { chat: '/openai/v1/chat/completions', embeddings: '/openai/v1/embeddings' },
    anthropic: { chat: '/anthropic/v1/messages', embeddings: '/anthropic/v1/messages' },
    cohere: { chat: '/cohere/v2/chat', embeddings: '/cohere/v2/embed' },
    gemini: { chat: '/gemini/v1beta/models/gemini-test:generateContent', embeddings: '/gemini/v1beta/models/gemini-embed:batchEmbedContents' },
  }
  return prefix + paths[format][operation]
}

/** Creates a chat (or embedding) instance on the mock. */
export async function putMockInstance(
  fixture: GatewayFixture,
  owner: string,
  handle: string,
  options: { format?: 'openai' | 'anthropic' | 'cohere' | 'gemini'; kind?: 'chat' | 'embedding'; tag?: string; extra?: Record<string, unknown> } = {},
) {
  const format = options.format ?? 'openai'
  const kind = options.kind ?? 'chat'
  const response = await fixture.server.request('PUT', `/v1/llm-instances/${owner}/${handle}`, {
    key: fixture.keys[owner],
    body: {
      instance_handle: handle,
      kind,
      api_standard: format,
      endpoint: mockEndpoint(fixture.mock, format, kind === 'chat' ? 'chat' : 'embeddings', options.tag),
      model: kind === 'chat' ? `${format}-chat-model` : `${format}-embed-model`,
      ...(kind === 'embedding' ? { dimensions: 8 } : {}),
      api_key: `sk-${owner}-${handle}-secret`,
      ...options.extra,
    },
  })
  if (response.status !== 201) throw new Error(`instance ${owner}/${handle}: ${response.status} ${response.text}`)
  return response.body
}

/** Polls until `check` returns a value (not undefined), for results written in the background. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

/** Reads a server-sent-events response into its events. */
export async function readSse(response: Response): Promise<Array<{ event?: string; data: string }>> {
  const text = await response.text()
  return text
    .split(/\r?\n\r?\n/)
    .filter((block) => block.trim().length > 0 && !block.startsWith(':'))
    .map((block) => {
      const event = /^event: ?(.*)$/m.exec(block)?.[1]
      const data = block
        .split(/\r?\n/)
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.replace(/^data: ?/, ''))
        .join('\n')
      return event === undefined ? { data } : { event, data }
    })
}

/** A response body as JSON; tests assert on bodies of many shapes. */
// biome-ignore lint: test helper
export const json = async (response: Response): Promise<any> => response.json()
