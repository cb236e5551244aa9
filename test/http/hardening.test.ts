import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { DATABASES } from '../helpers/databases.js'
import { type GatewayFixture, mockEndpoint, putMockInstance, startGateway } from '../helpers/gateway.js'

/** The bad input that once answered 500 or leaked, each case on its own (docs/errors.md#input-refused-everywhere). */

const nested = (levels: number, leaf = '1') => `${'{"a":'.repeat(levels)}${leaf}${'}'.repeat(levels)}`

for (const kind of DATABASES) {
  describe(`bad input on the ${kind} database`, () => {
    let fixture: GatewayFixture
    let alice: string
    const request = (method: string, path: string, options: Parameters<GatewayFixture['server']['request']>[2] = {}) =>
      fixture.server.request(method, path, { key: alice, ...options })
    const records = async () => (await request('GET', '/v1/embeddings/alice/proj?limit=200')).body.embeddings.map((r: { text_id: string }) => r.text_id).sort()

    before(async () => {
      fixture = await startGateway(kind, ['alice', 'bob'])
      alice = fixture.keys.alice as string
      await putMockInstance(fixture, 'alice', 'emb', { kind: 'embedding' })
      await putMockInstance(fixture, 'alice', 'chat')
      await request('PUT', '/v1/projects/alice/proj', { body: { project_handle: 'proj', instance_handle: 'emb' } })
      await request('POST', '/v1/embeddings/alice/proj', { body: { embeddings: [{ text_id: 'kept', vector: [1, 0, 0, 0, 0, 0, 0, 0], metadata: { a: 1 } }] } })
    })
    after(async () => fixture?.close())

    const assertIssue = (response: { status: number; body: { code: string; errors?: Array<{ location: string; message: string }> } }, location: string, message: RegExp) => {
      assert.equal(response.status, 422, JSON.stringify(response.body))
      assert.equal(response.body.code, 'validation_failed')
      assert.equal(response.body.errors?.[0]?.location, location)
      assert.match(response.body.errors?.[0]?.message ?? '', message)
    }

    it('refuses a NUL byte in a body field with 422 naming it, and changes nothing', async () => {
      assertIssue(await request('PATCH', '/v1/users/alice', { raw: '{"name":"a\\u0000b"}', headers: { 'content-type': 'application/json' } }), 'body.name', /NUL/)
      assert.equal((await request('GET', '/v1/users/alice')).body.name, 'User alice')
    })

    it('refuses a NUL byte in a query value and in a path value', async () => {
      assertIssue(await request('GET', '/v1/jobs/alice?type=%00'), 'query.type', /NUL/)
      assertIssue(await request('GET', '/v1/embeddings/alice/proj/a%00b'), 'path.text_id', /NUL/)
    })

    it("refuses a NUL byte in the gateway's model in OpenAI's envelope, naming the param", async () => {
      const response = await request('POST', '/v1/chat/completions', { raw: '{"model":"chat\\u0000","messages":[{"role":"user","content":"hi"}]}', headers: { 'content-type': 'application/json' } })
      assert.equal(response.status, 422)
      assert.equal(response.body.error.type, 'invalid_request_error')
      assert.equal(response.body.error.param, 'model')
    })

    it('refuses numbers in queries that are not finite or do not fit, on every kind of list', async () => {
      for (const path of ['/v1/jobs/alice?limit=Infinity', '/v1/jobs/alice?limit=1e400', '/v1/llm-instances/alice?offset=99999999999999999999', '/v1/requests/alice?status=1e400', '/v1/projects/alice?limit=-Infinity']) {
        const response = await request('GET', path)
        assert.equal(response.status, 422, `${path}: ${response.text}`)
        assert.match(response.body.errors[0].message, /finite|<=|>=/)
      }
    })

    it('refuses JSON nested deeper than 64 levels in metadata, filters and metadata schemas, storing nothing', async () => {
      const upload = await request('POST', '/v1/embeddings/alice/proj', {
        raw: `{"embeddings":[{"text_id":"deep","vector":[1,0,0,0,0,0,0,0],"metadata":${nested(10_000)}}]}`,
        headers: { 'content-type': 'application/json' },
      })
      assertIssue(upload, 'body.embeddings', /64 levels/)
      const search = await request('POST', '/v1/similars/alice/proj', { raw: `{"vector":[1,0,0,0,0,0,0,0],"filter":${nested(10_000)}}`, headers: { 'content-type': 'application/json' } })
      assertIssue(search, 'body.filter', /64 levels/)
      const schema = await request('PUT', '/v1/projects/alice/deepschema', { body: { project_handle: 'deepschema', instance_handle: 'emb', metadataScheme: nested(3_000, '{}') } })
      assert.equal(schema.status, 400)
      assert.equal(schema.body.code, 'invalid_metadata_schema')
      assert.match(schema.body.detail, /64 levels/)
      assert.equal((await request('GET', '/v1/projects/alice/deepschema')).status, 404)
      assert.deepEqual(await records(), ['kept'])
    })

    it('refuses unpaired surrogates with 422 naming the field, rather than changing the text', async () => {
      const inMetadata = await request('POST', '/v1/embeddings/alice/proj', { raw: '{"embeddings":[{"text_id":"s1","vector":[1,0,0,0,0,0,0,0],"metadata":{"t":"\\ud800"}}]}', headers: { 'content-type': 'application/json' } })
      assertIssue(inMetadata, 'body.embeddings[0].metadata.t', /surrogate/)
      const twoIds = await request('POST', '/v1/embeddings/alice/proj', {
        raw: '{"embeddings":[{"text_id":"x\\ud800","vector":[1,0,0,0,0,0,0,0]},{"text_id":"x\\udbff","vector":[0,1,0,0,0,0,0,0]}]}',
        headers: { 'content-type': 'application/json' },
      })
      assertIssue(twoIds, 'body.embeddings[0].text_id', /surrogate/)
      assert.deepEqual(await records(), ['kept'])
      const paired = await request('PATCH', '/v1/users/alice', { raw: '{"name":"\\ud83d\\ude00 ok"}', headers: { 'content-type': 'application/json' } })
      assert.equal(paired.status, 200)
      assert.equal(paired.body.name, '😀 ok', 'a pair is a character like any other, kept exactly')
    })

    it('answers a path that does not decode to UTF-8 with a 400 in our formats', async () => {
      for (const path of ['/v1/users/%ff%fe', '/v1/users/%ED%A0%80', '/v1/users/%C0%AE']) {
        const response = await request('GET', path)
        assert.equal(response.status, 400, path)
        assert.equal(response.headers.get('content-type'), 'application/problem+json; charset=utf-8')
        assert.equal(response.body.code, 'bad_request')
      }
      const gateway = await request('POST', '/v1/chat/%ff', { body: {} })
      assert.equal(gateway.status, 400)
      assert.equal(typeof gateway.body.error.message, 'string', "OpenAI's envelope on the gateway's paths")
    })

    it('answers unknown routes under the SDK paths in the SDK envelope', async () => {
      const openAi = await request('GET', '/v1/chat/nope')
      assert.equal(openAi.status, 404)
      assert.equal(openAi.body.error.code, 'route_not_found')
      const anthropic = await request('POST', '/v1/messages/batches', { body: {} })
      assert.equal(anthropic.status, 404)
      assert.equal(anthropic.body.type, 'error')
    })

    it('answers a text/plain body with 415 and never repeats it', async () => {
      const response = await request('PUT', '/v1/llm-instances/alice/plain', { raw: '{"api_key":"sk-plain-secret-123"}', headers: { 'content-type': 'text/plain' } })
      assert.equal(response.status, 415)
      assert.equal(response.body.code, 'unsupported_media_type')
      assert.ok(!response.text.includes('sk-plain-secret-123'))
    })

    it('never repeats a secret field in a validation error, and refuses a key that cannot be a header value', async () => {
      const placeholder = await request('PUT', '/v1/llm-instances/alice/pasted', {
        body: { instance_handle: 'pasted', kind: 'chat', api_standard: 'anthropic', endpoint: mockEndpoint(fixture.mock, 'anthropic'), model: 'm', api_key: 'sk-ant-secret…' },
      })
      assertIssue(placeholder, 'body.api_key', /visible ASCII/)
      assert.ok(!placeholder.text.includes('sk-ant-secret'), 'the key is not echoed')
      assert.equal((await request('GET', '/v1/llm-instances/alice/pasted')).status, 404, 'nothing was stored')
      const wrongType = await request('PUT', '/v1/llm-instances/alice/pasted', { body: { instance_handle: 'pasted', endpoint: 'https://api.openai.com/v1', model: 'm', dimensions: 3, api_key: 12345 } })
      assert.equal(wrongType.status, 422)
      assert.ok(!('value' in wrongType.body.errors.find((e: { location: string }) => e.location === 'body.api_key')))
    })

    it('lets 20 concurrent PUTs of one new handle all succeed, the last writer winning', async () => {
      const bodies = Array.from({ length: 20 }, (_, i) => ({ instance_handle: 'raced', endpoint: mockEndpoint(fixture.mock, 'openai', 'embeddings'), model: `m${i}`, dimensions: 8 }))
      const answers = await Promise.all(bodies.map((body) => request('PUT', '/v1/llm-instances/alice/raced', { body })))
      assert.deepEqual(answers.map((a) => a.status), bodies.map(() => 201))
      assert.equal(new Set(answers.map((a) => a.body.instance_id)).size, 1, 'one instance')
      const model = (await request('GET', '/v1/llm-instances/alice/raced')).body.model
      assert.ok(bodies.some((body) => body.model === model))
      const projects = await Promise.all(Array.from({ length: 20 }, (_, i) => request('PUT', '/v1/projects/alice/racedproj', { body: { project_handle: 'racedproj', description: `d${i}`, instance_handle: 'emb' } })))
      assert.deepEqual(projects.map((a) => a.status), projects.map(() => 201))
      assert.equal(new Set(projects.map((a) => a.body.project_id)).size, 1)
    })
  })

  describe(`the address guard of a server that allows no private endpoints, on the ${kind} database`, () => {
    let fixture: GatewayFixture
    before(async () => {
      fixture = await startGateway(kind, ['alice'], { LLMBASE_ALLOW_PRIVATE_ENDPOINTS: 'false' })
    })
    after(async () => fixture?.close())

    it('refuses every IPv6 form of a private IPv4 address and a trailing dot, for instances and webhooks', async () => {
      for (const url of ['http://[64:ff9b::a9fe:a9fe]/v1', 'http://[::a9fe:a9fe]/v1', 'http://[2002:a9fe:a9fe::]/v1', 'http://[::ffff:7f00:1]/v1', 'http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/', 'http://localhost./v1', 'http://LOCALHOST./v1']) {
        const instance = await fixture.server.request('PUT', '/v1/llm-instances/alice/ssrf', { key: fixture.keys.alice, body: { instance_handle: 'ssrf', endpoint: url, model: 'm', dimensions: 3 } })
        assert.equal(instance.status, 400, url)
        assert.equal(instance.body.code, 'endpoint_not_allowed')
        const webhook = await fixture.server.request('POST', '/v1/webhooks/alice', { key: fixture.keys.alice, body: { url } })
        assert.equal(webhook.status, 400, url)
      }
      assert.equal((await fixture.server.request('GET', '/v1/llm-instances/alice/ssrf', { key: fixture.keys.alice })).status, 404)
    })
  })
}
