import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { VECTOR_DATABASES } from '../helpers/databases.js'
import { createUser, startTestServer, type TestServer } from '../helpers/server.js'

const KANT = [-0.020850, 0.018522, 0.053270, 0.071384, 0.020003]
// The reference API's testdata/valid_embeddings.json: pre-encoded Salamanca URIs, one vector.
const salamanca = (n: number) => `https%3A%2F%2Fid.salamanca.school%2Ftexts%2FW0001%3Avol1.1.1.1.${n}`
const referenceBatch = () => ({
  embeddings: [1, 2, 3].map((n) => ({
    text_id: salamanca(n),
    user_handle: 'alice',
    project_handle: 'test1',
    project_id: 1,
    instance_handle: 'embedding1',
    text: `text ${n}`,
    vector: KANT,
    vector_dim: 5,
    metadata: { author: n === 3 ? 'Immanuel Other' : 'Immanuel Kant' },
  })),
})

for (const kind of VECTOR_DATABASES) {
  describe(`embeddings on the ${kind} database`, () => {
    let server: TestServer
    const keys: Record<string, string> = {}

    before(async () => {
      server = await startTestServer(kind)
      for (const handle of ['alice', 'bob', 'carol', 'dave']) keys[handle] = (await createUser(server, handle)).key
      await server.request('PUT', '/v1/llm-instances/alice/embedding1', {
        key: keys.alice,
        body: { instance_handle: 'embedding1', endpoint: 'https://api.foo.bar/v1/embed', api_standard: 'openai', model: 'embed-test1', dimensions: 5 },
      })
      for (const [handle, extra] of [['test1', {}], ['schema1', { metadataScheme: JSON.stringify({ type: 'object', properties: { author: { type: 'string' }, year: { type: 'integer' } }, required: ['author'] }) }]] as const) {
        assert.equal((await server.request('PUT', `/v1/projects/alice/${handle}`, { key: keys.alice, body: { project_handle: handle, instance_owner: 'alice', instance_handle: 'embedding1', ...extra } })).status, 201)
      }
      await server.request('POST', '/v1/projects/alice/test1/share', { key: keys.alice, body: { share_with_handle: 'bob', role: 'reader' } })
      await server.request('POST', '/v1/projects/alice/test1/share', { key: keys.alice, body: { share_with_handle: 'carol', role: 'editor' } })
    })
    after(() => server?.close())

    const as = (who: string | null) => (who === null ? null : who === 'admin' ? server.adminKey : keys[who])
    const upload = (project: string, embeddings: unknown[], who = 'alice') => server.request('POST', `/v1/embeddings/alice/${project}`, { key: as(who), body: { embeddings } })
    const stored = async (project = 'test1') =>
      Number((await server.running.database.pool.query('select count(*) from embeddings e join projects p on p.id = e.project_id where p.handle = $1', [project])).rows[0].count)

    it("uploads the reference API's test batch and reads it back", async () => {
      const response = await server.request('POST', '/v1/embeddings/alice/test1', { key: as('alice'), body: referenceBatch() })
      assert.equal(response.status, 201)
      assert.deepEqual(response.body, { ids: [salamanca(1), salamanca(2), salamanca(3)] })
      const one = await server.request('GET', `/v1/embeddings/alice/test1/${salamanca(1)}`, { key: as('alice') })
      assert.equal(one.status, 200, 'a pre-encoded id is found with the same string in the path (D9)')
      assert.equal(one.body.text_id, salamanca(1))
      assert.equal(one.body.text, 'text 1')
      assert.equal(one.body.vector_dim, 5)
      assert.deepEqual(one.body.metadata, { author: 'Immanuel Kant' })
      assert.equal(one.body.instance_handle, 'embedding1')
      assert.equal(one.body.user_handle, 'alice')
      one.body.vector.forEach((value: number, i: number) => assert.ok(Math.abs(value - (KANT[i] as number)) < 1e-7, 'float32 round trip (D20)'))
      const project = await server.request('GET', '/v1/projects/alice/test1', { key: as('alice') })
      assert.equal(project.body.number_of_embeddings, 3)
      assert.ok(Date.now() - Date.parse(project.body.last_updated) < 60_000)
    })

    it('stores a batch with one bad item not at all, naming the item (D8)', async () => {
      const before = await stored()
      const cases: Array<[Record<string, unknown>, string, string]> = [
        [{ text_id: 'test-wrong-dims', vector: [1, 2, 3], vector_dim: 5 }, "Dimension validation failed for input test-wrong-dims: vector length mismatch for text_id 'test-wrong-dims': actual vector has 3 elements but vector_dim declares 5", 'vector'],
        [{ text_id: 'test-mismatch-dims', vector: KANT, vector_dim: 3072 }, "Dimension validation failed for input test-mismatch-dims: vector dimension mismatch: embedding declares 3072 dimensions but LLM service instance 'embedding1' expects 5 dimensions", 'vector_dim'],
        [{ text_id: 'short', vector: [1, 2, 3] }, "Dimension validation failed for input short: vector dimension mismatch: embedding has 3 dimensions but LLM service instance 'embedding1' expects 5 dimensions", 'vector'],
        [{ text_id: 'other-instance', vector: KANT, instance_handle: 'other' }, "Instance handle 'other' for embedding with text_id 'other-instance' does not match the instance handle 'embedding1' connected to project 'alice/test1'", 'instance_handle'],
        [{ text_id: 'huge', vector: [1, 2, 3, 4, 1e39] }, 'Dimension validation failed for input huge: vector value 4 is not a finite 32-bit float', 'vector[4]'],
      ]
      for (const [bad, detail, field] of cases) {
        const response = await upload('test1', [{ text_id: 'good-first', vector: KANT }, bad, { text_id: 'good-last', vector: KANT }])
        assert.equal(response.status, 400, JSON.stringify(bad))
        assert.equal(response.body.detail, detail)
        assert.deepEqual(response.body.errors, [{ location: `body.embeddings[1].${field}`, message: detail }])
      }
      assert.equal(await stored(), before)
      assert.equal((await server.request('GET', '/v1/embeddings/alice/test1/good-first', { key: as('alice') })).status, 404)
    })

    it('rejects malformed records with 422 before looking at the project', async () => {
      const cases: Array<[unknown, string]> = [
        [[{ foo: 'x', vector: [], vector_dim: 10 }], 'body.embeddings[0]'],
        [[{ text_id: 'x', vector: [] }], 'body.embeddings[0].vector'],
        [[{ text_id: '', vector: KANT }], 'body.embeddings[0].text_id'],
        [[{ text_id: 'x', vector: ['1', 2, 3, 4, 5] }], 'body.embeddings[0].vector[0]'],
        [[{ text_id: 'x', vector: KANT, colour: 'red' }], 'body.embeddings[0].colour'],
        [[], 'body.embeddings'],
      ]
      for (const [embeddings, location] of cases) {
        const response = await upload('test1', embeddings as unknown[])
        assert.equal(response.status, 422, JSON.stringify(embeddings))
        assert.ok(response.body.errors.some((e: { location: string }) => e.location === location), JSON.stringify(response.body.errors))
      }
    })

    it('accepts the old field llm_service_handle and the "owner/handle" form', async () => {
      assert.equal((await upload('test1', [{ text_id: 'legacy', vector: KANT, llm_service_handle: 'embedding1' }])).status, 201)
      assert.equal((await upload('test1', [{ text_id: 'slashed', vector: KANT, instance_handle: 'alice/embedding1' }])).status, 201)
      assert.equal((await upload('test1', [{ text_id: 'wrong-owner', vector: KANT, instance_handle: 'embedding1', instance_owner: 'bob' }])).status, 400)
    })

    it('validates metadata against the project schema after the shallow merge', async () => {
      const valid = await upload('schema1', [{ text_id: 'test-valid-metadata', vector: KANT, metadata: { author: 'Kant', year: 1781 } }])
      assert.equal(valid.status, 201)
      const missingAuthor = await upload('schema1', [{ text_id: 'test-invalid-metadata', vector: KANT, metadata: { year: 1781 } }])
      assert.equal(missingAuthor.status, 400)
      assert.equal(missingAuthor.body.detail, "metadata validation failed for text_id 'test-invalid-metadata': metadata validation failed:\n  - (root): author is required")
      const wrongType = await upload('schema1', [{ text_id: 'typed', vector: KANT, metadata: { author: 'Kant', year: 'long ago' } }])
      assert.equal(wrongType.body.detail, "metadata validation failed for text_id 'typed': metadata validation failed:\n  - year: Invalid type. Expected: integer, given: string")
      const none = await upload('schema1', [{ text_id: 'bare', vector: KANT }])
      assert.equal(none.body.detail, "metadata validation failed for text_id 'bare': metadata is required when project has a metadata schema defined")
      // An update merges: the stored author stays, year changes, the schema sees the merged object.
      assert.equal((await upload('schema1', [{ text_id: 'test-valid-metadata', vector: KANT, metadata: { year: 1787 } }])).status, 201)
      const merged = await server.request('GET', '/v1/embeddings/alice/schema1/test-valid-metadata', { key: as('alice') })
      assert.deepEqual(merged.body.metadata, { author: 'Kant', year: 1787 })
      const dropAuthor = await upload('schema1', [{ text_id: 'test-valid-metadata', vector: KANT, metadata: { author: null } }])
      assert.equal(dropAuthor.status, 400, 'null deletes the key, and then the schema refuses it')
      assert.equal((await upload('schema1', [{ text_id: 'test-valid-metadata', vector: KANT }])).status, 201, 'an update without metadata keeps it')
      assert.equal(await stored('schema1'), 1)
    })

    it('merges metadata and keeps text on update, as the reference does', async () => {
      await upload('test1', [{ text_id: 'merge', vector: KANT, text: 'original', metadata: { a: 1, b: 2 } }])
      await upload('test1', [{ text_id: 'merge', vector: [1, 1, 1, 1, 1], text: '', metadata: { b: null, c: 3 } }])
      const got = await server.request('GET', '/v1/embeddings/alice/test1/merge', { key: as('alice') })
      assert.equal(got.body.text, 'original')
      assert.deepEqual(got.body.metadata, { a: 1, c: 3 })
      assert.deepEqual(got.body.vector, [1, 1, 1, 1, 1])
      // The same id twice in one batch: applied in order.
      await upload('test1', [{ text_id: 'twice', vector: KANT, metadata: { n: 1 } }, { text_id: 'twice', vector: KANT, metadata: { m: 2 } }])
      assert.deepEqual((await server.request('GET', '/v1/embeddings/alice/test1/twice', { key: as('alice') })).body.metadata, { n: 1, m: 2 })
    })

    it('round-trips awkward text ids: spaces, slashes, URLs, pre-encoded URLs, unicode', async () => {
      const ids = ['doc 1', 'a/b', 'https://id.example.org/texts/W0001:vol1?x=1&y=2#f', salamanca(9), 'Ünïcödé ✓', 'x', 'p%2', '100%']
      const response = await upload('test1', ids.map((text_id) => ({ text_id, vector: KANT })))
      assert.equal(response.status, 201)
      for (const id of ids) {
        const got = await server.request('GET', `/v1/embeddings/alice/test1/${encodeURIComponent(id)}`, { key: as('alice') })
        assert.equal(got.status, 200, id)
        assert.equal(got.body.text_id, id)
      }
      const long = 'L'.repeat(1000)
      assert.equal((await upload('test1', [{ text_id: long, vector: KANT }])).status, 201)
      assert.equal((await server.request('GET', `/v1/embeddings/alice/test1/${long}`, { key: as('alice') })).status, 200)
      assert.equal((await server.request('DELETE', `/v1/embeddings/alice/test1/${encodeURIComponent('a/b')}`, { key: as('alice') })).status, 204)
      assert.equal((await server.request('GET', `/v1/embeddings/alice/test1/${encodeURIComponent('a/b')}`, { key: as('alice') })).status, 404)
    })

    it('lists in text_id order with paging; an empty project lists [] (D18); records without metadata omit it (D8)', async () => {
      await server.request('PUT', '/v1/projects/alice/listing', { key: as('alice'), body: { project_handle: 'listing', instance_handle: 'embedding1' } })
      assert.deepEqual((await server.request('GET', '/v1/embeddings/alice/listing', { key: as('alice') })).body, { embeddings: [] })
      await upload('listing', ['c', 'a', 'b', 'B'].map((text_id) => ({ text_id, vector: KANT })))
      const all = await server.request('GET', '/v1/embeddings/alice/listing', { key: as('alice') })
      assert.deepEqual(all.body.embeddings.map((e: { text_id: string }) => e.text_id), ['B', 'a', 'b', 'c'])
      assert.equal('metadata' in all.body.embeddings[0], false)
      assert.equal('text' in all.body.embeddings[0], false)
      const page = await server.request('GET', '/v1/embeddings/alice/listing?limit=2&offset=1', { key: as('alice') })
      assert.deepEqual(page.body.embeddings.map((e: { text_id: string }) => e.text_id), ['a', 'b'])
      assert.equal((await server.request('GET', '/v1/embeddings/alice/listing?limit=201', { key: as('alice') })).status, 422)
    })

    it('answers a missing record with the reference message', async () => {
      const response = await server.request('GET', '/v1/embeddings/alice/test1/nonexistent', { key: as('alice') })
      assert.equal(response.status, 404)
      assert.equal(response.body.detail, 'no embeddings found for user alice, project test1, id nonexistent.')
      assert.equal((await server.request('GET', '/v1/embeddings/alice/nothing', { key: as('alice') })).body.detail, "user alice's project nothing not found")
    })

    it('lets editors write, readers only read, strangers nothing (D11)', async () => {
      assert.equal((await upload('test1', [{ text_id: 'by-carol', vector: KANT }], 'carol')).status, 201)
      assert.equal((await server.request('DELETE', '/v1/embeddings/alice/test1/by-carol', { key: as('carol') })).status, 204)
      const reader = await upload('test1', [{ text_id: 'by-bob', vector: KANT }], 'bob')
      assert.equal(reader.status, 403)
      assert.equal((await server.request('GET', '/v1/embeddings/alice/test1?limit=1', { key: as('bob') })).status, 200)
      assert.equal((await server.request('DELETE', '/v1/embeddings/alice/test1', { key: as('bob') })).status, 403)
      assert.equal((await upload('test1', [{ text_id: 'by-dave', vector: KANT }], 'dave')).status, 404)
      assert.equal((await server.request('GET', '/v1/embeddings/alice/test1', { key: as('dave') })).status, 404)
    })

    it('lets anyone read a public project without a key, but never write to it', async () => {
      await server.request('PUT', '/v1/projects/alice/public1', { key: as('alice'), body: { project_handle: 'public1', instance_handle: 'embedding1', public_read: true } })
      await upload('public1', [{ text_id: 'open', vector: KANT, metadata: { author: 'Kant' } }])
      assert.equal((await server.request('GET', '/v1/embeddings/alice/public1', { key: null })).body.embeddings.length, 1)
      assert.equal((await server.request('GET', '/v1/embeddings/alice/public1/open', { key: null })).status, 200)
      const write = await server.request('POST', '/v1/embeddings/alice/public1', { key: null, body: { embeddings: [{ text_id: 'anon', vector: KANT }] } })
      assert.equal(write.status, 401)
      assert.equal((await server.request('DELETE', '/v1/embeddings/alice/public1/open', { key: null })).status, 401)
      assert.equal((await server.request('GET', '/v1/embeddings/alice/test1', { key: null })).status, 401, 'a private project needs a key')
    })

    it('deletes one record and all records, keeping the count right', async () => {
      await server.request('PUT', '/v1/projects/alice/counted', { key: as('alice'), body: { project_handle: 'counted', instance_handle: 'embedding1' } })
      await upload('counted', ['a', 'b', 'c'].map((text_id) => ({ text_id, vector: KANT })))
      await upload('counted', ['c', 'd'].map((text_id) => ({ text_id, vector: KANT })))
      const count = async () => (await server.request('GET', '/v1/projects/alice/counted', { key: as('alice') })).body.number_of_embeddings
      assert.equal(await count(), 4)
      assert.equal((await server.request('DELETE', '/v1/embeddings/alice/counted/a', { key: as('alice') })).status, 204)
      assert.equal(await count(), 3)
      assert.equal((await server.request('DELETE', '/v1/embeddings/alice/counted/a', { key: as('alice') })).status, 404)
      assert.equal((await server.request('DELETE', '/v1/embeddings/alice/counted', { key: as('alice') })).status, 204)
      assert.equal(await count(), 0)
      assert.equal(await stored('counted'), 0)
    })

    it('stores and searches 4,000-dimension vectors (and 16,000, searched exactly)', async () => {
      for (const dimensions of [4000, 16000]) {
        const handle = `dims${dimensions}`
        await server.request('PUT', `/v1/llm-instances/alice/${handle}`, {
          key: as('alice'),
          body: { instance_handle: handle, endpoint: 'https://api.foo.bar/v1/embed', model: 'wide', dimensions },
        })
        await server.request('PUT', `/v1/projects/alice/${handle}`, { key: as('alice'), body: { project_handle: handle, instance_handle: handle } })
        const vectors = [0, 1, 2].map((k) => Array.from({ length: dimensions }, (_, i) => Math.sin(i * (k + 1))))
        const response = await upload(handle, vectors.map((vector, k) => ({ text_id: `v${k}`, vector, vector_dim: dimensions })))
        assert.equal(response.status, 201)
        const got = await server.request('GET', `/v1/embeddings/alice/${handle}/v1`, { key: as('alice') })
        assert.equal(got.body.vector.length, dimensions)
        const search = await server.request('POST', `/v1/similars/alice/${handle}?threshold=-1`, { key: as('alice'), body: { vector: vectors[1] } })
        assert.equal(search.status, 200)
        assert.equal(search.body.results[0].id, 'v1')
        assert.ok(Math.abs(search.body.results[0].similarity - 1) < 1e-6)
      }
    })

    it('refuses a change of dimensions while a project holds embeddings (409)', async () => {
      await server.request('PUT', '/v1/llm-instances/alice/seven', { key: as('alice'), body: { instance_handle: 'seven', endpoint: 'https://api.foo.bar/v1/embed', model: 'm', dimensions: 7 } })
      await server.request('PUT', '/v1/llm-instances/alice/five', { key: as('alice'), body: { instance_handle: 'five', endpoint: 'https://api.foo.bar/v1/embed', model: 'm', dimensions: 5 } })
      await server.request('PUT', '/v1/projects/alice/dims', { key: as('alice'), body: { project_handle: 'dims', instance_handle: 'embedding1' } })
      await upload('dims', [{ text_id: 'one', vector: KANT }])
      const wider = await server.request('PATCH', '/v1/projects/alice/dims', { key: as('alice'), body: { instance_handle: 'seven' } })
      assert.equal(wider.status, 409)
      assert.equal(wider.body.code, 'project_has_embeddings')
      assert.equal((await server.request('PATCH', '/v1/projects/alice/dims', { key: as('alice'), body: { instance_handle: null } })).status, 409)
      assert.equal((await server.request('PATCH', '/v1/projects/alice/dims', { key: as('alice'), body: { instance_handle: 'five' } })).status, 200, 'same dimensions are fine')
      const resize = await server.request('PATCH', '/v1/llm-instances/alice/five', { key: as('alice'), body: { dimensions: 6 } })
      assert.equal(resize.status, 409)
      assert.equal(resize.body.code, 'instance_in_use')
      await server.request('DELETE', '/v1/embeddings/alice/dims', { key: as('alice') })
      assert.equal((await server.request('PATCH', '/v1/projects/alice/dims', { key: as('alice'), body: { instance_handle: 'seven' } })).status, 200, 'once empty, any instance')
    })
  })
}
