import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import fc from 'fast-check'
import { findJsonProblem, MAX_JSON_DEPTH } from '../../src/http/input-guard.js'
import { DATABASES } from '../helpers/databases.js'
import { createUser, startTestServer, type TestServer } from '../helpers/server.js'

/**
 * Properties of the input checks: text is refused exactly when PostgreSQL could not store it
 * unchanged, and what is accepted comes back exactly as it was sent.
 */

/** Any UTF-16 code unit, so that unpaired surrogates and NUL turn up often. */
const codeUnit = fc.oneof(
  fc.integer({ min: 0, max: 0xffff }).map((unit) => String.fromCharCode(unit)),
  fc.constantFrom('\u0000', '\ud800', '\udfff', '\ud83d\ude00', 'a', 'é', '"', '\\'),
)
const anyText = fc.string({ unit: codeUnit, maxLength: 40 })

/** The rule, written plainly and recursively, to hold the guard's iterative walk against. */
function storable(value: unknown, depth = 0): boolean {
  const clean = (text: string) => !text.includes('\u0000') && !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(text)
  if (typeof value === 'string') return clean(value)
  if (value === null || typeof value !== 'object') return true
  if (depth >= MAX_JSON_DEPTH) return false
  return Object.entries(value).every(([key, child]) => (Array.isArray(value) || clean(key)) && storable(child, depth + 1))
}

const jsonWith = (text: fc.Arbitrary<string>, maxDepth: number) =>
  fc.letrec((tie) => ({
    value: fc.oneof({ depthSize: 'small', maxDepth }, fc.constant(null), fc.boolean(), fc.double({ noNaN: true, noDefaultInfinity: true }), text, tie('array'), tie('object')),
    array: fc.array(tie('value'), { maxLength: 4 }),
    object: fc.dictionary(text, tie('value'), { maxKeys: 4 }),
  })).value

const nestedArrays = fc.integer({ min: 0, max: 150 }).map((levels) => {
  let value: unknown = 'leaf'
  for (let i = 0; i < levels; i++) value = [value]
  return value
})

describe('the input guard', () => {
  it('finds a problem exactly when a value holds NUL, an unpaired surrogate or more than 64 levels', () => {
    fc.assert(
      fc.property(fc.oneof(jsonWith(anyText, 4), nestedArrays), (value) => {
        assert.equal(findJsonProblem(value, 'body') === null, storable(value))
      }),
      { numRuns: 2_000 },
    )
  })

  it('locates the problem at a path that leads to it', () => {
    fc.assert(
      fc.property(jsonWith(anyText, 4), (value) => {
        const issue = findJsonProblem({ field: value }, 'body')
        if (issue) assert.match(issue.location, /^body\.field/)
      }),
      { numRuns: 500 },
    )
  })
})

for (const kind of DATABASES) {
  describe(`text through the API on the ${kind} database`, () => {
    let server: TestServer
    let key: string
    before(async () => {
      server = await startTestServer(kind)
      key = (await createUser(server, 'alice')).key
      await server.request('PUT', '/v1/llm-instances/alice/emb', { key, body: { instance_handle: 'emb', endpoint: 'https://api.openai.com/v1/embeddings', model: 'm', dimensions: 2 } })
      await server.request('PUT', '/v1/projects/alice/proj', { key, body: { project_handle: 'proj', instance_handle: 'emb' } })
    })
    after(async () => server?.close())

    it('stores any name exactly, or refuses it with 422 at body.name when it cannot', async () => {
      await fc.assert(
        fc.asyncProperty(fc.string({ unit: codeUnit, maxLength: 60 }), async (name) => {
          const response = await server.request('PATCH', '/v1/users/alice', { key, body: { name } })
          if (storable(name)) {
            assert.equal(response.status, 200, response.text)
            assert.equal((await server.request('GET', '/v1/users/alice', { key })).body.name, name)
          } else {
            assert.equal(response.status, 422, response.text)
            assert.equal(response.body.errors[0].location, 'body.name')
          }
        }),
        { numRuns: 60 },
      )
    })

    it('stores any metadata exactly, or refuses it with 422 naming where, never a 5xx', async () => {
      let n = 0
      await fc.assert(
        fc.asyncProperty(fc.dictionary(anyText, jsonWith(anyText, 3), { maxKeys: 4 }), async (metadata) => {
          const textId = `rec-${n++}`
          const raw = JSON.stringify({ embeddings: [{ text_id: textId, vector: [1, 0], metadata }] })
          const response = await server.request('POST', '/v1/embeddings/alice/proj', { key, raw, headers: { 'content-type': 'application/json' } })
          assert.ok(response.status < 500, response.text)
          if (storable(metadata)) {
            // A property named __proto__ is refused as an attempt at prototype pollution.
            if (response.status === 400 && response.body.code === 'invalid_json') return assert.match(raw, /__proto__|constructor/)
            assert.equal(response.status, 201, response.text)
            const stored = await server.request('GET', `/v1/embeddings/alice/proj/${encodeURIComponent(textId)}`, { key })
            assert.deepEqual(stored.body.metadata, JSON.parse(JSON.stringify(metadata)))
          } else {
            assert.equal(response.status, 422, response.text)
            assert.match(response.body.errors[0].location, /^body\.embeddings\[0\]\.metadata/)
          }
        }),
        { numRuns: 40 },
      )
    })
  })
}
