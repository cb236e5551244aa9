import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { DATABASES } from '../helpers/databases.js'
import { createUser, startTestServer, type TestServer } from '../helpers/server.js'

const instance = (handle: string, dimensions = 5) => ({
  instance_handle: handle,
  endpoint: 'https://api.foo.bar/v1/embed',
  api_standard: 'openai',
  model: 'embed-test1',
  dimensions,
})
// The reference API's valid_project_with_schema.json, with the instance owner fixed.
const authorSchema = JSON.stringify({ type: 'object', properties: { author: { type: 'string' }, year: { type: 'integer' } }, required: ['author'] })

// Projects work on every database, pgvector or not; the checks that need stored embeddings
// are in the embeddings suites.
for (const kind of DATABASES) {
  describe(`projects on the ${kind} database`, () => {
    let server: TestServer
    const keys: Record<string, string> = {}

    before(async () => {
      server = await startTestServer(kind)
      for (const handle of ['alice', 'bob', 'carol', 'dave']) keys[handle] = (await createUser(server, handle)).key
      for (const [owner, handle, dims] of [['alice', 'embedding1', 5], ['alice', 'wide', 7], ['bob', 'bobs', 5], ['bob', 'bobshared', 5]] as const) {
        assert.equal((await server.request('PUT', `/v1/llm-instances/${owner}/${handle}`, { key: keys[owner], body: instance(handle, dims) })).status, 201)
      }
      await server.request('POST', '/v1/llm-instances/bob/bobshared/share', { key: keys.bob, body: { share_with_handle: 'alice', role: 'reader' } })
    })
    after(() => server?.close())

    const as = (who: string | null) => (who === null ? null : who === 'admin' ? server.adminKey : keys[who])
    const countProjects = async () => Number((await server.running.database.pool.query('select count(*) from projects')).rows[0].count)

    it('creates a project bound to an own instance, and describes it', async () => {
      const created = await server.request('PUT', '/v1/projects/alice/test1', {
        key: as('alice'),
        body: { project_handle: 'test1', instance_owner: 'alice', instance_handle: 'embedding1', description: 'A test project' },
      })
      assert.equal(created.status, 201)
      assert.deepEqual({ ...created.body, project_id: 0 }, { owner: 'alice', project_handle: 'test1', project_id: 0, public_read: false, role: 'owner' })
      const got = await server.request('GET', '/v1/projects/alice/test1', { key: as('alice') })
      assert.equal(got.status, 200)
      assert.equal(got.body.description, 'A test project')
      assert.deepEqual(got.body.instance, { owner: 'alice', instance_handle: 'embedding1', instance_id: got.body.instance.instance_id, access_role: 'owner' })
      assert.equal(got.body.role, 'owner')
      assert.equal(got.body.number_of_embeddings, 0)
      assert.equal(got.body.dimensions, 5)
      assert.equal(got.body.last_updated, null)
      assert.deepEqual(got.body.shared_with, [], 'the owner is not listed as a share (D3)')
      assert.equal(got.body.metadataScheme, null)
    })

    it('binds an instance shared with the owner, by owner and handle or as "owner/handle" (D6)', async () => {
      const byFields = await server.request('PUT', '/v1/projects/alice/shared1', { key: as('alice'), body: { project_handle: 'shared1', instance_owner: 'bob', instance_handle: 'bobshared' } })
      assert.equal(byFields.status, 201)
      const bySlash = await server.request('PUT', '/v1/projects/alice/shared2', { key: as('alice'), body: { project_handle: 'shared2', instance_handle: 'bob/bobshared' } })
      assert.equal(bySlash.status, 201)
      const got = await server.request('GET', '/v1/projects/alice/shared2', { key: as('alice') })
      assert.deepEqual([got.body.instance.owner, got.body.instance.instance_handle, got.body.instance.access_role], ['bob', 'bobshared', 'reader'])
    })

    it("refuses another user's unshared instance exactly like a missing one (404), storing nothing", async () => {
      const before = await countProjects()
      const foreign = await server.request('PUT', '/v1/projects/alice/stolen', { key: as('alice'), body: { project_handle: 'stolen', instance_owner: 'bob', instance_handle: 'bobs' } })
      const absent = await server.request('PUT', '/v1/projects/alice/stolen', { key: as('alice'), body: { project_handle: 'stolen', instance_owner: 'bob', instance_handle: 'bobsx' } })
      assert.equal(foreign.status, 404)
      assert.equal(foreign.body.detail, 'LLM Service Instance bobs owned by bob not found')
      assert.deepEqual({ ...absent.body, request_id: '', detail: '' }, { ...foreign.body, request_id: '', detail: '' }, 'nothing tells the two apart')
      const missing = await server.request('PUT', '/v1/projects/alice/ghost', { key: as('alice'), body: { project_handle: 'ghost', instance_handle: 'nothing' } })
      assert.equal(missing.status, 404)
      assert.equal(missing.body.detail, 'LLM Service Instance nothing owned by alice not found')
      await server.request('POST', '/v1/llm-instances/alice/from-definition', { key: as('alice'), body: { instance_handle: 'chatty', definition_handle: 'gpt-5.5' } })
      const chat = await server.request('PUT', '/v1/projects/alice/chatproj', { key: as('alice'), body: { project_handle: 'chatproj', instance_handle: 'chatty' } })
      assert.equal(chat.status, 400)
      assert.equal(await countProjects(), before)
    })

    it('checks the metadata schema when the project is saved: a broken schema is 400', async () => {
      const ok = await server.request('PUT', '/v1/projects/alice/schema1', { key: as('alice'), body: { project_handle: 'schema1', instance_handle: 'embedding1', metadataScheme: authorSchema } })
      assert.equal(ok.status, 201)
      const got = await server.request('GET', '/v1/projects/alice/schema1', { key: as('alice') })
      assert.deepEqual(JSON.parse(got.body.metadataScheme), JSON.parse(authorSchema))
      const asObject = await server.request('PUT', '/v1/projects/alice/schema2', { key: as('alice'), body: { project_handle: 'schema2', instance_handle: 'embedding1', metadataScheme: { type: 'object' } } })
      assert.equal(asObject.status, 201, 'a schema may be sent as an object too')
      for (const broken of ['{"type": "object",', '{"type": "not-a-type"}', '{"properties": {"a": {"minimum": "ten"}}}', '"just a string"']) {
        const response = await server.request('PUT', '/v1/projects/alice/broken', { key: as('alice'), body: { project_handle: 'broken', metadataScheme: broken } })
        assert.equal(response.status, 400, broken)
        assert.equal(response.body.code, 'invalid_metadata_schema')
      }
      assert.equal((await server.request('GET', '/v1/projects/alice/broken', { key: as('alice') })).status, 404)
    })

    it('rejects bad project bodies', async () => {
      const cases: Array<[unknown, string]> = [
        [{ foo: 'test1', description: 'x' }, 'body.foo'],
        [{ project_handle: 'ab' }, 'body.project_handle'],
        [{ project_handle: 'okname', public_read: 'yes' }, 'body.public_read'],
        [{ project_handle: 'okname', shared_with: ['*'] }, 'body.shared_with'],
      ]
      for (const [body, location] of cases) {
        const response = await server.request('POST', '/v1/projects/alice', { key: as('alice'), body })
        assert.equal(response.status, 422, JSON.stringify(body))
        assert.ok(response.body.errors.some((e: { location: string }) => e.location === location), JSON.stringify(response.body))
      }
      const mismatch = await server.request('PUT', '/v1/projects/alice/test3', { key: as('alice'), body: { project_handle: 'test1' } })
      assert.equal(mismatch.status, 400)
      assert.equal(mismatch.body.detail, 'project handle in URL (test3) does not match project handle in body (test1)')
    })

    it('replaces with PUT and POST, and patches with a merge patch', async () => {
      await server.request('PUT', '/v1/projects/alice/edit1', { key: as('alice'), body: { project_handle: 'edit1', instance_handle: 'embedding1', description: 'first', public_read: true } })
      const posted = await server.request('POST', '/v1/projects/alice', { key: as('alice'), body: { project_handle: 'edit1', instance_handle: 'embedding1' } })
      assert.equal(posted.status, 201)
      let got = await server.request('GET', '/v1/projects/alice/edit1', { key: as('alice') })
      assert.equal(got.body.description, null, 'PUT/POST replace: omitted fields are reset')
      assert.equal(got.body.public_read, false)
      const patched = await server.request('PATCH', '/v1/projects/alice/edit1', { key: as('alice'), body: { description: 'patched', public_read: true } })
      assert.equal(patched.status, 200)
      assert.equal(patched.body.description, 'patched')
      assert.equal(patched.body.public_read, true)
      assert.equal(patched.body.instance.instance_handle, 'embedding1', 'a patch keeps what it does not name')
      got = await server.request('GET', '/v1/projects/alice/edit1', { key: as('alice') })
      const roundTrip = await server.request('PATCH', '/v1/projects/alice/edit1', { key: as('alice'), body: got.body })
      assert.equal(roundTrip.status, 200, 'the GET output is an acceptable patch')
      const rebind = await server.request('PATCH', '/v1/projects/alice/edit1', { key: as('alice'), body: { instance_handle: 'bob/bobshared' } })
      assert.equal(rebind.status, 200)
      assert.equal(rebind.body.instance.owner, 'bob')
    })

    it('lists projects owned by or shared with a user, each once', async () => {
      await server.request('PUT', '/v1/projects/bob/bobproj', { key: as('bob'), body: { project_handle: 'bobproj', instance_handle: 'bobs' } })
      await server.request('POST', '/v1/projects/bob/bobproj/share', { key: as('bob'), body: { share_with_handle: 'alice', role: 'reader' } })
      await server.request('POST', '/v1/projects/bob/bobproj/share', { key: as('bob'), body: { share_with_handle: 'carol', role: 'editor' } })
      const list = await server.request('GET', '/v1/projects/alice?limit=200', { key: as('alice') })
      assert.equal(list.status, 200)
      const names = list.body.projects.map((p: { owner: string; project_handle: string; role: string }) => `${p.owner}/${p.project_handle}:${p.role}`)
      assert.ok(names.includes('alice/test1:owner'))
      assert.ok(names.includes('bob/bobproj:reader'))
      const bobs = await server.request('GET', '/v1/projects/bob?limit=200', { key: as('bob') })
      assert.equal(bobs.body.projects.filter((p: { project_handle: string }) => p.project_handle === 'bobproj').length, 1, 'shared twice, listed once')
      assert.equal((await server.request('GET', '/v1/projects/bob', { key: as('alice') })).status, 404)
      assert.deepEqual((await server.request('GET', '/v1/projects/dave', { key: as('dave') })).body, { projects: [] })
    })

    describe('access', () => {
      before(async () => {
        await server.request('PUT', '/v1/projects/alice/private', { key: as('alice'), body: { project_handle: 'private', instance_handle: 'embedding1' } })
        await server.request('PUT', '/v1/projects/alice/open', { key: as('alice'), body: { project_handle: 'open', instance_handle: 'embedding1', public_read: true } })
        await server.request('POST', '/v1/projects/alice/private/share', { key: as('alice'), body: { share_with_handle: 'bob', role: 'reader' } })
        await server.request('POST', '/v1/projects/alice/private/share', { key: as('alice'), body: { share_with_handle: 'carol', role: 'editor' } })
      })

      // Who may do what to alice/private (bob reads, carol edits, dave is a stranger) and to alice/open (public).
      const matrix: Array<{ action: string; method: string; path: string; body?: unknown; expect: Record<string, number> }> = [
        { action: 'read the private project', method: 'GET', path: '/v1/projects/alice/private', expect: { alice: 200, bob: 200, carol: 200, dave: 404, anonymous: 401, admin: 200 } },
        { action: 'read the public project', method: 'GET', path: '/v1/projects/alice/open', expect: { dave: 200, anonymous: 200 } },
        { action: 'change settings', method: 'PATCH', path: '/v1/projects/alice/private', body: { description: 'x' }, expect: { alice: 200, bob: 403, carol: 403, dave: 404, admin: 200 } },
        { action: 'change the public project', method: 'PATCH', path: '/v1/projects/alice/open', body: { description: 'x' }, expect: { dave: 403, anonymous: 401 } },
        { action: 'see its shares', method: 'GET', path: '/v1/projects/alice/private/shared-with', expect: { alice: 200, bob: 403, carol: 403, dave: 404, admin: 200 } },
        { action: 'share it', method: 'POST', path: '/v1/projects/alice/private/share', body: { share_with_handle: 'carol', role: 'editor' }, expect: { alice: 201, bob: 403, carol: 403, dave: 404, admin: 201 } },
        { action: 'delete it', method: 'DELETE', path: '/v1/projects/alice/private', expect: { bob: 403, carol: 403, dave: 404, anonymous: 401 } },
      ]
      for (const row of matrix) {
        for (const [who, status] of Object.entries(row.expect)) {
          it(`${who} may ${status < 300 ? '' : 'not '}${row.action} (${status})`, async () => {
            const response = await server.request(row.method, row.path, { key: as(who === 'anonymous' ? null : who), ...(row.body !== undefined ? { body: row.body } : {}) })
            assert.equal(response.status, status, JSON.stringify(response.body))
          })
        }
      }

      it('reports the caller\'s role: public for anyone on a public project, shares only to managers (D3)', async () => {
        const anonymous = await server.request('GET', '/v1/projects/alice/open', { key: null })
        assert.equal(anonymous.body.role, 'public')
        assert.equal(anonymous.body.public_read, true)
        assert.equal('shared_with' in anonymous.body, false)
        assert.equal((await server.request('GET', '/v1/projects/alice/private', { key: as('bob') })).body.role, 'reader')
        assert.equal((await server.request('GET', '/v1/projects/alice/private')).body.role, 'admin')
        const owner = await server.request('GET', '/v1/projects/alice/private', { key: as('alice') })
        assert.deepEqual(owner.body.shared_with, [{ user_handle: 'bob', role: 'reader' }, { user_handle: 'carol', role: 'editor' }])
      })

      it('answers a share to a handle nobody has like any other, keeps it pending, and never grants it to a later user of that handle', async () => {
        const toGhost = await server.request('POST', '/v1/projects/alice/private/share', { key: as('alice'), body: { share_with_handle: 'ghost', role: 'reader' } })
        assert.equal(toGhost.status, 201)
        assert.deepEqual(toGhost.body.shared_with.map((share: { user_handle: string }) => share.user_handle), ['bob', 'carol', 'ghost'])
        assert.equal((await server.request('POST', '/v1/projects/alice/private/share', { key: as('alice'), body: { share_with_handle: 'admin', role: 'reader' } })).body.code, 'reserved_handle')
        const ghost = await createUser(server, 'ghost')
        assert.equal((await server.request('GET', '/v1/projects/alice/private', { key: ghost.key })).status, 404, 'the pending share grants nothing to the new user')
        const after = await server.request('GET', '/v1/projects/alice/private/shared-with', { key: as('alice') })
        assert.deepEqual(after.body.shared_with.map((share: { user_handle: string }) => share.user_handle), ['bob', 'carol'], 'creating the user dropped the pending share')
        await server.request('POST', '/v1/projects/alice/private/share', { key: as('alice'), body: { share_with_handle: 'nobody-yet', role: 'reader' } })
        assert.equal((await server.request('DELETE', '/v1/projects/alice/private/share/nobody-yet', { key: as('alice') })).status, 204, 'a pending share can be removed')
      })

      it('unshares, and refuses shares with the owner', async () => {
        assert.equal((await server.request('POST', '/v1/projects/alice/private/share', { key: as('alice'), body: { share_with_handle: 'alice', role: 'reader' } })).status, 400)
        assert.equal((await server.request('DELETE', '/v1/projects/alice/private/share/bob', { key: as('alice') })).status, 204)
        const again = await server.request('DELETE', '/v1/projects/alice/private/share/bob', { key: as('alice') })
        assert.equal(again.status, 404)
        assert.equal(again.body.detail, 'project alice/private is not shared with user bob')
        assert.equal((await server.request('GET', '/v1/projects/alice/private', { key: as('bob') })).status, 404)
      })
    })

    it('offers a project to a handle with the same answer whether a user has it or not', async () => {
      await server.request('PUT', '/v1/projects/alice/offered', { key: as('alice'), body: { project_handle: 'offered', instance_handle: 'embedding1' } })
      const toDave = await server.request('POST', '/v1/projects/alice/offered/transfer', { key: as('alice'), body: { new_owner_handle: 'dave' } })
      const toNobody = await server.request('POST', '/v1/projects/alice/offered/transfer', { key: as('alice'), body: { new_owner_handle: 'nobody-at-all' } })
      assert.equal(toDave.status, 202)
      assert.equal(toNobody.status, 202)
      const shape = (body: Record<string, unknown>) => Object.keys(body).sort()
      assert.deepEqual(shape(toNobody.body), shape(toDave.body))
      assert.equal(toNobody.body.offered_to, 'nobody-at-all', 'a new offer replaces the last')
      assert.equal((await server.request('GET', '/v1/projects/alice/offered', { key: as('alice') })).body.transfer_offer.offered_to, 'nobody-at-all')
      assert.equal((await server.request('POST', '/v1/projects/alice/offered/transfer/accept', { key: as('dave') })).status, 404, 'dave has no offer any more')
      assert.equal((await server.request('DELETE', '/v1/projects/alice/offered/transfer', { key: as('alice') })).status, 204)
      assert.equal((await server.request('DELETE', '/v1/projects/alice/offered/transfer', { key: as('alice') })).status, 404)
      assert.equal((await server.request('GET', '/v1/projects/alice/offered', { key: as('alice') })).body.transfer_offer, null)
    })

    it('moves a project only when the receiver accepts, and only if it may use its instance', async () => {
      await server.request('PUT', '/v1/projects/alice/moving', { key: as('alice'), body: { project_handle: 'moving', instance_handle: 'embedding1' } })
      const offered = await server.request('POST', '/v1/projects/alice/moving/transfer', { key: as('alice'), body: { new_owner_handle: 'dave' } })
      assert.equal(offered.status, 202)
      assert.equal((await server.request('GET', '/v1/projects/alice/moving', { key: as('alice') })).body.owner, 'alice', 'nothing moves before the receiver accepts')
      assert.equal((await server.request('GET', '/v1/projects/alice/moving', { key: as('dave') })).status, 404, 'the receiver cannot read the project before it accepts')
      const offers = await server.request('GET', '/v1/users/dave/transfer-offers', { key: as('dave') })
      assert.deepEqual(offers.body.received.map((o: { owner: string; project_handle: string }) => `${o.owner}/${o.project_handle}`), ['alice/moving'])
      assert.equal((await server.request('GET', '/v1/users/dave/transfer-offers', { key: as('alice') })).status, 404, "nobody else sees a user's offers")
      assert.equal((await server.request('POST', '/v1/projects/alice/moving/transfer/accept', { key: as('carol') })).status, 404, 'only the receiver may accept')
      const refused = await server.request('POST', '/v1/projects/alice/moving/transfer/accept', { key: as('dave') })
      assert.equal(refused.status, 409)
      assert.equal(refused.body.code, 'instance_not_shared')
      await server.request('POST', '/v1/llm-instances/alice/embedding1/share', { key: as('alice'), body: { share_with_handle: 'dave', role: 'reader' } })
      await server.request('POST', '/v1/projects/alice/moving/share', { key: as('alice'), body: { share_with_handle: 'dave', role: 'reader' } })
      const moved = await server.request('POST', '/v1/projects/alice/moving/transfer/accept', { key: as('dave') })
      assert.equal(moved.status, 200)
      assert.deepEqual({ ...moved.body, project_id: 0 }, { owner: 'dave', project_handle: 'moving', project_id: 0, previous_owner: 'alice' })
      const got = await server.request('GET', '/v1/projects/dave/moving', { key: as('dave') })
      assert.equal(got.body.role, 'owner')
      assert.deepEqual(got.body.shared_with, [], "the new owner's share is gone")
      assert.equal(got.body.transfer_offer, null)
      assert.equal((await server.request('GET', '/v1/projects/alice/moving', { key: as('alice') })).status, 404)
      assert.equal((await server.request('GET', '/v1/projects/dave/moving', { key: as('alice') })).status, 404, 'the old owner keeps no access')
    })

    it('lets the receiver decline, and an admin move a project at once', async () => {
      await server.request('PUT', '/v1/projects/carol/taken', { key: as('carol'), body: { project_handle: 'taken' } })
      await server.request('PUT', '/v1/projects/dave/taken', { key: as('dave'), body: { project_handle: 'taken' } })
      assert.equal((await server.request('POST', '/v1/projects/carol/taken/transfer', { key: as('carol'), body: { new_owner_handle: 'dave' } })).status, 202)
      assert.equal((await server.request('POST', '/v1/projects/carol/taken/transfer/accept', { key: as('dave') })).status, 409, 'the receiver has a project of that name')
      assert.equal((await server.request('POST', '/v1/projects/carol/taken/transfer/decline', { key: as('dave') })).status, 204)
      assert.equal((await server.request('POST', '/v1/projects/carol/taken/transfer/accept', { key: as('dave') })).status, 404)
      assert.equal((await server.request('POST', '/v1/projects/carol/taken/transfer', { key: as('dave'), body: { new_owner_handle: 'dave' } })).status, 404)
      await server.request('PUT', '/v1/projects/carol/given', { key: as('carol'), body: { project_handle: 'given' } })
      const byAdmin = await server.request('POST', '/v1/projects/carol/given/transfer', { body: { new_owner_handle: 'dave' } })
      assert.equal(byAdmin.status, 200)
      assert.equal(byAdmin.body.owner, 'dave')
    })

    it('refuses to delete an instance that projects use, naming them (409)', async () => {
      const response = await server.request('DELETE', '/v1/llm-instances/alice/embedding1', { key: as('alice') })
      assert.equal(response.status, 409)
      assert.equal(response.body.code, 'instance_in_use')
      assert.match(response.body.detail, /alice\/test1/)
      assert.equal((await server.request('GET', '/v1/llm-instances/alice/embedding1', { key: as('alice') })).status, 200)
    })

    it('deletes a project (204), then it is gone', async () => {
      await server.request('PUT', '/v1/projects/alice/doomed', { key: as('alice'), body: { project_handle: 'doomed', instance_handle: 'embedding1' } })
      assert.equal((await server.request('DELETE', '/v1/projects/alice/doomed', { key: as('alice') })).status, 204)
      assert.equal((await server.request('GET', '/v1/projects/alice/doomed', { key: as('alice') })).status, 404)
      assert.equal((await server.request('DELETE', '/v1/projects/alice/doomed', { key: as('alice') })).status, 404)
    })
  })
}
