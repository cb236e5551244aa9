import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { DATABASES, SERVER_HAS_PGVECTOR } from '../helpers/databases.js'
import { startTestServer } from '../helpers/server.js'

/** LLMBASE_VECTOR_ENGINE: what each choice gives on each database, and the refusals. */
for (const kind of DATABASES) {
  describe(`choosing the vector engine on the ${kind} database`, () => {
    const pgvectorWorks = kind === 'embedded' || SERVER_HAS_PGVECTOR

    it('runs the native engine when asked, and reports it on /readyz', async () => {
      const server = await startTestServer(kind, { env: { LLMBASE_VECTOR_ENGINE: 'native' } })
      try {
        const ready = await server.request('GET', '/readyz', { key: null })
        assert.match(ready.body.capabilities.vectors.engine, /^native \(usearch /)
      } finally {
        await server.close()
      }
    })

    if (pgvectorWorks) {
      it('runs pgvector when asked', async () => {
        const server = await startTestServer(kind, { env: { LLMBASE_VECTOR_ENGINE: 'pgvector' } })
        try {
          const ready = await server.request('GET', '/readyz', { key: null })
          assert.match(ready.body.capabilities.vectors.engine, /^pgvector 0\.8/)
        } finally {
          await server.close()
        }
      })
    } else {
      it('refuses to start with pgvector on a server whose vectors are stored without it, saying what to do', async () => {
        await assert.rejects(startTestServer(kind, { env: { LLMBASE_VECTOR_ENGINE: 'pgvector' } }), /stores vectors without pgvector.*LLMBASE_VECTOR_ENGINE=native or auto/)
      })
    }
  })
}
