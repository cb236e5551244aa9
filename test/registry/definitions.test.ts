import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { DATABASES } from '../helpers/databases.js'
import { createUser, startTestServer, type TestServer } from '../helpers/server.js'

const embeddingDefinition = (handle: string, extra: Record<string, unknown> = {}) => ({
  definition_handle: handle,
  api_standard: 'openai',
  endpoint: 'https://api.example.org/v1/embeddings',
  model: 'embed-test',
  dimensions: 5,
  ...extra,
})

for (const kind of DATABASES) {
  describe(`LLM definitions on the ${kind} database`, () => {
    let server: TestServer
    let alice: { key: string }
    let bob: { key: string }
    let carol: { key: string }

    before(async () => {
      server = await startTestServer(kind)
      alice = await createUser(server, 'alice')
      bob = await createUser(server, 'bob')
      carol = await createUser(server, 'carol')
    })
    after(() => server?.close())

    const countDefinitions = async () => Number((await server.running.database.pool.query('select count(*) from llm_definitions')).rows[0].count)

    it('offers every user the global definitions, readable one by one', async () => {
      const list = await server.request('GET', '/v1/llm-definitions/alice?limit=200', { key: alice.key })
      assert.equal(list.status, 200)
      const global = list.body.definitions.filter((d: { owner: string }) => d.owner === '_system')
      const handles = global.map((d: { definition_handle: string }) => d.definition_handle)
      for (const handle of ['openai-large', 'openai-small', 'cohere-v4', 'cohere-multilingual-v3', 'gemini-embedding-001', 'gpt-5.5', 'claude-sonnet-4-6', 'gemini-2.5-pro']) {
        assert.ok(handles.includes(handle), handle)
      }
      const large = await server.request('GET', '/v1/llm-definitions/_system/openai-large', { key: alice.key })
      assert.equal(large.status, 200)
      assert.equal(large.body.model, 'text-embedding-3-large')
      assert.equal(large.body.dimensions, 3072)
      assert.equal(large.body.kind, 'embedding')
      assert.equal(large.body.is_public, true)
      const chat = await server.request('GET', '/v1/llm-definitions/_system/claude-sonnet-4-6', { key: alice.key })
      assert.equal(chat.body.kind, 'chat')
      assert.equal(chat.body.dimensions, null)
      assert.equal(chat.body.api_standard, 'anthropic')
    })

    it('creates, reads, patches and deletes a user definition', async () => {
      const created = await server.request('PUT', '/v1/llm-definitions/alice/small1', { key: alice.key, body: embeddingDefinition('small1', { context_limit: 8192 }) })
      assert.equal(created.status, 201)
      assert.deepEqual(Object.keys(created.body).sort(), ['definition_handle', 'definition_id', 'is_public', 'owner'])
      assert.equal(created.body.owner, 'alice')
      assert.equal(created.body.is_public, false)
      const got = await server.request('GET', '/v1/llm-definitions/alice/small1', { key: alice.key })
      assert.equal(got.body.context_limit, 8192)
      const patched = await server.request('PATCH', '/v1/llm-definitions/alice/small1', { key: alice.key, body: { description: 'mine', context_limit: null } })
      assert.equal(patched.status, 200)
      assert.equal(patched.body.description, 'mine')
      assert.equal(patched.body.context_limit, null)
      assert.equal(patched.body.dimensions, 5)
      const again = await server.request('PATCH', '/v1/llm-definitions/alice/small1', { key: alice.key, body: got.body })
      assert.equal(again.status, 200, 'the GET output is an acceptable patch')
      const posted = await server.request('POST', '/v1/llm-definitions/alice', { key: alice.key, body: embeddingDefinition('small1', { dimensions: 7 }) })
      assert.equal(posted.status, 201, 'POST of an existing handle replaces it')
      assert.equal(posted.body.definition_id, created.body.definition_id)
      assert.equal((await server.request('GET', '/v1/llm-definitions/alice/small1', { key: alice.key })).body.dimensions, 7)
      assert.equal((await server.request('DELETE', '/v1/llm-definitions/alice/small1', { key: alice.key })).status, 204)
      assert.equal((await server.request('GET', '/v1/llm-definitions/alice/small1', { key: alice.key })).status, 404)
    })

    it('refuses bad dimensions, unknown standards and unknown fields, storing nothing', async () => {
      const before = await countDefinitions()
      const cases: Array<[Record<string, unknown>, number, string]> = [
        [embeddingDefinition('bad1', { dimensions: 0 }), 422, 'body.dimensions'],
        [embeddingDefinition('bad2', { dimensions: 16_001 }), 422, 'body.dimensions'],
        [embeddingDefinition('bad3', { dimensions: 2.5 }), 422, 'body.dimensions'],
        [embeddingDefinition('bad4', { dimensions: undefined }), 422, 'body.dimensions'],
        [embeddingDefinition('bad5', { kind: 'chat' }), 422, 'body.dimensions'],
        [embeddingDefinition('bad6', { colour: 'red' }), 422, 'body.colour'],
        [embeddingDefinition('bad7', { endpoint: 'ftp://example.org/x' }), 400, ''],
        [embeddingDefinition('bad8', { api_standard: 'nonexistent' }), 400, ''],
        [{ definition_handle: 'bad9', api_standard: 'openai' }, 422, 'body'],
      ]
      for (const [body, status, location] of cases) {
        const response = await server.request('POST', '/v1/llm-definitions/alice', { key: alice.key, body })
        assert.equal(response.status, status, JSON.stringify(body))
        if (location) assert.ok(response.body.errors.some((e: { location: string }) => e.location === location), JSON.stringify(response.body))
      }
      const unknown = await server.request('POST', '/v1/llm-definitions/alice', { key: alice.key, body: embeddingDefinition('bad8', { api_standard: 'nonexistent' }) })
      assert.equal(unknown.body.code, 'unknown_api_standard')
      assert.equal(unknown.body.detail, 'API standard nonexistent does not exist')
      assert.equal(await countDefinitions(), before)
      const big = await server.request('POST', '/v1/llm-definitions/alice', { key: alice.key, body: embeddingDefinition('big16k', { dimensions: 16_000 }) })
      assert.equal(big.status, 201, '16,000 dimensions is the upper bound, allowed')
    })

    it('keeps global definitions for the admin: users get 403, the admin may write them', async () => {
      const byUser = await server.request('PUT', '/v1/llm-definitions/_system/mine', { key: alice.key, body: embeddingDefinition('mine') })
      assert.equal(byUser.status, 403, "_system's namespace is visible to all; writing under it is the admin's")
      const patchByUser = await server.request('PATCH', '/v1/llm-definitions/_system/openai-small', { key: alice.key, body: { description: 'x' } })
      assert.equal(patchByUser.status, 403)
      const deleteByUser = await server.request('DELETE', '/v1/llm-definitions/_system/openai-small', { key: alice.key })
      assert.equal(deleteByUser.status, 403)
      const byAdmin = await server.request('PUT', '/v1/llm-definitions/_system/global-test', { body: embeddingDefinition('global-test', { is_public: true }) })
      assert.equal(byAdmin.status, 201)
      assert.equal(byAdmin.body.owner, '_system')
      assert.equal((await server.request('GET', '/v1/llm-definitions/_system/global-test', { key: bob.key })).status, 200)
      assert.equal((await server.request('DELETE', '/v1/llm-definitions/_system/global-test')).status, 204)
    })

    it('hides private definitions from strangers (404), shows public and shared ones', async () => {
      await server.request('PUT', '/v1/llm-definitions/alice/private1', { key: alice.key, body: embeddingDefinition('private1') })
      await server.request('PUT', '/v1/llm-definitions/alice/public1', { key: alice.key, body: embeddingDefinition('public1', { is_public: true }) })
      assert.equal((await server.request('GET', '/v1/llm-definitions/alice/private1', { key: bob.key })).status, 404)
      assert.equal((await server.request('GET', '/v1/llm-definitions/alice/public1', { key: bob.key })).status, 200)
      assert.equal((await server.request('GET', '/v1/llm-definitions/alice', { key: bob.key })).status, 404, "bob cannot list alice's definitions")
      const bobsList = await server.request('GET', '/v1/llm-definitions/bob?limit=200', { key: bob.key })
      const names = bobsList.body.definitions.map((d: { owner: string; definition_handle: string }) => `${d.owner}/${d.definition_handle}`)
      assert.ok(names.includes('alice/public1'))
      assert.ok(!names.includes('alice/private1'))
    })

    it('shares a definition: readers see it once in their list, may not change it, and the owner sees who', async () => {
      await server.request('PUT', '/v1/llm-definitions/alice/shared1', { key: alice.key, body: embeddingDefinition('shared1', { is_public: true }) })
      const first = await server.request('POST', '/v1/llm-definitions/alice/shared1/share', { key: alice.key, body: { share_with_handle: 'bob' } })
      assert.equal(first.status, 201)
      assert.deepEqual(first.body, { owner: 'alice', definition_handle: 'shared1', shared_with: ['bob'] })
      const second = await server.request('POST', '/v1/llm-definitions/alice/shared1/share', { key: alice.key, body: { share_with_handle: 'carol' } })
      assert.deepEqual(second.body.shared_with, ['bob', 'carol'])
      const twice = await server.request('POST', '/v1/llm-definitions/alice/shared1/share', { key: alice.key, body: { share_with_handle: 'carol' } })
      assert.deepEqual(twice.body.shared_with, ['bob', 'carol'], 'sharing twice is harmless')

      const aliceList = await server.request('GET', '/v1/llm-definitions/alice?limit=200', { key: alice.key })
      const occurrences = aliceList.body.definitions.filter((d: { definition_handle: string; owner: string }) => d.owner === 'alice' && d.definition_handle === 'shared1')
      assert.equal(occurrences.length, 1, 'public and shared with two users, listed once')
      const bobList = await server.request('GET', '/v1/llm-definitions/bob?limit=200', { key: bob.key })
      assert.equal(bobList.body.definitions.filter((d: { definition_handle: string }) => d.definition_handle === 'shared1').length, 1)

      assert.equal((await server.request('PATCH', '/v1/llm-definitions/alice/shared1', { key: bob.key, body: { description: 'x' } })).status, 403)
      assert.equal((await server.request('PUT', '/v1/llm-definitions/alice/shared1', { key: bob.key, body: embeddingDefinition('shared1') })).status, 403)
      assert.equal((await server.request('DELETE', '/v1/llm-definitions/alice/shared1', { key: bob.key })).status, 403)
      assert.equal((await server.request('POST', '/v1/llm-definitions/alice/shared1/share', { key: bob.key, body: { share_with_handle: 'carol' } })).status, 403)
      assert.equal((await server.request('GET', '/v1/llm-definitions/alice/shared1/shared-with', { key: bob.key })).status, 403)

      const sharedWith = await server.request('GET', '/v1/llm-definitions/alice/shared1/shared-with', { key: alice.key })
      assert.equal(sharedWith.status, 200)
      assert.deepEqual(sharedWith.body, ['bob', 'carol'])
      assert.equal((await server.request('DELETE', '/v1/llm-definitions/alice/shared1/share/carol', { key: alice.key })).status, 204)
      assert.deepEqual((await server.request('GET', '/v1/llm-definitions/alice/shared1/shared-with', { key: alice.key })).body, ['bob'])
      assert.equal((await server.request('DELETE', '/v1/llm-definitions/alice/shared1/share/bob', { key: bob.key })).status, 204, 'a reader may leave')
      assert.deepEqual((await server.request('GET', '/v1/llm-definitions/alice/shared1/shared-with', { key: alice.key })).body, [])
    })

    it('refuses shares with the owner and of global definitions; a share to an unknown handle is pending', async () => {
      await server.request('PUT', '/v1/llm-definitions/alice/own1', { key: alice.key, body: embeddingDefinition('own1') })
      const self = await server.request('POST', '/v1/llm-definitions/alice/own1/share', { key: alice.key, body: { share_with_handle: 'alice' } })
      assert.equal(self.status, 400)
      assert.equal(self.body.detail, 'cannot share a definition with its owner')
      const ghost = await server.request('POST', '/v1/llm-definitions/alice/own1/share', { key: alice.key, body: { share_with_handle: 'ghost' } })
      const real = await server.request('POST', '/v1/llm-definitions/alice/own1/share', { key: alice.key, body: { share_with_handle: 'bob' } })
      assert.equal(ghost.status, 201, 'the same answer as for a user that exists')
      assert.equal(real.status, 201)
      assert.deepEqual(real.body.shared_with, ['bob', 'ghost'])
      assert.equal((await server.request('DELETE', '/v1/llm-definitions/alice/own1/share/ghost', { key: alice.key })).status, 204)
      await server.request('DELETE', '/v1/llm-definitions/alice/own1/share/bob', { key: alice.key })
      const global = await server.request('POST', '/v1/llm-definitions/_system/openai-large/share', { body: { share_with_handle: 'bob' } })
      assert.equal(global.status, 400)
      const hidden = await server.request('POST', '/v1/llm-definitions/alice/own1/share', { key: carol.key, body: { share_with_handle: 'carol' } })
      assert.equal(hidden.status, 404)
    })

    it('lets the admin do everything on private user definitions', async () => {
      await server.request('PUT', '/v1/llm-definitions/bob/secret1', { key: bob.key, body: embeddingDefinition('secret1') })
      assert.equal((await server.request('GET', '/v1/llm-definitions/bob/secret1')).status, 200)
      assert.equal((await server.request('PATCH', '/v1/llm-definitions/bob/secret1', { body: { model: 'other' } })).body.model, 'other')
      assert.equal((await server.request('POST', '/v1/llm-definitions/bob/secret1/share', { body: { share_with_handle: 'carol' } })).status, 201)
      assert.deepEqual((await server.request('GET', '/v1/llm-definitions/bob/secret1/shared-with')).body, ['carol'])
      assert.equal((await server.request('GET', '/v1/llm-definitions/bob?limit=200')).status, 200)
      assert.equal((await server.request('DELETE', '/v1/llm-definitions/bob/secret1')).status, 204)
      assert.equal((await server.request('GET', '/v1/llm-definitions/nobody')).status, 404)
    })

    it('keeps instances working when their definition is deleted', async () => {
      await server.request('PUT', '/v1/llm-definitions/alice/template1', { key: alice.key, body: embeddingDefinition('template1') })
      const made = await server.request('POST', '/v1/llm-instances/alice/from-definition', {
        key: alice.key,
        body: { instance_handle: 'fromtpl', definition_owner: 'alice', definition_handle: 'template1' },
      })
      assert.equal(made.status, 201)
      assert.equal((await server.request('DELETE', '/v1/llm-definitions/alice/template1', { key: alice.key })).status, 204)
      const instance = await server.request('GET', '/v1/llm-instances/alice/fromtpl', { key: alice.key })
      assert.equal(instance.status, 200)
      assert.equal(instance.body.definition_id, null)
      assert.equal(instance.body.model, 'embed-test')
    })
  })
}
