import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import { ERROR_CATALOGUE } from '../../src/http/errors.js'
import { DATABASES } from '../helpers/databases.js'
import { startTestServer, type TestServer } from '../helpers/server.js'

for (const kind of DATABASES) describe(`errors and the HTTP envelope on the ${kind} database`, () => {
  let server: TestServer

  before(async () => {
    server = await startTestServer(kind, { env: { BODY_LIMIT: '64KiB', CORS_ORIGINS: 'https://app.example.org' } })
  })
  after(() => server?.close())

  const expectProblem = (response: { status: number; headers: Headers; body: Record<string, unknown> }, status: number, code: string) => {
    assert.equal(response.status, status, JSON.stringify(response.body))
    assert.equal(response.headers.get('content-type'), 'application/problem+json; charset=utf-8')
    assert.equal(response.body.status, status)
    assert.equal(response.body.code, code)
    assert.equal(typeof response.body.title, 'string')
    assert.equal(typeof response.body.detail, 'string')
    assert.equal(response.body.request_id, response.headers.get('x-request-id'))
  }

  it('answers unknown routes with 404 problem JSON, with or without a key', async () => {
    expectProblem(await server.request('GET', '/v1/nothing-here'), 404, 'route_not_found')
    expectProblem(await server.request('GET', '/v1/nothing-here', { key: null }), 404, 'route_not_found')
    expectProblem(await server.request('POST', '/', { key: null }), 404, 'route_not_found')
  })

  it('answers malformed JSON with 400 and a body-less write with 400 "request body is required"', async () => {
    const malformed = await server.request('POST', '/v1/users', { raw: '{"user_handle": "x",', headers: { 'content-type': 'application/json' } })
    expectProblem(malformed, 400, 'invalid_json')
    const empty = await server.request('POST', '/v1/users', { raw: '', headers: { 'content-type': 'application/json' } })
    expectProblem(empty, 400, 'body_required')
    const none = await server.request('POST', '/v1/users')
    expectProblem(none, 400, 'body_required')
    assert.equal(none.body.detail, 'request body is required')
  })

  it('refuses prototype pollution in a JSON body', async () => {
    const response = await server.request('POST', '/v1/users', {
      raw: '{"user_handle":"proto","email":"p@example.org","__proto__":{"role":"admin"}}',
      headers: { 'content-type': 'application/json' },
    })
    expectProblem(response, 400, 'invalid_json')
  })

  it('answers a body over the configured limit with 413', async () => {
    const response = await server.request('POST', '/v1/users', { body: { user_handle: 'big', email: 'b@example.org', name: 'x'.repeat(70_000) } })
    expectProblem(response, 413, 'body_too_large')
    assert.match(response.body.detail, /limit 65536 bytes/)
  })

  it('answers an unsupported content type with 415', async () => {
    expectProblem(await server.request('POST', '/v1/users', { raw: 'user_handle=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 415, 'unsupported_media_type')
  })

  it('honours a plain incoming request id and replaces an unsafe one', async () => {
    const kept = await server.request('GET', '/healthz', { headers: { 'x-request-id': 'trace-42.abc' } })
    assert.equal(kept.headers.get('x-request-id'), 'trace-42.abc')
    const replaced = await server.request('GET', '/v1/nope', { headers: { 'x-request-id': 'bad id with spaces' } })
    assert.match(replaced.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/)
    assert.equal(replaced.body.request_id, replaced.headers.get('x-request-id'))
  })

  it('sends CORS headers only to configured origins', async () => {
    const preflight = await server.request('OPTIONS', '/v1/users', {
      key: null,
      headers: { origin: 'https://app.example.org', 'access-control-request-method': 'PUT', 'access-control-request-headers': 'authorization,content-type' },
    })
    assert.equal(preflight.status, 204)
    assert.equal(preflight.headers.get('access-control-allow-origin'), 'https://app.example.org')
    assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /Authorization/)
    const stranger = await server.request('GET', '/healthz', { headers: { origin: 'https://evil.example.com' } })
    assert.equal(stranger.headers.get('access-control-allow-origin'), null)
  })
})

describe('the error catalogue', () => {
  it('lists every error code in docs/errors.md, and documents no code that does not exist', () => {
    const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8')
    const documented = new Map([...doc.matchAll(/^\| `([a-z_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1] as string, Number(m[2])]))
    for (const [code, { status }] of Object.entries(ERROR_CATALOGUE)) {
      assert.equal(documented.get(code), status, `docs/errors.md must list ${code} with status ${status}`)
    }
    for (const code of documented.keys()) {
      assert.ok(code in ERROR_CATALOGUE, `docs/errors.md lists ${code}, which the code does not have`)
    }
  })
})

describe('CORS by default', () => {
  let server: TestServer
  before(async () => {
    server = await startTestServer('embedded')
  })
  after(() => server?.close())

  it('sends no CORS headers when CORS_ORIGINS is not set', async () => {
    const response = await server.request('GET', '/healthz', { headers: { origin: 'https://app.example.org' } })
    assert.equal(response.headers.get('access-control-allow-origin'), null)
  })
})
