import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { DATABASES } from '../helpers/databases.js'
import { createUser, startTestServer, type TestServer } from '../helpers/server.js'

// The reference API's test instance (testdata/valid_instance_embedding1.json).
const embedding1 = (extra: Record<string, unknown> = {}) => ({
  instance_handle: 'embedding1',
  endpoint: 'https://api.foo.bar/v1/embed',
  description: 'An LLM Service just for testing',
  api_standard: 'openai',
  model: 'embed-test1',
  dimensions: 5,
  ...extra,
})

for (const kind of DATABASES) {
  describe(`LLM instances on the ${kind} database`, () => {
    let server: TestServer
    const keys: Record<string, string> = {}

    before(async () => {
      server = await startTestServer(kind)
      for (const handle of ['alice', 'bob', 'carol', 'dave']) keys[handle] = (await createUser(server, handle)).key
    })
    after(() => server?.close())

    const as = (user: string | null) => (user === null ? null : user === 'admin' ? server.adminKey : keys[user])
    const countInstances = async () => Number((await server.running.database.pool.query('select count(*) from llm_instances')).rows[0].count)

    it('creates a standalone instance and reads it back with has_api_key, never the key', async () => {
      const created = await server.request('PUT', '/v1/llm-instances/alice/embedding1', { key: as('alice'), body: embedding1({ api_key: 'sk-alice-0123456789abcdef' }) })
      assert.equal(created.status, 201)
      const got = await server.request('GET', '/v1/llm-instances/alice/embedding1', { key: as('alice') })
      assert.deepEqual(created.body, got.body, 'a create answers with the instance as GET shows it')
      assert.equal(got.status, 200)
      assert.equal(got.body.has_api_key, true)
      assert.equal(got.body.api_key_status, 'ok')
      assert.equal(got.body.access_role, 'owner')
      assert.equal(got.body.dimensions, 5)
      assert.equal(got.body.definition_id, null)
      assert.ok(!got.text.includes('sk-alice'))
      assert.equal('api_key' in got.body, false)
    })

    it('keeps the stored key when PUT omits api_key, and removes it on null (D7)', async () => {
      await server.request('PUT', '/v1/llm-instances/alice/keyed', { key: as('alice'), body: embedding1({ instance_handle: 'keyed', api_key: 'sk-keep-0123456789abcdef' }) })
      const replaced = await server.request('PUT', '/v1/llm-instances/alice/keyed', { key: as('alice'), body: embedding1({ instance_handle: 'keyed', context_limit: 512 }) })
      assert.equal(replaced.status, 201)
      let got = await server.request('GET', '/v1/llm-instances/alice/keyed', { key: as('alice') })
      assert.equal(got.body.has_api_key, true)
      assert.equal(got.body.context_limit, 512, 'context_limit is stored (the reference dropped it)')
      await server.request('PATCH', '/v1/llm-instances/alice/keyed', { key: as('alice'), body: { description: 'still keyed' } })
      got = await server.request('GET', '/v1/llm-instances/alice/keyed', { key: as('alice') })
      assert.equal(got.body.has_api_key, true)
      await server.request('PATCH', '/v1/llm-instances/alice/keyed', { key: as('alice'), body: { api_key: null } })
      got = await server.request('GET', '/v1/llm-instances/alice/keyed', { key: as('alice') })
      assert.equal(got.body.has_api_key, false)
      assert.equal(got.body.api_key_status, null)
      await server.request('PUT', '/v1/llm-instances/alice/keyed', { key: as('alice'), body: embedding1({ instance_handle: 'keyed', api_key: 'sk-new-0123456789abcdef' }) })
      assert.equal((await server.request('GET', '/v1/llm-instances/alice/keyed', { key: as('alice') })).body.has_api_key, true)
      await server.request('PUT', '/v1/llm-instances/alice/keyed', { key: as('alice'), body: embedding1({ instance_handle: 'keyed', api_key: null }) })
      assert.equal((await server.request('GET', '/v1/llm-instances/alice/keyed', { key: as('alice') })).body.has_api_key, false)
    })

    it('creates an instance from a global definition, taking every absent field from it (D7)', async () => {
      const made = await server.request('POST', '/v1/llm-instances/alice/from-definition', {
        key: as('alice'),
        body: { user_handle: 'alice', instance_handle: 'large', definition_owner: '_system', definition_handle: 'openai-large', api_key: 'sk-large-0123456789abcdef' },
      })
      assert.equal(made.status, 201)
      const got = await server.request('GET', '/v1/llm-instances/alice/large', { key: as('alice') })
      assert.equal(got.body.model, 'text-embedding-3-large')
      assert.equal(got.body.dimensions, 3072)
      assert.equal(got.body.api_standard, 'openai')
      assert.equal(got.body.context_limit, 8191)
      assert.equal(got.body.definition_owner, '_system')
      assert.equal(got.body.definition_handle, 'openai-large')
      assert.equal(got.body.has_api_key, true)

      const cohere = await server.request('POST', '/v1/llm-instances/alice/from-definition', {
        key: as('alice'),
        body: { instance_handle: 'cohere4', definition_handle: 'cohere-v4', dimensions: 1024 },
      })
      assert.equal(cohere.status, 201, 'definition_owner defaults to _system')
      const cohereGot = await server.request('GET', '/v1/llm-instances/alice/cohere4', { key: as('alice') })
      assert.equal(cohereGot.body.api_standard, 'cohere', "the definition's API standard, not a default")
      assert.equal(cohereGot.body.dimensions, 1024, 'given fields override the definition')

      const chat = await server.request('POST', '/v1/llm-instances/alice/from-definition', { key: as('alice'), body: { instance_handle: 'sonnet', definition_handle: 'claude-sonnet-4-6' } })
      assert.equal(chat.status, 201)
      assert.equal((await server.request('GET', '/v1/llm-instances/alice/sonnet', { key: as('alice') })).body.kind, 'chat')

      const again = await server.request('POST', '/v1/llm-instances/alice/from-definition', { key: as('alice'), body: { instance_handle: 'large', definition_handle: 'openai-small' } })
      assert.equal(again.status, 409)
      const missing = await server.request('POST', '/v1/llm-instances/alice/from-definition', { key: as('alice'), body: { instance_handle: 'nope', definition_handle: 'nonexistent' } })
      assert.equal(missing.status, 404)
      assert.equal(missing.body.detail, 'llm definition _system/nonexistent not found')
      const mismatch = await server.request('POST', '/v1/llm-instances/alice/from-definition', { key: as('alice'), body: { user_handle: 'bob', instance_handle: 'x12', definition_handle: 'openai-small' } })
      assert.equal(mismatch.status, 400)
    })

    it("may not build from another user's private definition, but from a shared one", async () => {
      await server.request('PUT', '/v1/llm-definitions/bob/bobdef', {
        key: as('bob'),
        body: { definition_handle: 'bobdef', api_standard: 'openai', endpoint: 'https://api.example.org/e', model: 'bm', dimensions: 8 },
      })
      const hidden = await server.request('POST', '/v1/llm-instances/alice/from-definition', { key: as('alice'), body: { instance_handle: 'frombob', definition_owner: 'bob', definition_handle: 'bobdef' } })
      assert.equal(hidden.status, 404)
      await server.request('POST', '/v1/llm-definitions/bob/bobdef/share', { key: as('bob'), body: { share_with_handle: 'alice' } })
      const shared = await server.request('POST', '/v1/llm-instances/alice/from-definition', { key: as('alice'), body: { instance_handle: 'frombob', definition_owner: 'bob', definition_handle: 'bobdef' } })
      assert.equal(shared.status, 201)
    })

    it('rejects bad instances and stores nothing', async () => {
      const before = await countInstances()
      const cases: Array<[Record<string, unknown>, number, string]> = [
        [embedding1({ instance_handle: 'bad1', dimensions: 0 }), 422, 'body.dimensions'],
        [embedding1({ instance_handle: 'bad2', dimensions: 99_999 }), 422, 'body.dimensions'],
        [embedding1({ instance_handle: 'bad3', dimensions: undefined }), 422, 'body.dimensions'],
        [embedding1({ instance_handle: 'bad4', api_keX: 'x' }), 422, 'body.api_keX'],
        [embedding1({ instance_handle: 'bad5', dimensions: '5' }), 422, 'body.dimensions'],
        [embedding1({ instance_handle: 'bad6', api_standard: 'nothing' }), 400, ''],
        [embedding1({ instance_handle: 'bad7', endpoint: 'http://169.254.169.254/latest/meta-data' }), 400, ''],
        [embedding1({ instance_handle: 'bad8', endpoint: 'http://localhost:11434/api/embed' }), 400, ''],
        [embedding1({ instance_handle: 'bad9', endpoint: 'https://user:pw@api.example.org/e' }), 400, ''],
        [embedding1({ instance_handle: 'x' }), 422, 'body.instance_handle'],
        [embedding1({ instance_handle: 'bad10', kind: 'chat' }), 422, 'body.dimensions'],
      ]
      for (const [body, status, location] of cases) {
        const response = await server.request('POST', '/v1/llm-instances/alice', { key: as('alice'), body })
        assert.equal(response.status, status, JSON.stringify(body) + JSON.stringify(response.body))
        if (location) assert.ok(response.body.errors.some((e: { location: string }) => e.location === location), JSON.stringify(response.body))
      }
      const metadata = await server.request('POST', '/v1/llm-instances/alice', { key: as('alice'), body: embedding1({ instance_handle: 'bad7', endpoint: 'http://169.254.169.254/' }) })
      assert.equal(metadata.body.code, 'endpoint_not_allowed')
      const mismatch = await server.request('PUT', '/v1/llm-instances/alice/nonexistent', { key: as('alice'), body: embedding1() })
      assert.equal(mismatch.status, 400)
      assert.equal(mismatch.body.detail, 'instance handle in URL (nonexistent) does not match instance handle in body (embedding1)')
      assert.equal(await countInstances(), before)
    })

    it('accepts the deprecated /v1/llm-services paths and the llm_service_handle field', async () => {
      const created = await server.request('PUT', '/v1/llm-services/alice/legacy1', { key: as('alice'), body: { ...embedding1(), instance_handle: undefined, llm_service_handle: 'legacy1' } })
      assert.equal(created.status, 201)
      const viaNew = await server.request('GET', '/v1/llm-instances/alice/legacy1', { key: as('alice') })
      assert.equal(viaNew.status, 200)
      const viaOld = await server.request('GET', '/v1/llm-services/alice/legacy1', { key: as('alice') })
      assert.deepEqual(viaOld.body, viaNew.body)
      const list = await server.request('GET', '/v1/llm-services/alice?limit=200', { key: as('alice') })
      assert.ok(list.body.instances.some((i: { instance_handle: string }) => i.instance_handle === 'legacy1'))
      const openapi = await server.request('GET', '/openapi.json', { key: null })
      assert.equal(openapi.body.paths['/v1/llm-services/{user_handle}/{instance_handle}'].get.deprecated, true)
      assert.equal((await server.request('DELETE', '/v1/llm-services/alice/legacy1', { key: as('alice') })).status, 204)
    })

    describe('sharing', () => {
      before(async () => {
        await server.request('PUT', '/v1/llm-instances/alice/shared', { key: as('alice'), body: embedding1({ instance_handle: 'shared', api_key: 'sk-shared-0123456789abcdef' }) })
        const toBob = await server.request('POST', '/v1/llm-instances/alice/shared/share', { key: as('alice'), body: { share_with_handle: 'bob', role: 'reader' } })
        assert.equal(toBob.status, 201)
        const toCarol = await server.request('POST', '/v1/llm-instances/alice/shared/share', { key: as('alice'), body: { share_with_handle: 'carol', role: 'editor' } })
        assert.deepEqual(toCarol.body, {
          owner: 'alice',
          instance_handle: 'shared',
          shared_with: [
            { user_handle: 'bob', role: 'reader' },
            { user_handle: 'carol', role: 'editor' },
          ],
        })
      })

      // Who may do what to alice/shared: bob reads, carol edits, dave is a stranger.
      const matrix: Array<{ action: string; method: string; path: string; body?: unknown; expect: Record<string, number> }> = [
        { action: 'read', method: 'GET', path: '/v1/llm-instances/alice/shared', expect: { alice: 200, bob: 200, carol: 200, dave: 404, admin: 200 } },
        { action: 'change a field', method: 'PATCH', path: '/v1/llm-instances/alice/shared', body: { description: 'changed' }, expect: { alice: 200, bob: 403, carol: 200, dave: 404, admin: 200 } },
        { action: 'replace with PUT', method: 'PUT', path: '/v1/llm-instances/alice/shared', body: embedding1({ instance_handle: 'shared' }), expect: { alice: 201, bob: 403, carol: 201, dave: 404, admin: 201 } },
        { action: 'set the key', method: 'PATCH', path: '/v1/llm-instances/alice/shared', body: { api_key: 'sk-other-0123456789abcdef' }, expect: { alice: 200, bob: 403, carol: 403, dave: 404, admin: 200 } },
        { action: 'see the shares', method: 'GET', path: '/v1/llm-instances/alice/shared/shared-with', expect: { alice: 200, bob: 403, carol: 403, dave: 404, admin: 200 } },
        { action: 'share further', method: 'POST', path: '/v1/llm-instances/alice/shared/share', body: { share_with_handle: 'carol', role: 'editor' }, expect: { alice: 201, bob: 403, carol: 403, dave: 404, admin: 201 } },
        { action: 'delete', method: 'DELETE', path: '/v1/llm-instances/alice/shared', expect: { bob: 403, carol: 403, dave: 404 } },
      ]
      for (const row of matrix) {
        for (const [who, status] of Object.entries(row.expect)) {
          it(`${who} may ${status < 300 ? '' : 'not '}${row.action} (${status})`, async () => {
            const response = await server.request(row.method, row.path, { key: as(who), ...(row.body !== undefined ? { body: row.body } : {}) })
            assert.equal(response.status, status, JSON.stringify(response.body))
          })
        }
      }

      it('lists shared instances with the role of the listed user, each once', async () => {
        const bobs = await server.request('GET', '/v1/llm-instances/bob', { key: as('bob') })
        assert.deepEqual(bobs.body.instances.map((i: { owner: string; instance_handle: string; access_role: string }) => [i.owner, i.instance_handle, i.access_role]), [['alice', 'shared', 'reader']])
        const alices = await server.request('GET', '/v1/llm-instances/alice?limit=200', { key: as('alice') })
        assert.equal(alices.body.instances.filter((i: { instance_handle: string }) => i.instance_handle === 'shared').length, 1, 'shared with two users, listed once (D10)')
        assert.equal((await server.request('GET', '/v1/llm-instances/alice', { key: as('bob') })).status, 404)
        assert.equal((await server.request('GET', '/v1/llm-instances/bob')).status, 200, 'the admin lists anyone')
        const bobUser = await server.request('GET', '/v1/users/bob', { key: as('bob') })
        assert.deepEqual(bobUser.body.instances, [{ owner: 'alice', instance_handle: 'shared', role: 'reader' }], 'GET user lists its instances (D4)')
      })

      it('changes the role when sharing again, and refuses bad shares', async () => {
        const upgraded = await server.request('POST', '/v1/llm-instances/alice/shared/share', { key: as('alice'), body: { share_with_handle: 'bob', role: 'editor' } })
        assert.equal(upgraded.body.shared_with.find((s: { user_handle: string }) => s.user_handle === 'bob').role, 'editor')
        await server.request('POST', '/v1/llm-instances/alice/shared/share', { key: as('alice'), body: { share_with_handle: 'bob', role: 'reader' } })
        const self = await server.request('POST', '/v1/llm-instances/alice/shared/share', { key: as('alice'), body: { share_with_handle: 'alice', role: 'reader' } })
        assert.equal(self.status, 400)
        assert.equal(self.body.detail, 'cannot share an instance with its owner')
        const ghost = await server.request('POST', '/v1/llm-instances/alice/shared/share', { key: as('alice'), body: { share_with_handle: 'ghost', role: 'reader' } })
        assert.equal(ghost.status, 201, 'a handle nobody has gets the answer of any other')
        assert.ok(ghost.body.shared_with.some((share: { user_handle: string }) => share.user_handle === 'ghost'), 'listed to the owner, pending')
        assert.equal((await server.request('DELETE', '/v1/llm-instances/alice/shared/share/ghost', { key: as('alice') })).status, 204)
        const owner = await server.request('POST', '/v1/llm-instances/alice/shared/share', { key: as('alice'), body: { share_with_handle: 'bob', role: 'owner' } })
        assert.equal(owner.status, 422)
        const system = await server.request('POST', '/v1/llm-instances/alice/shared/share', { key: as('alice'), body: { share_with_handle: '_system', role: 'reader' } })
        assert.equal(system.status, 422, '_system is not a handle anyone can share with')
      })

      it('unshares: 204, then 404 for a share that does not exist; a user may leave a share', async () => {
        assert.equal((await server.request('DELETE', '/v1/llm-instances/alice/shared/share/carol', { key: as('alice') })).status, 204)
        const again = await server.request('DELETE', '/v1/llm-instances/alice/shared/share/carol', { key: as('alice') })
        assert.equal(again.status, 404)
        assert.equal(again.body.detail, 'instance alice/shared is not shared with user carol')
        assert.equal((await server.request('DELETE', '/v1/llm-instances/alice/shared/share/bob', { key: as('bob') })).status, 204)
        assert.equal((await server.request('GET', '/v1/llm-instances/alice/shared', { key: as('bob') })).status, 404, 'gone once unshared')
      })

      it('lets the owner and the admin delete', async () => {
        await server.request('PUT', '/v1/llm-instances/alice/doomed', { key: as('alice'), body: embedding1({ instance_handle: 'doomed' }) })
        assert.equal((await server.request('DELETE', '/v1/llm-instances/alice/doomed')).status, 204)
        assert.equal((await server.request('DELETE', '/v1/llm-instances/alice/doomed')).status, 404)
        assert.equal((await server.request('DELETE', '/v1/llm-instances/alice/shared', { key: as('alice') })).status, 204)
      })
    })

    it('lets the admin create instances for any user, but not for users that do not exist', async () => {
      const made = await server.request('PUT', '/v1/llm-instances/dave/byadmin', { body: embedding1({ instance_handle: 'byadmin' }) })
      assert.equal(made.status, 201)
      assert.equal((await server.request('GET', '/v1/llm-instances/dave/byadmin', { key: as('dave') })).body.access_role, 'owner')
      assert.equal((await server.request('GET', '/v1/llm-instances/dave/byadmin')).body.access_role, 'admin')
      const ghost = await server.request('PUT', '/v1/llm-instances/ghost/x12', { body: embedding1({ instance_handle: 'x12' }) })
      assert.equal(ghost.status, 404)
      assert.equal(ghost.body.detail, 'user ghost not found')
      const foreign = await server.request('PUT', '/v1/llm-instances/dave/mine', { key: as('alice'), body: embedding1({ instance_handle: 'mine' }) })
      assert.equal(foreign.status, 404)
    })
  })
}
