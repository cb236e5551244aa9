import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { compilePendingSerializers } from '../../src/http/serialization.js'
import { compilePendingValidators } from '../../src/http/validation.js'
import { startTestServer, type TestServer } from '../helpers/server.js'

/**
 * Request validators and response serializers compile on first use (a faster start), so a
 * schema that Ajv or fast-json-stringify refuses would otherwise show only when its request or
 * answer first comes. This compiles every one of a started server's.
 */
describe("every route's request and response schemas", () => {
  let server: TestServer
  before(async () => {
    server = await startTestServer('embedded')
  })
  after(async () => server?.close())

  it('compile, and the server still answers as before after they have', async () => {
    const validators = compilePendingValidators()
    const serializers = compilePendingSerializers()
    assert.ok(validators >= 100, `${validators} validators`)
    assert.ok(serializers >= 100, `${serializers} serializers`)
    assert.equal(compilePendingValidators(), 0, 'each compiles once')
    const created = await server.request('PUT', '/v1/users/alice', { body: { email: 'alice@example.org' } })
    assert.equal(created.status, 201)
    const invalid = await server.request('PUT', '/v1/users/bob', { body: { email: 'nope' } })
    assert.equal(invalid.status, 422)
    assert.equal(invalid.body.errors[0].location, 'body.email')
  })
})
