import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { DATABASES } from '../helpers/databases.js'
import { createUser, startTestServer, type TestServer } from '../helpers/server.js'

/**
 * Every request shown in seeds 000 and 001 (`../shared/seeds/`), sent as written: paths,
 * bodies and field names. docs/compatibility.md#the-seed-documents lists each with its status.
 */

const OPTION_A = {
  endpoint: 'https://api.openai.com/v1/embeddings',
  api_standard: 'openai',
  model: 'text-embedding-3-large',
  dimensions: 3072,
  api_key: 'sk-seed-option-a-key',
}

for (const kind of DATABASES) {
  describe(`the seed documents' requests on the ${kind} database`, () => {
    let server: TestServer
    let jdoe: string
    let alice: string
    let bob: string
    const as = (key: string) => ({ key })

    before(async () => {
      server = await startTestServer(kind)
      jdoe = (await createUser(server, 'jdoe')).key
      alice = (await createUser(server, 'alice')).key
      bob = (await createUser(server, 'bob')).key
    })
    after(async () => server?.close())

    it('Option A: PUT /v1/llm-services/{user}/{handle} without a handle in the body, answered with the instance and never its key', async () => {
      const response = await server.request('PUT', '/v1/llm-services/jdoe/my-openai', { ...as(jdoe), body: OPTION_A })
      assert.equal(response.status, 201, response.text)
      const { instance_id, instance_handle, owner, endpoint, api_standard, model, dimensions } = response.body
      assert.ok(Number.isInteger(instance_id))
      assert.deepEqual({ instance_handle, owner, endpoint, api_standard, model, dimensions }, {
        instance_handle: 'my-openai', owner: 'jdoe', endpoint: OPTION_A.endpoint, api_standard: 'openai', model: 'text-embedding-3-large', dimensions: 3072,
      })
      assert.equal('api_key' in response.body, false)
      assert.ok(!response.text.includes(OPTION_A.api_key))
      const mismatch = await server.request('PUT', '/v1/llm-services/jdoe/my-openai', { ...as(jdoe), body: { ...OPTION_A, instance_handle: 'other' } })
      assert.equal(mismatch.status, 400, 'a handle in the body must agree with the path')
      assert.equal(mismatch.body.code, 'handle_mismatch')
    })

    it('Option B: POST /v1/llm-services/{user}/{handle} from a _system definition', async () => {
      const response = await server.request('POST', '/v1/llm-services/jdoe/my-openai-instance', {
        ...as(jdoe),
        body: { definition_owner: '_system', definition_handle: 'openai-large', api_key: 'sk-seed-option-b' },
      })
      assert.equal(response.status, 201, response.text)
      assert.deepEqual([response.body.instance_handle, response.body.definition_owner, response.body.definition_handle, response.body.model, response.body.dimensions, response.body.has_api_key], [
        'my-openai-instance', '_system', 'openai-large', 'text-embedding-3-large', 3072, true,
      ])
    })

    it("Option C: POST /v1/llm-services/{user}/{handle} from the user's own definition", async () => {
      const definition = await server.request('POST', '/v1/llm-service-definitions/jdoe', {
        ...as(jdoe),
        body: { definition_handle: 'my-custom-config', endpoint: 'https://api.openai.com/v1/embeddings', api_standard: 'openai', model: 'text-embedding-3-small', dimensions: 1536 },
      })
      assert.equal(definition.status, 201, definition.text)
      const response = await server.request('POST', '/v1/llm-services/jdoe/my-custom-instance', {
        ...as(jdoe),
        body: { definition_owner: 'jdoe', definition_handle: 'my-custom-config', api_key: 'sk-seed-option-c' },
      })
      assert.equal(response.status, 201, response.text)
      assert.deepEqual([response.body.definition_owner, response.body.definition_handle, response.body.model], ['jdoe', 'my-custom-config', 'text-embedding-3-small'])
    })

    it('GET /v1/llm-services/{user} lists owned and shared instances, and GET of one never carries the key', async () => {
      await server.request('PUT', '/v1/llm-services/alice/alices', { ...as(alice), body: { ...OPTION_A, api_key: 'sk-alice-secret' } })
      await server.request('POST', '/v1/llm-service-instances/alice/alices/share/jdoe', { ...as(alice) })
      const list = await server.request('GET', '/v1/llm-services/jdoe', as(jdoe))
      assert.equal(list.status, 200)
      const names = list.body.instances.map((i: { owner: string; instance_handle: string }) => `${i.owner}/${i.instance_handle}`)
      assert.ok(names.includes('jdoe/my-openai') && names.includes('alice/alices'), names.join(', '))
      const one = await server.request('GET', '/v1/llm-services/jdoe/my-openai', as(jdoe))
      assert.equal(one.status, 200)
      assert.equal('api_key' in one.body, false)
      assert.ok(!list.text.includes('sk-') && !one.text.includes('sk-'))
    })

    it('client migration, steps 1 to 3: instance, project by llm_service_instance_id, one record with instance_handle and embedding', async () => {
      const instance = await server.request('PUT', '/v1/llm-services/jdoe/test-instance', { ...as(jdoe), body: { ...OPTION_A, dimensions: 3, model: 'tiny-model', api_key: 'test-key' } })
      assert.equal(instance.status, 201, instance.text)
      const project = await server.request('PUT', '/v1/projects/jdoe/my-project', { ...as(jdoe), body: { description: 'My research project', llm_service_instance_id: instance.body.instance_id } })
      assert.equal(project.status, 201, project.text)
      const got = await server.request('GET', '/v1/projects/jdoe/my-project', as(jdoe))
      assert.equal(got.body.instance.instance_id, instance.body.instance_id)
      const upload = await server.request('POST', '/v1/embeddings/jdoe/my-project', {
        ...as(jdoe),
        body: { text_id: 'doc1', instance_handle: 'test-instance', embedding: [0.1, 0.2, 0.3], metadata: { title: 'Document 1', author: 'Alice' } },
      })
      assert.equal(upload.status, 201, upload.text)
      const record = await server.request('GET', '/v1/embeddings/jdoe/my-project/doc1', as(jdoe))
      assert.deepEqual(record.body.metadata, { title: 'Document 1', author: 'Alice' })
      assert.deepEqual(record.body.vector.map((v: number) => Math.round(v * 10) / 10), [0.1, 0.2, 0.3])
    })

    it('the older field llm_service_handle still names the instance of an uploaded record', async () => {
      const upload = await server.request('POST', '/v1/embeddings/jdoe/my-project', {
        ...as(jdoe),
        body: { text_id: 'doc-old', llm_service_handle: 'test-instance', embedding: [0.3, 0.2, 0.1], metadata: {} },
      })
      assert.equal(upload.status, 201, upload.text)
    })

    it('POST /v1/projects/{user}/{project} with llm_service_instance_id, as in the usage guide', async () => {
      const mine = await server.request('GET', '/v1/llm-services/jdoe/test-instance', as(jdoe))
      const response = await server.request('POST', '/v1/projects/jdoe/posted-project', { ...as(jdoe), body: { llm_service_instance_id: mine.body.instance_id, description: 'My project' } })
      assert.equal(response.status, 201, response.text)
    })

    it("refuses a stranger's instance id exactly like an id nobody has, and binds nothing", async () => {
      const bobs = await server.request('PUT', '/v1/llm-services/bob/private-one', { ...as(bob), body: { ...OPTION_A, dimensions: 3, model: 'tiny-model' } })
      const stranger = await server.request('PUT', '/v1/projects/jdoe/stolen', { ...as(jdoe), body: { llm_service_instance_id: bobs.body.instance_id } })
      const nobody = await server.request('PUT', '/v1/projects/jdoe/stolen', { ...as(jdoe), body: { llm_service_instance_id: 999_999 } })
      assert.equal(stranger.status, 404)
      assert.equal(nobody.status, 404)
      assert.equal(stranger.body.code, nobody.body.code)
      assert.equal((await server.request('GET', '/v1/projects/jdoe/stolen', as(jdoe))).status, 404, 'nothing was created')
    })

    it('a project without an instance is told which field to send', async () => {
      assert.equal((await server.request('PUT', '/v1/projects/jdoe/bare', { ...as(jdoe), body: { description: 'My project' } })).status, 201)
      const upload = await server.request('POST', '/v1/embeddings/jdoe/bare', { ...as(jdoe), body: { text_id: 'x', embedding: [1, 2, 3] } })
      assert.equal(upload.status, 400)
      assert.match(upload.body.detail, /llm_service_instance_id/)
    })

    it('GET /v1/llm-service-definitions and /v1/llm-service-definitions/_system list what a user may use', async () => {
      const usable = await server.request('GET', '/v1/llm-service-definitions?limit=200', as(jdoe))
      assert.equal(usable.status, 200)
      const handles = usable.body.definitions.map((d: { owner: string; definition_handle: string }) => `${d.owner}/${d.definition_handle}`)
      assert.ok(handles.includes('_system/openai-large') && handles.includes('jdoe/my-custom-config'), handles.join(', '))
      const global = await server.request('GET', '/v1/llm-service-definitions/_system?limit=200', as(jdoe))
      assert.equal(global.status, 200)
      assert.ok(global.body.definitions.every((d: { owner: string }) => d.owner === '_system'))
      assert.equal((await server.request('GET', '/v1/llm-definitions/_system', as(jdoe))).status, 200)
    })

    it('seeds the definitions of seeds 000 and 001 with their dimensions', async () => {
      const global = await server.request('GET', '/v1/llm-definitions/_system?limit=200', as(jdoe))
      const dims = Object.fromEntries(global.body.definitions.map((d: { definition_handle: string; dimensions: number }) => [d.definition_handle, d.dimensions]))
      assert.deepEqual(
        ['openai-large', 'openai-small', 'cohere-v4', 'cohere-multilingual-v3', 'gemini-embedding-001'].map((h) => dims[h]),
        [3072, 1536, 1536, 1024, 3072],
      )
    })

    it('lets an instance choose a reduced size where the model offers one (gemini-embedding-001 at 768), and refuses one it does not', async () => {
      const reduced = await server.request('POST', '/v1/llm-service-instances/jdoe/from-definition/gemini-embedding-001', { ...as(jdoe), body: { instance_handle: 'gemini-768', dimensions: 768, api_key: 'gm-key' } })
      assert.equal(reduced.status, 201, reduced.text)
      assert.equal(reduced.body.dimensions, 768)
      const wrong = await server.request('POST', '/v1/llm-service-instances/jdoe/from-definition/cohere-multilingual-v3', { ...as(jdoe), body: { instance_handle: 'cohere-512', dimensions: 512 } })
      assert.equal(wrong.status, 422)
      assert.match(wrong.body.errors[0].message, /always returns 1024/)
    })

    it('POST /v1/llm-service-instances/{user}/from-definition/{handle} names the definition in the path', async () => {
      const response = await server.request('POST', '/v1/llm-service-instances/jdoe/from-definition/openai-small', { ...as(jdoe), body: { api_key: 'sk-from-path' } })
      assert.equal(response.status, 201, response.text)
      assert.deepEqual([response.body.instance_handle, response.body.definition_handle, response.body.dimensions], ['openai-small', 'openai-small', 1536])
    })

    it('POST and DELETE /v1/llm-service-instances/{user}/{instance}/share/{target}', async () => {
      const shared = await server.request('POST', '/v1/llm-service-instances/jdoe/my-openai/share/bob', { ...as(jdoe) })
      assert.equal(shared.status, 201, shared.text)
      assert.deepEqual(shared.body.shared_with, [{ user_handle: 'bob', role: 'reader' }])
      assert.equal((await server.request('GET', '/v1/llm-services/jdoe/my-openai', as(bob))).status, 200, 'bob may use it now')
      const editor = await server.request('POST', '/v1/llm-service-instances/jdoe/my-openai/share/bob', { ...as(jdoe), body: { role: 'editor' } })
      assert.deepEqual(editor.body.shared_with, [{ user_handle: 'bob', role: 'editor' }])
      assert.equal((await server.request('DELETE', '/v1/llm-service-instances/jdoe/my-openai/share/bob', as(jdoe))).status, 204)
      assert.equal((await server.request('GET', '/v1/llm-services/jdoe/my-openai', as(bob))).status, 404)
    })

    it("refuses a user's writes under _system with 403; the admin manages the global definitions", async () => {
      const byUser = await server.request('POST', '/v1/llm-service-definitions/_system', { ...as(jdoe), body: { definition_handle: 'mine', endpoint: 'https://api.openai.com/v1/embeddings', api_standard: 'openai', model: 'm', dimensions: 8 } })
      assert.equal(byUser.status, 403)
      const byAdmin = await server.request('PUT', '/v1/llm-definitions/_system/team-default', { body: { endpoint: 'https://api.openai.com/v1/embeddings', api_standard: 'openai', model: 'text-embedding-3-small', dimensions: 1536, is_public: true } })
      assert.equal(byAdmin.status, 201, byAdmin.text)
    })
  })
}
