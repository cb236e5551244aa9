import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { DATABASES } from '../helpers/databases.js'
import { type GatewayFixture, mockEndpoint, putMockInstance, startGateway } from '../helpers/gateway.js'

/**
 * Malformed requests derived from `/openapi.json`, for every operation: broken and odd bodies,
 * each field replaced by values of the wrong type, out-of-range numbers, NUL bytes, unpaired
 * surrogates, deep nesting, missing and extra fields; every path and query parameter replaced
 * by bad encodings and numbers that do not fit. Every answer must be below 500, in our error
 * formats (problem JSON, or OpenAI's / Anthropic's envelope on the gateway's paths), and must
 * never repeat a secret the request carried.
 */

// biome-ignore lint: OpenAPI documents are untyped JSON here.
type Schema = any
interface Operation {
  method: string
  path: string
  parameters: Array<{ in: string; name: string; schema?: Schema }>
  body: Schema | null
}

const SECRET = 'sk-fuzz-SECRET-4b7e1c'
const SECRET_FIELD = /^(api_key|secret|password|token)$/

/** Bodies that are not what any route expects, sent as application/json. */
const RAW_BODIES = [
  '{',
  '',
  'null',
  '[]',
  '"text"',
  '12',
  '{"a":1e400}',
  '{"a":-1e400}',
  '{"__proto__":{"polluted":true}}',
  '{"constructor":{"prototype":{"polluted":true}}}',
  '{"a":"\\u0000"}',
  '{"a":"\\ud800"}',
  `{"a":${'['.repeat(10_000)}${']'.repeat(10_000)}}`,
  `${'{"a":'.repeat(5_000)}1${'}'.repeat(5_000)}`,
  '{"a":1}garbage',
  '\ufeff{"a":1}',
]

const deep = (levels: number) => {
  let value: unknown = 'bottom'
  for (let i = 0; i < levels; i++) value = { a: value }
  return value
}

/** What each field of a sample body is replaced with, one at a time. */
const FIELD_VALUES: unknown[] = [
  null,
  'a\u0000b',
  '\ud800x',
  'x\udfff',
  1e20,
  -1,
  0,
  1.5,
  Number.MAX_SAFE_INTEGER + 2,
  '',
  '…',
  'x'.repeat(20_000),
  [],
  {},
  true,
  deep(100),
  [[[[[[['nested']]]]]]],
]

/** What each path or query parameter is replaced with (already percent-encoded). */
const PARAM_VALUES = [
  '%00',
  'a%00b',
  '%ff%fe',
  '%ED%A0%80',
  '%C0%AE',
  '%F0%9F%98%80',
  'x'.repeat(3_000),
  '..',
  '%2e%2e',
  'a%2Fb',
  'Infinity',
  '-Infinity',
  'NaN',
  '1e400',
  '-1e400',
  '99999999999999999999',
  '-1',
  '0x10',
  '1.5',
  '%20',
]

function resolve(schema: Schema, spec: Schema): Schema {
  if (schema?.$ref) {
    const name = String(schema.$ref).split('/').pop() as string
    return spec.components?.schemas?.[name] ?? {}
  }
  return schema ?? {}
}

/** A body shaped like the schema: enough to reach the fields' own checks. */
/** `full`: every declared property, not only the required ones. */
function sample(schema: Schema, spec: Schema, full = false, depth = 0): unknown {
  const s = resolve(schema, spec)
  if (depth > 6) return null
  if ('const' in s) return s.const
  if (Array.isArray(s.enum)) return s.enum[0]
  if (s.default !== undefined) return s.default
  const union = s.anyOf ?? s.oneOf
  if (Array.isArray(union)) return sample(union.find((option: Schema) => option.type !== 'null') ?? union[0], spec, full, depth + 1)
  const type = Array.isArray(s.type) ? s.type.find((t: string) => t !== 'null') : s.type
  switch (type) {
    case 'object': {
      const out: Record<string, unknown> = {}
      const names = full ? Object.keys(s.properties ?? {}) : (s.required ?? [])
      for (const name of names) out[name] = sample(s.properties?.[name], spec, full, depth + 1)
      return out
    }
    case 'array':
      return (s.minItems ?? 0) > 0 || full ? [sample(s.items, spec, full, depth + 1)] : []
    case 'integer':
    case 'number':
      return s.minimum ?? 1
    case 'boolean':
      return true
    case 'string':
      if (s.format === 'date-time') return new Date().toISOString()
      if (s.format === 'email') return 'fuzz@example.org'
      return 'fuzz1'
    default:
      return 'fuzz1'
  }
}

