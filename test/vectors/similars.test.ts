import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { VECTOR_SETUPS } from '../helpers/databases.js'
import { createUser, startTestServer, type TestServer } from '../helpers/server.js'

/** Unit vectors at known angles to e1 = [1, 0, 0], so every similarity is known exactly. */
const at = (degrees: number) => [Math.cos((degrees * Math.PI) / 180), Math.sin((degrees * Math.PI) / 180), 0]
const RECORDS = [
  { text_id: 'a0', vector: at(0), text: 'zero', metadata: { author: 'Kant', year: 1781, work: { title: 'Critique', volume: 1 }, tags: ['x'] } },
  { text_id: 'a10', vector: at(10), text: 'ten', metadata: { author: 'Kant', year: 1787, work: { title: 'Critique', volume: 2 } } },
  { text_id: 'a30', vector: at(30), metadata: { author: 'Hegel', year: 1807, work: { title: 'Phenomenology' } } },
  { text_id: 'a60', vector: at(60), metadata: { author: ' Kant ', year: '1790' } },
  { text_id: 'a90', vector: at(90), metadata: { author: 'Fichte', year: 1794, note: null } },
  { text_id: 'a120', vector: at(120) },
  { text_id: 'a180', vector: at(180), metadata: { author: 'Schelling', year: 1800 } },
]

