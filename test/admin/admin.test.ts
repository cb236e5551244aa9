import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { VECTOR_DATABASES } from '../helpers/databases.js'
import { createUser, startTestServer, type TestServer } from '../helpers/server.js'

const V = [0.1, 0.2, 0.3]

for (const kind of VECTOR_DATABASES) {
  describe(`admin routes on the ${kind} database`, () => {
    let server: TestServer
    let alice: string

    before(async () => {
      server = await startTestServer(kind, { env: { LLMBASE_ALLOW_RESET: 'true' } })
      alice = (await createUser(server, 'alice')).key
      await server.request('PUT', '/v1/llm-instances/alice/three', { key: alice, body: { instance_handle: 'three', endpoint: 'https://api.example.org/e', model: 'm', dimensions: 3 } })
    })
    after(() => server?.close())

    it('passes a clean database, warns about data without a schema, and fails broken data', async () => {
      assert.deepEqual(await (await server.request('GET', '/v1/admin/sanity-check')).body, {
        status: 'PASSED', total_projects: 0, issues_count: 0, warnings_count: 0, issues: [], warnings: [],
      })
      await server.request('PUT', '/v1/projects/alice/loose', { key: alice, body: { project_handle: 'loose', instance_handle: 'three' } })
      await server.request('POST', '/v1/embeddings/alice/loose', { key: alice, body: { embeddings: [{ text_id: 'a', vector: V }] } })
      const warning = await server.request('GET', '/v1/admin/sanity-check')
      assert.equal(warning.body.status, 'WARNING')
      assert.deepEqual(warning.body.warnings, ['Project alice/loose has 1 embeddings but no metadata schema defined'])

      // A schema added after the fact, which stored records break; and a project without an instance.
      await server.request('PUT', '/v1/projects/alice/strict', { key: alice, body: { project_handle: 'strict', instance_handle: 'three' } })
      await server.request('POST', '/v1/embeddings/alice/strict', { key: alice, body: { embeddings: [{ text_id: 'ok', vector: V, metadata: { author: 'Kant' } }, { text_id: 'bad', vector: V, metadata: { year: 1781 } }] } })
      await server.request('PATCH', '/v1/projects/alice/strict', { key: alice, body: { metadataScheme: JSON.stringify({ type: 'object', required: ['author'] }) } })
      await server.request('PUT', '/v1/projects/alice/unbound', { key: alice, body: { project_handle: 'unbound' } })
      const failed = await server.request('GET', '/v1/admin/sanity-check')
      assert.equal(failed.body.status, 'FAILED')
      assert.equal(failed.body.total_projects, 3)
      assert.deepEqual(failed.body.issues, [
        "Project alice/strict: text_id 'bad': metadata validation failed:\n  - (root): author is required",
        'Project alice/unbound: unable to get LLM service instance: the project has none',
      ])
      assert.equal(failed.body.issues_count, 2)
      assert.equal((await server.request('GET', '/v1/admin/sanity-check', { key: alice })).status, 403)
    })

    it('resets everything but _system, the API standards and the migration history; ids start again', async () => {
      const migrations = async () => Number((await server.running.database.pool.query('select count(*) from schema_migrations')).rows[0].count)
      const before = await migrations()
      assert.equal((await server.request('POST', '/v1/admin/reset', { key: alice })).status, 403)
      assert.equal((await server.request('GET', '/v1/admin/footgun')).status, 204, "the reference API's path works too")
      assert.equal(await migrations(), before)
      assert.deepEqual((await server.request('GET', '/v1/users')).body, ['_system'])
      assert.equal((await server.request('GET', '/v1/llm-definitions/_system/openai-large')).status, 200)
      assert.equal((await server.request('GET', '/v1/api-standards/openai', { key: null })).status, 200)
      assert.equal((await server.request('GET', '/v1/users/alice', { key: alice })).status, 401, "alice's key went with her")
      const bob = await createUser(server, 'bob')
      await server.request('PUT', '/v1/llm-instances/bob/three', { key: bob.key, body: { instance_handle: 'three', endpoint: 'https://api.example.org/e', model: 'm', dimensions: 3 } })
      const project = await server.request('PUT', '/v1/projects/bob/first', { key: bob.key, body: { project_handle: 'first', instance_handle: 'three' } })
      assert.equal(project.body.project_id, 1)
      assert.equal((await server.request('POST', '/v1/admin/reset')).status, 204)
    })
  })
}

describe('the reset, when not enabled', () => {
  let server: TestServer
  before(async () => {
    server = await startTestServer('embedded')
    await createUser(server, 'alice')
  })
  after(() => server?.close())

  it('is refused with 403 and wipes nothing (D15)', async () => {
    const response = await server.request('POST', '/v1/admin/reset')
    assert.equal(response.status, 403)
    assert.equal(response.body.code, 'reset_disabled')
    assert.equal((await server.request('GET', '/v1/admin/footgun')).status, 403)
    assert.equal((await server.request('GET', '/v1/users/alice')).status, 200)
  })
})