/** Paths to the leaves of a value, for replacing one field at a time. */
function leaves(value: unknown, prefix: Array<string | number> = []): Array<Array<string | number>> {
  if (value === null || typeof value !== 'object') return prefix.length ? [prefix] : []
  const entries = Array.isArray(value) ? value.map((v, i) => [i, v] as const) : Object.entries(value)
  const found = entries.flatMap(([key, child]) => leaves(child, [...prefix, key]))
  return found.length || prefix.length === 0 ? found : [prefix]
}

function replaced(value: unknown, path: Array<string | number>, replacement: unknown): unknown {
  if (path.length === 0) return replacement
  const copy = (Array.isArray(value) ? [...value] : { ...(value as object) }) as Record<string | number, unknown>
  const [head, ...rest] = path as [string | number, ...Array<string | number>]
  copy[head] = replaced(copy[head], rest, replacement)
  return copy
}

/** Every secret field of a body set to the marker, so that an echo can be seen. */
function withSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withSecrets)
  if (value === null || typeof value !== 'object') return value
  return Object.fromEntries(Object.entries(value).map(([key, child]) => [key, SECRET_FIELD.test(key) ? SECRET : withSecrets(child)]))
}

function operationsOf(spec: Schema): Operation[] {
  const operations: Operation[] = []
  for (const [path, methods] of Object.entries<Record<string, Schema>>(spec.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const body = op.requestBody?.content?.['application/json']?.schema ?? null
      operations.push({ method: method.toUpperCase(), path, parameters: op.parameters ?? [], body })
    }
  }
  return operations
}

