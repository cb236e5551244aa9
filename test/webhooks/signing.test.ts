import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Webhook } from 'standardwebhooks'
import { generateSecret, sign, signedHeaders } from '../../src/webhooks/signing.js'
import { verifySignature } from './receiver.js'

describe('webhook signatures', () => {
  it('match what the Standard Webhooks library computes, for any body', () => {
    for (const body of ['{}', '{"type":"job.succeeded","data":{"text":"ünïcödé ✓"}}', 'x'.repeat(10_000)]) {
      const secret = generateSecret()
      const id = crypto.randomUUID()
      const timestamp = Math.floor(Date.now() / 1000)
      assert.equal(sign(secret, id, timestamp, body), new Webhook(secret).sign(id, new Date(timestamp * 1000), body))
    }
  })

  it('verify on the receiver side, and fail for another secret, body, id or an old timestamp', () => {
    const secret = generateSecret()
    const now = Math.floor(Date.now() / 1000)
    const headers = signedHeaders(secret, 'msg_1', now, '{"a":1}')
    assert.equal(verifySignature(secret, headers, '{"a":1}'), true)
    assert.doesNotThrow(() => new Webhook(secret).verify('{"a":1}', headers))
    assert.equal(verifySignature(generateSecret(), headers, '{"a":1}'), false)
    assert.equal(verifySignature(secret, headers, '{"a":2}'), false)
    assert.equal(verifySignature(secret, { ...headers, 'webhook-id': 'msg_2' }, '{"a":1}'), false)
    const old = signedHeaders(secret, 'msg_1', now - 301, '{"a":1}')
    assert.equal(verifySignature(secret, old, '{"a":1}'), false)
    assert.throws(() => new Webhook(secret).verify('{"a":1}', old))
  })

  it('use a fresh 32-byte secret each time', () => {
    const secrets = new Set(Array.from({ length: 50 }, generateSecret))
    assert.equal(secrets.size, 50)
    for (const secret of secrets) assert.equal(Buffer.from(secret.slice('whsec_'.length), 'base64').length, 32)
  })
})