for (const { kind, label, env } of VECTOR_SETUPS) {
  describe(`similarity search, ${label}`, () => {
    let server: TestServer
    let alice: string
    let bob: string

    before(async () => {
      server = await startTestServer(kind, { env })
      alice = (await createUser(server, 'alice')).key
      bob = (await createUser(server, 'bob')).key
      await server.request('PUT', '/v1/llm-instances/alice/three', { key: alice, body: { instance_handle: 'three', endpoint: 'https://api.example.org/e', model: 'm', dimensions: 3 } })
      for (const [handle, publicRead] of [['angles', false], ['open', true], ['empty', false]] as const) {
        await server.request('PUT', `/v1/projects/alice/${handle}`, { key: alice, body: { project_handle: handle, instance_handle: 'three', public_read: publicRead } })
      }
      for (const handle of ['angles', 'open']) {
        assert.equal((await server.request('POST', `/v1/embeddings/alice/${handle}`, { key: alice, body: { embeddings: RECORDS } })).status, 201)
      }
    })
    after(() => server?.close())

    const ids = (response: { body: { results: Array<{ id: string }> } }) => response.body.results.map((r) => r.id)
    const byVector = (query: string, body: Record<string, unknown>, key: string | null = alice) =>
      server.request('POST', `/v1/similars/alice/angles${query}`, { key, body: { vector: at(0), ...body } })

    it('finds the neighbours of a stored record, not the record itself, above the default threshold 0.5', async () => {
      const response = await server.request('GET', '/v1/similars/alice/angles/a0', { key: alice })
      assert.equal(response.status, 200)
      assert.equal(response.body.user_handle, 'alice')
      assert.equal(response.body.project_handle, 'angles')
      assert.deepEqual(ids(response), ['a10', 'a30', 'a60'], 'cos 60° = 0.5 is still in')
      assert.ok(Math.abs(response.body.results[0].similarity - Math.cos(Math.PI / 18)) < 1e-6)
      assert.deepEqual(Object.keys(response.body.results[0]), ['id', 'similarity'])
    })

    it('accepts thresholds down to -1 (D19) and refuses values outside -1…1', async () => {
      assert.deepEqual(ids(await server.request('GET', '/v1/similars/alice/angles/a0?threshold=-1', { key: alice })), ['a10', 'a30', 'a60', 'a90', 'a120', 'a180'])
      assert.deepEqual(ids(await server.request('GET', '/v1/similars/alice/angles/a0?threshold=0', { key: alice })), ['a10', 'a30', 'a60', 'a90'])
      assert.equal((await server.request('GET', '/v1/similars/alice/angles/a0?threshold=1.5', { key: alice })).status, 422)
      assert.equal((await server.request('GET', '/v1/similars/alice/angles/a0?threshold=-2', { key: alice })).status, 422)
    })

    it('returns min(count, limit) results after offset', async () => {
      assert.deepEqual(ids(await server.request('GET', '/v1/similars/alice/angles/a0?threshold=-1&count=2', { key: alice })), ['a10', 'a30'])
      assert.deepEqual(ids(await server.request('GET', '/v1/similars/alice/angles/a0?threshold=-1&limit=3&count=5', { key: alice })), ['a10', 'a30', 'a60'])
      assert.deepEqual(ids(await server.request('GET', '/v1/similars/alice/angles/a0?threshold=-1&limit=2&offset=2', { key: alice })), ['a60', 'a90'])
      assert.equal((await server.request('GET', '/v1/similars/alice/angles/a0?count=0', { key: alice })).status, 422)
      assert.equal((await server.request('GET', '/v1/similars/alice/angles/a0?limit=201', { key: alice })).status, 422)
    })

    it('leaves out records whose metadata_path value equals metadata_value (trimmed), keeping records without the key', async () => {
      const response = await server.request('GET', '/v1/similars/alice/angles/a0?threshold=-1&metadata_path=author&metadata_value=Kant', { key: alice })
      assert.deepEqual(ids(response), ['a30', 'a90', 'a120', 'a180'])
      const pathOnly = await server.request('GET', '/v1/similars/alice/angles/a0?metadata_path=author', { key: alice })
      assert.equal(pathOnly.status, 400)
      assert.equal(pathOnly.body.detail, 'metadata_path is set but metadata_value is not')
      const valueOnly = await byVector('?metadata_value=Kant', {})
      assert.equal(valueOnly.status, 400)
      assert.equal(valueOnly.body.detail, 'metadata_value is set but metadata_path is not')
    })

    it('adds text and metadata on request', async () => {
      const response = await byVector('?threshold=0.9&include=text,metadata', {})
      assert.deepEqual(response.body.results[0], { id: 'a0', similarity: response.body.results[0].similarity, text: 'zero', metadata: RECORDS[0]?.metadata })
      assert.deepEqual(response.body.results[1].text, 'ten')
      const textOnly = await byVector('?threshold=0.9&include=text', {})
      assert.equal('metadata' in textOnly.body.results[0], false)
      assert.equal((await byVector('?include=vectors', {})).status, 422)
    })

    const filterCases: Array<[string, Record<string, unknown>, string[]]> = [
      ['equality', { author: 'Kant' }, ['a0', 'a10']],
      ['equality on a nested key', { 'work.title': 'Critique' }, ['a0', 'a10']],
      ['$ne, which keeps records without the key', { author: { $ne: 'Kant' } }, ['a30', 'a60', 'a90', 'a120', 'a180']],
      ['$in', { author: { $in: ['Hegel', 'Fichte'] } }, ['a30', 'a90']],
      ['$nin, which keeps records without the key', { author: { $nin: ['Kant', 'Hegel', ' Kant '] } }, ['a90', 'a120', 'a180']],
      ['$gt on numbers (a string "1790" is not a number)', { year: { $gt: 1790 } }, ['a30', 'a90', 'a180']],
      ['$gte and $lt together', { year: { $gte: 1787, $lt: 1800 } }, ['a10', 'a90']],
      ['$lte', { year: { $lte: 1781 } }, ['a0']],
      ['a range on strings', { author: { $gte: 'H', $lt: 'L' } }, ['a0', 'a10', 'a30']],
      ['$exists true (a JSON null exists)', { note: { $exists: true } }, ['a90']],
      ['$exists false', { 'work.volume': { $exists: false } }, ['a30', 'a60', 'a90', 'a120', 'a180']],
      ['equality on a number', { 'work.volume': 2 }, ['a10']],
      ['several keys, combined with AND', { author: 'Kant', year: { $gt: 1781 } }, ['a10']],
      ['equality on an array', { tags: ['x'] }, ['a0']],
    ]
    for (const [name, filter, expected] of filterCases) {
      it(`filters by metadata: ${name}`, async () => {
        const response = await byVector('?threshold=-1', { filter })
        assert.equal(response.status, 200, JSON.stringify(response.body))
        assert.deepEqual(ids(response), expected)
      })
    }

    it('rejects malformed filters with 422 naming the place', async () => {
      const cases: Array<[unknown, string]> = [
        [{ year: { $between: [1, 2] } }, 'body.filter.year.$between'],
        [{ author: { $in: 'Kant' } }, 'body.filter.author.$in'],
        [{ year: { $gt: true } }, 'body.filter.year.$gt'],
        [{ note: { $exists: 'yes' } }, 'body.filter.note.$exists'],
        [{ 'a..b': 1 }, 'body.filter.a..b'],
        ['author=Kant', 'body.filter'],
      ]
      for (const [filter, location] of cases) {
        const response = await byVector('', { filter })
        assert.equal(response.status, 422, JSON.stringify(filter))
        assert.ok(response.body.errors.some((e: { location: string }) => e.location === location), JSON.stringify(response.body.errors))
      }
    })

    it('treats filter keys and values as data, never as SQL', async () => {
      for (const filter of [{ "author') or true --": 'x' }, { author: "Kant' or '1'='1" }, { author: { $in: ["x'); drop table embeddings; --"] } }]) {
        const response = await byVector('?threshold=-1', { filter })
        assert.equal(response.status, 200)
        assert.deepEqual(ids(response), [])
      }
      assert.equal((await server.request('GET', '/v1/embeddings/alice/angles?limit=1', { key: alice })).status, 200)
    })

    it('refuses a vector of the wrong dimensions and answers [] when nothing matches (D18)', async () => {
      const wrong = await server.request('POST', '/v1/similars/alice/angles', { key: alice, body: { vector: [1, 0, 0, 0, 0] } })
      assert.equal(wrong.status, 400)
      assert.equal(wrong.body.detail, 'vector dimension mismatch: expected 3 dimensions, got 5')
      const none = await server.request('POST', '/v1/similars/alice/empty', { key: alice, body: { vector: at(0) } })
      assert.equal(none.status, 200)
      assert.deepEqual(none.body.results, [])
      const strict = await byVector('?threshold=1', { vector: at(5) })
      assert.deepEqual(strict.body.results, [])
      const missing = await server.request('GET', '/v1/similars/alice/angles/nothing', { key: alice })
      assert.equal(missing.status, 404)
    })

    it('lets anyone search a public project without a key, and nobody else\'s private one', async () => {
      const anonymous = await server.request('POST', '/v1/similars/alice/open', { key: null, body: { vector: at(0) } })
      assert.equal(anonymous.status, 200)
      assert.deepEqual(ids(anonymous), ['a0', 'a10', 'a30', 'a60'])
      assert.equal((await server.request('GET', '/v1/similars/alice/open/a0', { key: null })).status, 200)
      assert.equal((await server.request('POST', '/v1/similars/alice/angles', { key: null, body: { vector: at(0) } })).status, 401)
      assert.equal((await server.request('POST', '/v1/similars/alice/angles', { key: bob, body: { vector: at(0) } })).status, 404)
    })
  })
}