const GATEWAY_PATHS = [/^\/v1\/messages(\/|$)/, /^\/v1\/chat\//, /^\/v1\/embeddings$/, /^\/v1\/models(\/|$)/, /^\/v1\/completions$/]

interface Finding {
  request: string
  status: number
  problem: string
}

/** Why an answer breaks the rules, or null. */
function judge(path: string, status: number, contentType: string, text: string, secrets: string[]): string | null {
  if (status >= 500) return `status ${status}: ${text.slice(0, 200)}`
  for (const secret of secrets) if (text.includes(secret)) return 'echoes a secret'
  if (status < 400) return null
  let body: Record<string, unknown>
  try {
    body = JSON.parse(text)
  } catch {
    return `error body is not JSON: ${text.slice(0, 120)}`
  }
  // As the client sent it: fetch resolves `..` (`/v1/embeddings/alice/..` is `/v1/embeddings`).
  const bare = new URL(path, 'http://x').pathname.replace(/\/+$/, '')
  if (GATEWAY_PATHS.some((pattern) => pattern.test(bare))) {
    const error = body.error as Record<string, unknown> | undefined
    const openAi = typeof error?.message === 'string' && typeof error?.type === 'string'
    const anthropic = body.type === 'error' && typeof error?.message === 'string'
    return openAi || anthropic ? null : `not an OpenAI or Anthropic error envelope: ${text.slice(0, 200)}`
  }
  if (!contentType.startsWith('application/problem+json')) return `content type ${contentType}`
  for (const field of ['title', 'detail', 'code', 'request_id']) {
    if (typeof body[field] !== 'string') return `problem JSON without ${field}: ${text.slice(0, 200)}`
  }
  if (body.status !== status) return `problem status ${body.status} on a ${status}`
  return null
}

for (const kind of DATABASES) {
  describe(`malformed requests to every operation of /openapi.json on the ${kind} database`, () => {
    let fixture: GatewayFixture
    let spec: Schema
    const values: Record<string, string> = {}
    const findings: Finding[] = []
    let sent = 0

    before(async () => {
      fixture = await startGateway(kind, ['alice', 'bob'])
      const { server, keys } = fixture
      await putMockInstance(fixture, 'alice', 'emb', { kind: 'embedding' })
      await putMockInstance(fixture, 'alice', 'chat')
      await server.request('PUT', '/v1/llm-definitions/alice/def1', {
        key: keys.alice,
        body: { definition_handle: 'def1', endpoint: mockEndpoint(fixture.mock, 'openai', 'embeddings'), model: 'm', dimensions: 8, api_standard: 'openai' },
      })
      await server.request('PUT', '/v1/projects/alice/proj', { key: keys.alice, body: { project_handle: 'proj', instance_handle: 'emb' } })
      await server.request('POST', '/v1/embeddings/alice/proj', {
        key: keys.alice,
        body: { embeddings: [{ text_id: 't1', vector: [1, 0, 0, 0, 0, 0, 0, 0], text: 'one', metadata: { a: 1 } }] },
      })
      await server.request('PUT', '/v1/routes/alice/rt', { key: keys.alice, body: { route_handle: 'rt', targets: [{ instance: 'chat' }] } })
      const endpoint = await server.request('POST', '/v1/webhooks/alice', { key: keys.alice, body: { url: `${fixture.mock.url}/hook` } })
      const job = await server.request('POST', '/v1/jobs/alice', {
        key: keys.alice,
        body: { type: 'chat.batch', payload: { model: 'chat', requests: [{ custom_id: 'q1', body: { messages: [{ role: 'user', content: 'hi' }] } }] } },
      })
      const keyList = await server.request('GET', '/v1/users/alice/keys', { key: keys.alice })
      Object.assign(values, {
        user_handle: 'alice',
        project_handle: 'proj',
        instance_handle: 'emb',
        definition_handle: 'def1',
        api_standard_handle: 'openai',
        route_handle: 'rt',
        text_id: 't1',
        unshare_with_handle: 'bob',
        endpoint_id: String(endpoint.body.id),
        job_id: String(job.body.id),
        key_id: String(keyList.body.keys?.[0]?.key_id ?? keyList.body[0]?.key_id ?? 'none'),
        delivery_id: '00000000-0000-4000-8000-000000000000',
        id: '00000000-0000-4000-8000-000000000000',
      })
      spec = (await server.request('GET', '/openapi.json', { key: null })).body
    })
    after(async () => fixture?.close())

    /** Sends one request and records what is wrong with its answer. */
    async function probe(method: string, path: string, options: { body?: string; contentType?: string; key?: string; secrets?: string[] }) {
      const gateway = GATEWAY_PATHS.some((pattern) => pattern.test(new URL(path, 'http://x').pathname.replace(/\/+$/, '')))
      const headers: Record<string, string> = { authorization: `Bearer ${options.key ?? (gateway ? fixture.keys.alice : fixture.server.adminKey)}` }
      if (options.body !== undefined) headers['content-type'] = options.contentType ?? 'application/json'
      const response = await fetch(fixture.server.url + path, { method, headers, body: options.body })
      const text = await response.text()
      sent++
      const problem = judge(path, response.status, response.headers.get('content-type') ?? '', text, options.secrets ?? [])
      if (problem) findings.push({ request: `${method} ${path.slice(0, 160)}${options.body ? ` ${options.body.slice(0, 160)}` : ''}`, status: response.status, problem })
    }

    const pathFor = (op: Operation, override: Record<string, string> = {}) =>
      op.path.replace(/\{(\w+)\}/g, (_m, name: string) => override[name] ?? encodeURIComponent(values[name] ?? 'fuzz1'))

    it('answers every malformed body below 500, in our formats, without echoing a secret', async (t) => {
      for (const op of operationsOf(spec)) {
        if (op.body === null || op.method === 'DELETE') continue
        const path = pathFor(op)
        for (const raw of RAW_BODIES) await probe(op.method, path, { body: raw })
        await probe(op.method, path, { body: JSON.stringify({ api_key: SECRET, secret: SECRET }), contentType: 'text/plain', secrets: [SECRET] })
        await probe(op.method, path, { body: 'api_key=sk-fuzz-SECRET-4b7e1c', contentType: 'application/x-www-form-urlencoded', secrets: [SECRET] })
        const base = withSecrets(sample(op.body, spec))
        await probe(op.method, path, { body: JSON.stringify({ ...(base as object), unexpected_field: 1 }), secrets: [SECRET] })
        for (const name of resolve(op.body, spec).required ?? []) {
          const { [name]: _dropped, ...rest } = base as Record<string, unknown>
          await probe(op.method, path, { body: JSON.stringify(rest), secrets: [SECRET] })
        }
        const full = withSecrets(sample(op.body, spec, true))
        for (const start of [base, full]) {
          for (const leaf of leaves(start).slice(0, 16)) {
            for (const value of FIELD_VALUES) {
              const secret = SECRET_FIELD.test(String(leaf[leaf.length - 1]))
              const body = JSON.stringify(replaced(start, leaf, secret && typeof value === 'string' ? `${SECRET}${value}` : value))
              await probe(op.method, path, { body, secrets: [SECRET] })
            }
          }
        }
      }
      t.diagnostic(`${sent} requests`)
      assert.deepEqual(findings.slice(0, 20), [], `${findings.length} of ${sent} answers broke the rules`)
    })

    it('answers every malformed path and query parameter below 500, in our formats', async (t) => {
      findings.length = 0
      sent = 0
      for (const op of operationsOf(spec)) {
        const body = op.body === null ? undefined : JSON.stringify(withSecrets(sample(op.body, spec)))
        for (const param of op.parameters.filter((p) => p.in === 'path')) {
          for (const value of PARAM_VALUES) await probe(op.method, pathFor(op, { [param.name]: value }), { body, secrets: [SECRET] })
        }
        // A DELETE with good path parameters would delete: only its path is varied.
        if (op.method === 'DELETE') continue
        for (const param of op.parameters.filter((p) => p.in === 'query')) {
          for (const value of [...PARAM_VALUES, '']) await probe(op.method, `${pathFor(op)}?${param.name}=${value}`, { body, secrets: [SECRET] })
          await probe(op.method, `${pathFor(op)}?${param.name}=1&${param.name}=2`, { body, secrets: [SECRET] })
        }
      }
      t.diagnostic(`${sent} requests`)
      assert.deepEqual(findings.slice(0, 20), [], `${findings.length} of ${sent} answers broke the rules`)
    })

    it('answers requests the HTTP parser refuses in our formats', async () => {
      const raw = (request: string) =>
        new Promise<string>((resolve, reject) => {
          const { port } = new URL(fixture.server.url)
          const socket = connect(Number(port), '127.0.0.1', () => socket.end(Buffer.from(request, 'latin1')))
          let answer = ''
          socket.on('data', (chunk) => (answer += chunk.toString('latin1')))
          socket.on('end', () => resolve(answer))
          socket.on('error', reject)
        })
      const cases = [
        { request: 'GET /v1/users/alice HTTP/1.1\r\nHost: x\r\nX-Bad: a\x01b\r\n\r\n', envelope: 'problem' },
        { request: 'GET /v1/users/\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n', envelope: 'problem' },
        { request: 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Bad: a\x00b\r\n\r\n', envelope: 'openai' },
        { request: 'NOT HTTP AT ALL\r\n\r\n', envelope: 'problem' },
      ]
      for (const { request, envelope } of cases) {
        const answer = await raw(request)
        const [head, body = ''] = answer.split('\r\n\r\n')
        assert.match(head ?? '', /^HTTP\/1\.1 400 /, JSON.stringify(request))
        const parsed = JSON.parse(body)
        if (envelope === 'openai') assert.equal(typeof parsed.error.message, 'string')
        else assert.deepEqual([parsed.status, parsed.code, typeof parsed.request_id], [400, 'bad_request', 'string'])
      }
    })
  })
}
