import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createUser, startTestServer, type TestServer } from '../helpers/server.js'

describe('request logs', () => {
  let server: TestServer
  before(async () => {
    server = await startTestServer('embedded', { captureLogs: true })
  })
  after(() => server?.close())

  it('write one line per request with id, method, path, status and duration, and never a key', async () => {
    const alice = await createUser(server, 'alice')
    const extra = await server.request('POST', '/v1/users/alice/keys', { key: alice.key })
    await server.request('GET', '/v1/users/alice?limit=5', { key: alice.key, headers: { 'x-request-id': 'log-test-1' } })
    await server.request('GET', '/v1/users/alice', { key: 'llmb_not-a-real-key-but-long-enough-0000' })
    await server.request('POST', '/v1/users', { body: { user_handle: 'x', email: 'x@example.org', api_key: 'sk-secret-in-body-1234567890' } })

    const lines = server.logs().filter((l) => l.msg === 'request')
    const traced = lines.find((l) => l.request_id === 'log-test-1')
    assert.ok(traced, 'the request id is on the line')
    assert.equal(traced.method, 'GET')
    assert.equal(traced.path, '/v1/users/alice')
    assert.equal(traced.route, '/v1/users/:user_handle')
    assert.equal(traced.status, 200)
    assert.equal(traced.caller, 'alice')
    assert.equal(typeof traced.duration_ms, 'number')
    assert.ok(lines.some((l) => l.status === 401))

    const text = server.logText()
    for (const secret of [alice.key, extra.body.key, server.adminKey, 'llmb_not-a-real-key-but-long-enough-0000', 'sk-secret-in-body-1234567890']) {
      assert.ok(!text.includes(secret), 'no key appears in the log')
    }
  })
})
