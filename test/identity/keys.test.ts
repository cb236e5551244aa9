import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { after, before, describe, it } from 'node:test'
import { DATABASES } from '../helpers/databases.js'
import { createUser, startTestServer, type TestServer } from '../helpers/server.js'

for (const kind of DATABASES) {
  describe(`API keys on the ${kind} database`, () => {
    let server: TestServer
    let alice: { handle: string; key: string; keyId: string }
    let bob: { handle: string; key: string; keyId: string }

    before(async () => {
      server = await startTestServer(kind)
      alice = await createUser(server, 'alice')
      bob = await createUser(server, 'bob')
    })
    after(() => server?.close())

    it('creates extra keys with a label and an expiry; each works on its own', async () => {
      const expiresAt = new Date(Date.now() + 3600_000).toISOString()
      const created = await server.request('POST', '/v1/users/alice/keys', { key: alice.key, body: { label: 'ci', expires_at: expiresAt } })
      assert.equal(created.status, 201)
      assert.equal(created.body.label, 'ci')
      assert.equal(created.body.expires_at, expiresAt)
      assert.equal(created.body.prefix, created.body.key.slice(0, 12))
      assert.notEqual(created.body.key, alice.key)
      const bare = await server.request('POST', '/v1/users/alice/keys', { key: alice.key })
      assert.equal(bare.status, 201, 'no body at all means defaults')
      assert.equal(bare.body.label, null)
      for (const key of [alice.key, created.body.key, bare.body.key]) {
        assert.equal((await server.request('GET', '/v1/users/alice', { key })).status, 200)
      }
    })

    it('lists keys without the keys themselves, newest first, with last use recorded', async () => {
      await server.request('GET', '/v1/users/alice', { key: alice.key })
      const list = await server.request('GET', '/v1/users/alice/keys', { key: alice.key })
      assert.equal(list.status, 200)
      assert.ok(list.body.keys.length >= 3)
      for (const key of list.body.keys) {
        assert.deepEqual(Object.keys(key).sort(), ['created_at', 'expires_at', 'key_id', 'label', 'last_used_at', 'prefix', 'revoked_at', 'status'])
        assert.equal(key.status, 'active')
      }
      assert.ok(!list.text.includes(alice.key.slice(12)))
      const initial = list.body.keys.find((k: { key_id: string }) => k.key_id === alice.keyId)
      assert.ok(initial.last_used_at, 'the key used for this request has a last-use time')
      assert.ok(Date.now() - Date.parse(initial.last_used_at) < 60_000)
      const times = list.body.keys.map((k: { created_at: string }) => k.created_at)
      assert.deepEqual(times, [...times].sort().reverse())
    })

    it('revokes a key: it stops working within a second, the others keep working', async () => {
      const extra = await server.request('POST', '/v1/users/bob/keys', { key: bob.key, body: { label: 'to revoke' } })
      const key = extra.body.key as string
      assert.equal((await server.request('GET', '/v1/users/bob', { key })).status, 200)
      const revoked = await server.request('DELETE', `/v1/users/bob/keys/${extra.body.key_id}`, { key: bob.key })
      assert.equal(revoked.status, 204)
      await sleep(1_100)
      assert.equal((await server.request('GET', '/v1/users/bob', { key })).status, 401)
      assert.equal((await server.request('GET', '/v1/users/bob', { key: bob.key })).status, 200)
      const list = await server.request('GET', '/v1/users/bob/keys', { key: bob.key })
      const entry = list.body.keys.find((k: { key_id: string }) => k.key_id === extra.body.key_id)
      assert.equal(entry.status, 'revoked')
      assert.ok(entry.revoked_at)
      assert.equal((await server.request('DELETE', `/v1/users/bob/keys/${extra.body.key_id}`, { key: bob.key })).status, 204, 'revoking twice is fine')
    })

    it('refuses an expired key with 401', async () => {
      const soon = new Date(Date.now() + 1_500).toISOString()
      const created = await server.request('POST', '/v1/users/bob/keys', { key: bob.key, body: { expires_at: soon } })
      assert.equal(created.status, 201)
      assert.equal((await server.request('GET', '/v1/users/bob', { key: created.body.key })).status, 200)
      await sleep(1_700)
      assert.equal((await server.request('GET', '/v1/users/bob', { key: created.body.key })).status, 401)
      const list = await server.request('GET', '/v1/users/bob/keys', { key: bob.key })
      assert.equal(list.body.keys.find((k: { key_id: string }) => k.key_id === created.body.key_id).status, 'expired')
    })

    it('rejects an expiry in the past and bad fields, creating nothing', async () => {
      const count = async () => Number((await server.running.database.pool.query('select count(*) from api_keys')).rows[0].count)
      const before = await count()
      const past = await server.request('POST', '/v1/users/bob/keys', { key: bob.key, body: { expires_at: '2001-01-01T00:00:00Z' } })
      assert.equal(past.status, 422)
      assert.deepEqual(past.body.errors, [{ message: 'must be in the future', location: 'body.expires_at', value: '2001-01-01T00:00:00Z' }])
      const notDate = await server.request('POST', '/v1/users/bob/keys', { key: bob.key, body: { expires_at: 'tomorrow' } })
      assert.equal(notDate.status, 422)
      const unknown = await server.request('POST', '/v1/users/bob/keys', { key: bob.key, body: { scope: 'all' } })
      assert.equal(unknown.status, 422)
      assert.equal(await count(), before)
    })

    it("hides other users' keys (404) and lets the admin manage them", async () => {
      assert.equal((await server.request('GET', '/v1/users/bob/keys', { key: alice.key })).status, 404)
      assert.equal((await server.request('POST', '/v1/users/bob/keys', { key: alice.key })).status, 404)
      assert.equal((await server.request('DELETE', `/v1/users/bob/keys/${bob.keyId}`, { key: alice.key })).status, 404)
      assert.equal((await server.request('DELETE', `/v1/users/alice/keys/${bob.keyId}`, { key: alice.key })).status, 404, "a key of another user is not alice's")
      const byAdmin = await server.request('POST', '/v1/users/bob/keys', { body: { label: 'from admin' } })
      assert.equal(byAdmin.status, 201)
      assert.equal((await server.request('GET', '/v1/users/bob', { key: byAdmin.body.key })).status, 200)
      assert.equal((await server.request('GET', '/v1/users/bob/keys')).status, 200)
      const badId = await server.request('DELETE', '/v1/users/bob/keys/not-a-uuid')
      assert.equal(badId.status, 422)
      assert.equal(badId.body.errors[0].location, 'path.key_id')
    })

    it('never issues keys for _system', async () => {
      const response = await server.request('POST', '/v1/users/_system/keys')
      assert.equal(response.status, 403)
    })

    it('accepts the key without the "Bearer " prefix, as the reference API does', async () => {
      const response = await server.request('GET', '/v1/users/alice', { headers: { authorization: alice.key }, key: null })
      assert.equal(response.status, 200)
    })

    it('refuses malformed Authorization headers with 401', async () => {
      for (const header of ['Bearer', 'Bearer ', 'Basic abc', `Bearer ${alice.key}x`, `Bearer ${server.adminKey.slice(0, -1)}`]) {
        const response = await server.request('GET', '/v1/users/alice', { headers: { authorization: header }, key: null })
        assert.equal(response.status, 401, header)
      }
    })
  })
}
