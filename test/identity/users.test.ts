import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { DATABASES } from '../helpers/databases.js'
import { createUser, startTestServer, type TestServer } from '../helpers/server.js'

for (const kind of DATABASES) {
  describe(`users on the ${kind} database`, () => {
    let server: TestServer
    let alice: { handle: string; key: string }
    let bob: { handle: string; key: string }

    before(async () => {
      server = await startTestServer(kind)
      alice = await createUser(server, 'alice')
      bob = await createUser(server, 'bob')
    })
    after(() => server?.close())

    const countUsers = async () =>
      Number((await server.running.database.pool.query('select count(*) from users')).rows[0].count)

    it('creates a user and returns a key that works once, shown only in that response', async () => {
      const created = await server.request('PUT', '/v1/users/carol', {
        body: { user_handle: 'carol', email: 'carol@example.org', name: 'Carol' },
      })
      assert.equal(created.status, 201)
      assert.equal(created.body.user_handle, 'carol')
      assert.match(created.body.vdb_key, /^llmb_[A-Za-z0-9_-]{43}$/)
      assert.equal(created.body.key, created.body.vdb_key, 'the same key under the name POST …/keys uses')
      assert.match(created.body.key_id, /^[0-9a-f-]{36}$/)

      const self = await server.request('GET', '/v1/users/carol', { key: created.body.vdb_key })
      assert.equal(self.status, 200)
      assert.deepEqual(
        { ...self.body, created_at: undefined, updated_at: undefined },
        { user_handle: 'carol', name: 'Carol', email: 'carol@example.org', role: 'user', created_at: undefined, updated_at: undefined, instances: [], definitions: [] },
      )
      assert.ok(!JSON.stringify(self.body).includes(created.body.vdb_key))
      const stored = await server.running.database.pool.query("select hash, prefix from api_keys k join users u on u.id = k.user_id where u.handle = 'carol'")
      assert.equal(stored.rows.length, 1)
      assert.ok(!JSON.stringify(stored.rows).includes(created.body.vdb_key.slice(12)), 'the key itself is not stored')
    })

    it('updates an existing user with PUT without changing its key', async () => {
      const updated = await server.request('PUT', '/v1/users/alice', {
        body: { user_handle: 'alice', email: 'alice@example.org', name: 'Alice Doe' },
      })
      assert.equal(updated.status, 201)
      assert.deepEqual(updated.body, { user_handle: 'alice', vdb_key: 'not changed' })
      const self = await server.request('GET', '/v1/users/alice', { key: alice.key })
      assert.equal(self.status, 200)
      assert.equal(self.body.name, 'Alice Doe')
    })

    it('creates with POST, taking the handle from the body', async () => {
      const created = await server.request('POST', '/v1/users', { body: { user_handle: 'dave', email: 'dave@example.org' } })
      assert.equal(created.status, 201)
      assert.equal(created.body.user_handle, 'dave')
      const got = await server.request('GET', '/v1/users/dave')
      assert.equal(got.body.name, null)
    })

    it('treats handles case-insensitively and stores them in lower case', async () => {
      const created = await server.request('PUT', '/v1/users/Erin.K', { body: { user_handle: 'ERIN.k', email: 'erin@example.org' } })
      assert.equal(created.status, 201)
      assert.equal(created.body.user_handle, 'erin.k')
      const got = await server.request('GET', '/v1/users/ERIN.K', { key: created.body.vdb_key })
      assert.equal(got.status, 200)
      assert.equal(got.body.user_handle, 'erin.k')
    })

    it('refuses a duplicate email with 409 and changes nothing', async () => {
      const before = await countUsers()
      const duplicate = await server.request('PUT', '/v1/users/frank', { body: { user_handle: 'frank', email: 'ALICE@example.org' } })
      assert.equal(duplicate.status, 409)
      assert.equal(duplicate.body.code, 'email_taken')
      assert.equal(duplicate.headers.get('content-type'), 'application/problem+json; charset=utf-8')
      assert.equal(await countUsers(), before)
      assert.equal((await server.request('GET', '/v1/users/frank')).status, 404)
      const stealing = await server.request('PATCH', '/v1/users/bob', { key: bob.key, body: { email: 'alice@example.org' } })
      assert.equal(stealing.status, 409)
      assert.equal((await server.request('GET', '/v1/users/bob')).body.email, 'bob@example.org')
    })

    const badHandles: Array<[string, string]> = [
      ['ab', 'too short'],
      ['a'.repeat(21), 'too long'],
      ['-abc', 'starts with a dash'],
      ['ab c', 'has a space'],
      ['ab*c', 'has a star'],
      ['émile', 'has a non-ASCII letter'],
    ]
    for (const [handle, why] of badHandles) {
      it(`rejects a handle that ${why} with 422 and stores nothing`, async () => {
        const before = await countUsers()
        const response = await server.request('POST', '/v1/users', { body: { user_handle: handle, email: 'x@example.org' } })
        assert.equal(response.status, 422)
        assert.equal(response.body.code, 'validation_failed')
        assert.equal(response.body.errors[0].location, 'body.user_handle')
        assert.match(response.body.errors[0].message, /3 to 20 characters/)
        assert.equal(await countUsers(), before)
      })
    }

    for (const handle of ['admin', 'public', '_system', 'Admin', 'root']) {
      it(`refuses the reserved handle ${handle}`, async () => {
        const response = await server.request('PUT', `/v1/users/${handle}`, { body: { user_handle: handle, email: 'r@example.org' } })
        assert.ok(response.status === 400 || response.status === 422, `status ${response.status}`)
        if (response.status === 400) assert.equal(response.body.code, 'reserved_handle')
        assert.equal((await server.request('GET', `/v1/users/${handle.toLowerCase()}`)).body.email ?? null, handle === '_system' ? 'system@llmbase.invalid' : null)
      })
    }

    it('refuses a body handle that differs from the path', async () => {
      const response = await server.request('PUT', '/v1/users/bob', { body: { user_handle: 'alice', email: 'x@example.org' } })
      assert.equal(response.status, 400)
      assert.equal(response.body.code, 'handle_mismatch')
      assert.equal(response.body.detail, 'user handle in URL (bob) does not match user handle in body (alice)')
    })

    it('rejects bad input: wrong types, unknown fields, bad email, missing fields', async () => {
      const cases: Array<[unknown, string, string]> = [
        [{ user_handle: 'gina', email: 'not-an-email' }, 'body.email', 'must be an email address'],
        [{ user_handle: 'gina', email: 'g@example.org', name: 5 }, 'body.name', 'must be string'],
        [{ user_handle: 'gina', email: 'g@example.org', admin: true }, 'body.admin', 'unexpected property'],
        [{ user_handle: 'gina' }, 'body', 'expected required property email to be present'],
        [{ user_handle: 'gina', email: 'g@example.org', role: 'owner' }, 'body.role', 'must be "user" or "admin"'],
        [{ user_handle: 'gina', email: 'g@example.org', name: ['x'] }, 'body.name', 'must be string'],
        [['gina'], 'body', 'must be object'],
      ]
      for (const [body, location, message] of cases) {
        const response = await server.request('POST', '/v1/users', { body })
        assert.equal(response.status, 422, JSON.stringify(body))
        assert.ok(
          response.body.errors.some((e: { location: string; message: string }) => e.location === location && e.message === message),
          `${JSON.stringify(body)} → ${JSON.stringify(response.body.errors)}`,
        )
      }
      assert.equal((await server.request('GET', '/v1/users/gina')).status, 404)
    })

    it('lets only an admin list users, as a bare array of handles in byte order', async () => {
      const list = await server.request('GET', '/v1/users?limit=200')
      assert.equal(list.status, 200)
      assert.deepEqual(list.body, [...list.body].sort())
      assert.ok(list.body.includes('_system') && list.body.includes('alice'))
      const page = await server.request('GET', '/v1/users?limit=1&offset=1')
      assert.deepEqual(page.body, [list.body[1]])
      const asUser = await server.request('GET', '/v1/users', { key: alice.key })
      assert.equal(asUser.status, 403)
      const outOfRange = await server.request('GET', '/v1/users?limit=500')
      assert.equal(outOfRange.status, 422)
      assert.equal(outOfRange.body.errors[0].location, 'query.limit')
    })

    it('hides other users: 404 for a user that exists and for one that does not, alike', async () => {
      const other = await server.request('GET', '/v1/users/bob', { key: alice.key })
      const missing = await server.request('GET', '/v1/users/nobody', { key: alice.key })
      assert.equal(other.status, 404)
      assert.equal(missing.status, 404)
      assert.equal(other.body.detail, 'user bob not found')
      assert.equal(missing.body.detail, 'user nobody not found')
      const asAdmin = await server.request('GET', '/v1/users/nobody')
      assert.equal(asAdmin.status, 404)
    })

    it('answers 401 without a key and with a wrong key, before looking at the body', async () => {
      const none = await server.request('PUT', '/v1/users/zed', { key: null, body: { nonsense: true } })
      assert.equal(none.status, 401)
      assert.equal(none.headers.get('www-authenticate'), 'Bearer')
      const wrong = await server.request('GET', '/v1/users/alice', { key: 'llmb_wrongwrongwrongwrongwrongwrongwrongwrong123' })
      assert.equal(wrong.status, 401)
      assert.equal(wrong.body.detail, 'Authentication failed. Perhaps a missing or incorrect API key?')
    })

    it('forbids users to create or replace users (403), even themselves', async () => {
      const create = await server.request('PUT', '/v1/users/zoe', { key: alice.key, body: { user_handle: 'zoe', email: 'z@example.org' } })
      assert.equal(create.status, 403)
      const self = await server.request('PUT', '/v1/users/alice', { key: alice.key, body: { user_handle: 'alice', email: 'a2@example.org' } })
      assert.equal(self.status, 403)
      assert.equal((await server.request('GET', '/v1/users/alice')).body.email, 'alice@example.org')
    })

    it('lets a user change its own name and email with a merge patch, but not its role', async () => {
      const patched = await server.request('PATCH', '/v1/users/bob', {
        key: bob.key,
        raw: JSON.stringify({ name: 'Robert' }),
        headers: { 'content-type': 'application/merge-patch+json' },
      })
      assert.equal(patched.status, 200)
      assert.equal(patched.body.name, 'Robert')
      assert.equal(patched.body.email, 'bob@example.org')
      const cleared = await server.request('PATCH', '/v1/users/bob', { key: bob.key, body: { name: null } })
      assert.equal(cleared.body.name, null)
      const promote = await server.request('PATCH', '/v1/users/bob', { key: bob.key, body: { role: 'admin' } })
      assert.equal(promote.status, 403)
      const other = await server.request('PATCH', '/v1/users/alice', { key: bob.key, body: { name: 'x' } })
      assert.equal(other.status, 404)
      const xml = await server.request('PATCH', '/v1/users/bob', { key: bob.key, raw: '<name/>', headers: { 'content-type': 'application/xml' } })
      assert.equal(xml.status, 415)
      // The GET output may be sent back as a patch: its read-only fields are ignored.
      const roundTrip = await server.request('GET', '/v1/users/bob', { key: bob.key })
      const again = await server.request('PATCH', '/v1/users/bob', { key: bob.key, body: { ...roundTrip.body, name: 'Bob' } })
      assert.equal(again.status, 200)
      assert.equal(again.body.name, 'Bob')
    })

    it('gives admin powers to a user whose role an admin sets to admin', async () => {
      const henry = await createUser(server, 'henry')
      assert.equal((await server.request('GET', '/v1/users', { key: henry.key })).status, 403)
      const promoted = await server.request('PATCH', '/v1/users/henry', { body: { role: 'admin' } })
      assert.equal(promoted.status, 200)
      assert.equal(promoted.body.role, 'admin')
      assert.equal((await server.request('GET', '/v1/users', { key: henry.key })).status, 200)
      assert.equal((await server.request('GET', '/v1/users/bob', { key: henry.key })).status, 200)
    })

    it('lets users delete themselves but not others; _system cannot be deleted', async () => {
      const ivan = await createUser(server, 'ivan')
      assert.equal((await server.request('DELETE', '/v1/users/ivan', { key: alice.key })).status, 404)
      const deleted = await server.request('DELETE', '/v1/users/ivan', { key: ivan.key })
      assert.equal(deleted.status, 204)
      assert.equal(deleted.text, '')
      assert.equal((await server.request('GET', '/v1/users/ivan')).status, 404)
      assert.equal((await server.request('GET', '/v1/users/ivan', { key: ivan.key })).status, 401, 'its keys are gone too')
      const keysLeft = await server.running.database.pool.query("select count(*) from api_keys k where not exists (select 1 from users u where u.id = k.user_id)")
      assert.equal(Number(keysLeft.rows[0].count), 0)
      const system = await server.request('DELETE', '/v1/users/_system')
      assert.equal(system.status, 403)
      assert.equal((await server.request('GET', '/v1/users/_system')).status, 200)
      assert.equal((await server.request('DELETE', '/v1/users/nobody')).status, 404)
    })
  })
}
