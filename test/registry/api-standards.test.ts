import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { DATABASES } from '../helpers/databases.js'
import { createUser, startTestServer, type TestServer } from '../helpers/server.js'

for (const kind of DATABASES) {
  describe(`API standards on the ${kind} database`, () => {
    let server: TestServer
    let alice: { key: string }

    before(async () => {
      server = await startTestServer(kind)
      alice = await createUser(server, 'alice')
    })
    after(() => server?.close())

    const count = async () => Number((await server.running.database.pool.query('select count(*) from api_standards')).rows[0].count)

    it('lists the seeded standards to anyone, without a key', async () => {
      const list = await server.request('GET', '/v1/api-standards?limit=200', { key: null })
      assert.equal(list.status, 200)
      const byHandle = Object.fromEntries(list.body.api_standards.map((s: { api_standard_handle: string }) => [s.api_standard_handle, s]))
      assert.deepEqual(Object.keys(byHandle), ['anthropic', 'cohere', 'gemini', 'ollama', 'openai'])
      assert.equal(byHandle.openai.key_method, 'auth_bearer')
      assert.equal(byHandle.openai.key_field, 'Authorization')
      assert.equal(byHandle.gemini.key_field, 'x-goog-api-key')
      assert.equal(byHandle.anthropic.key_field, 'x-api-key')
      assert.equal(byHandle.ollama.key_method, 'none')
      const one = await server.request('GET', '/v1/api-standards/cohere', { key: null })
      assert.equal(one.status, 200)
      assert.equal(one.body.key_method, 'auth_bearer')
      assert.equal((await server.request('GET', '/v1/api-standards/nothing', { key: null })).status, 404)
    })

    it('lets the admin create, replace, patch and delete a standard', async () => {
      const created = await server.request('PUT', '/v1/api-standards/mistral', {
        body: { api_standard_handle: 'mistral', description: 'Mistral', documentation_url: 'https://docs.mistral.ai', key_method: 'auth_bearer' },
      })
      assert.equal(created.status, 201)
      assert.deepEqual(created.body, { api_standard_handle: 'mistral' })
      const got = await server.request('GET', '/v1/api-standards/mistral')
      assert.equal(got.body.key_field, 'Authorization', 'auth_bearer defaults to the Authorization header')
      const posted = await server.request('POST', '/v1/api-standards', { body: { api_standard_handle: 'mistral', key_method: 'query_param', key_field: 'key' } })
      assert.equal(posted.status, 201, 'POST of an existing handle replaces it, as the reference does')
      const replaced = await server.request('GET', '/v1/api-standards/mistral')
      assert.equal(replaced.body.key_method, 'query_param')
      assert.equal(replaced.body.description, '', 'PUT replaces: omitted fields are reset')
      const patched = await server.request('PATCH', '/v1/api-standards/mistral', { body: { description: 'patched', documentation_url: null } })
      assert.equal(patched.status, 200)
      assert.equal(patched.body.description, 'patched')
      assert.equal(patched.body.key_field, 'key')
      assert.equal(patched.body.documentation_url, null)
      assert.equal((await server.request('DELETE', '/v1/api-standards/mistral')).status, 204)
      assert.equal((await server.request('GET', '/v1/api-standards/mistral')).status, 404)
      assert.equal((await server.request('DELETE', '/v1/api-standards/mistral')).status, 404)
    })

    it('refuses writes by users (403) and by anonymous callers (401)', async () => {
      const body = { api_standard_handle: 'sneaky', key_method: 'none' }
      assert.equal((await server.request('PUT', '/v1/api-standards/sneaky', { key: alice.key, body })).status, 403)
      assert.equal((await server.request('PUT', '/v1/api-standards/sneaky', { key: null, body })).status, 401)
      assert.equal((await server.request('DELETE', '/v1/api-standards/ollama', { key: alice.key })).status, 403)
      assert.equal((await server.request('PATCH', '/v1/api-standards/ollama', { key: alice.key, body: { description: 'x' } })).status, 403)
      assert.equal((await server.request('GET', '/v1/api-standards/sneaky')).status, 404)
    })

    it('rejects bad bodies and stores nothing', async () => {
      const before = await count()
      const cases: Array<[unknown, number, string]> = [
        [{ api_standard_handle: 'x1', key_method: 'none' }, 422, 'body.api_standard_handle'],
        [{ api_standard_handle: 'bad1', key_method: 'carrier_pigeon' }, 422, 'body.key_method'],
        [{ api_standard_handle: 'bad2', key_method: 'custom_header' }, 422, 'body.key_field'],
        [{ api_standard_handle: 'bad3', key_method: 'none', keX_method: 'x' }, 422, 'body.keX_method'],
        [{ api_standard_handle: 'bad4', key_method: 'custom_header', key_field: 'x y' }, 422, 'body.key_field'],
        [{ api_standard_handle: 'bad5', key_method: 'none', documentation_url: 'not a url' }, 422, 'body.documentation_url'],
      ]
      for (const [body, status, location] of cases) {
        const response = await server.request('POST', '/v1/api-standards', { body })
        assert.equal(response.status, status, JSON.stringify(body))
        assert.ok(response.body.errors.some((e: { location: string }) => e.location === location), JSON.stringify(response.body))
      }
      const mismatch = await server.request('PUT', '/v1/api-standards/wrongpath', { body: { api_standard_handle: 'openai', key_method: 'none' } })
      assert.equal(mismatch.status, 400)
      assert.equal(mismatch.body.detail, 'API standard handle in URL (wrongpath) does not match API standard handle in body (openai)')
      assert.equal(await count(), before)
      assert.equal((await server.request('GET', '/v1/api-standards/openai')).body.key_method, 'auth_bearer')
    })

    it('refuses to delete a standard in use, naming who uses it (409)', async () => {
      const openai = await server.request('DELETE', '/v1/api-standards/openai')
      assert.equal(openai.status, 409)
      assert.equal(openai.body.code, 'api_standard_in_use')
      assert.match(openai.body.detail, /definitions _system\/gpt-5\.4-mini, _system\/gpt-5\.5, _system\/openai-large/)
      await server.request('PUT', '/v1/api-standards/local', { body: { api_standard_handle: 'local', key_method: 'none' } })
      const made = await server.request('PUT', '/v1/llm-instances/alice/loc1', {
        key: alice.key,
        body: { instance_handle: 'loc1', api_standard: 'local', endpoint: 'https://models.example.org/embed', model: 'm', dimensions: 8 },
      })
      assert.equal(made.status, 201)
      const local = await server.request('DELETE', '/v1/api-standards/local')
      assert.equal(local.status, 409)
      assert.match(local.body.detail, /instances alice\/loc1/)
      assert.equal((await server.request('GET', '/v1/api-standards/local')).status, 200)
    })
  })
}
