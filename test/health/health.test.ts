import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { DATABASES } from '../helpers/databases.js'
import { startTestServer, type TestServer } from '../helpers/server.js'

for (const kind of DATABASES) {
  describe(`health and API documentation on the ${kind} database`, () => {
    let server: TestServer
    before(async () => {
      server = await startTestServer(kind)
    })
    after(() => server?.close())

    it('answers /healthz without a key', async () => {
      const response = await server.request('GET', '/healthz', { key: null })
      assert.equal(response.status, 200)
      assert.deepEqual(response.body, { status: 'ok' })
    })

    it('reports readiness with migrations and capabilities on /readyz', async () => {
      const response = await server.request('GET', '/readyz', { key: null })
      assert.equal(response.status, 200)
      assert.equal(response.body.status, 'ready')
      assert.equal(response.body.database.kind, kind)
      assert.equal(response.body.database.reachable, true)
      assert.equal(response.body.migrations.pending, 0)
      assert.ok(response.body.migrations.applied >= 1)
      const hasPgvector = (await server.running.database.pool.query("select 1 from pg_extension where extname = 'vector'")).rowCount === 1
      // One of the two embeddings migrations (with pgvector, or the portable one) is not needed.
      assert.equal(response.body.migrations.replaced, 1)
      assert.equal(response.body.capabilities.vectors.available, true)
      assert.equal(response.body.capabilities.vectors.reason, null)
      // The default engine: native, but pgvector on a server that has it.
      const expected = kind === 'postgres' && hasPgvector ? /^pgvector 0\.8/ : /^native \(usearch \d+\.\d+\.\d+\)$/
      assert.match(response.body.capabilities.vectors.engine, expected)
    })

    it('reports unready (503) when migrations are pending', async () => {
      await server.running.database.pool.query('delete from schema_migrations where version = 1')
      try {
        const response = await server.request('GET', '/readyz', { key: null })
        assert.equal(response.status, 503)
        assert.equal(response.body.status, 'unavailable')
        assert.equal(response.body.migrations.pending, 1)
      } finally {
        await server.running.database.pool.query("insert into schema_migrations (version, name, checksum) values (1, 'identity', 'restored')")
      }
    })

    it('serves an OpenAPI 3.1 document with every route and its operation id', async () => {
      const response = await server.request('GET', '/openapi.json', { key: null })
      assert.equal(response.status, 200)
      assert.equal(response.body.openapi, '3.1.0')
      const operations = Object.values(response.body.paths as Record<string, Record<string, { operationId?: string }>>)
        .flatMap((methods) => Object.values(methods).map((op) => op.operationId))
      for (const id of ['identity.user.put', 'identity.user.get', 'identity.key.create', 'health.ready']) {
        assert.ok(operations.includes(id), `${id} is documented`)
      }
      assert.ok(operations.every((id) => typeof id === 'string'), 'every operation has an id')
      assert.ok(response.body.paths['/v1/users/{user_handle}'].put.responses['422'], 'error responses are documented')
      assert.ok(response.body.components.schemas.Problem, 'the problem schema is shared')
    })

    it('serves the interactive documentation page at /docs', async () => {
      const response = await server.request('GET', '/docs/', { key: null })
      assert.equal(response.status, 200)
      assert.match(response.text, /swagger-ui/i)
    })
  })
}
