import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { VECTOR_DATABASES } from '../helpers/databases.js'
import { eventually, type GatewayFixture, putMockInstance, startGateway } from '../helpers/gateway.js'

const KANT = 'Kant wrote the Critique of Pure Reason'
const HEGEL = 'Hegel wrote the Phenomenology of Spirit'
const FICHTE = 'Fichte wrote the Science of Knowledge'
const UNIT = [1, 0, 0, 0, 0, 0, 0, 0]

/** A provider that ignores the dimensions it is asked for: always 16 numbers per text, in OpenAI's shape. */
async function startIgnoringProvider(): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    let raw = ''
    req.on('data', (chunk: Buffer) => {
      raw += chunk.toString('utf8')
    })
    req.on('end', () => {
      const input = (JSON.parse(raw) as { input: string[] }).input
      const body = JSON.stringify({
        object: 'list',
        data: input.map((_, index) => ({ object: 'embedding', index, embedding: Array.from({ length: 16 }, (_v, i) => (i === index % 16 ? 1 : 0)) })),
        model: 'ignoring',
        usage: { prompt_tokens: input.length, total_tokens: input.length },
      })
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
      res.end(body)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/embeddings`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

for (const kind of VECTOR_DATABASES) {
  describe(`vectors computed by the server on the ${kind} database`, () => {
    let fx: GatewayFixture
    let ignoring: Awaited<ReturnType<typeof startIgnoringProvider>>

    before(async () => {
      fx = await startGateway(kind, ['alice', 'bob'])
      ignoring = await startIgnoringProvider()
      await putMockInstance(fx, 'alice', 'embed', { kind: 'embedding' })
      await putMockInstance(fx, 'alice', 'flaky', { kind: 'embedding', tag: 'flaky' })
      await putMockInstance(fx, 'alice', 'gemini', { kind: 'embedding', format: 'gemini' })
      await putMockInstance(fx, 'alice', 'ignoring', { kind: 'embedding', extra: { endpoint: ignoring.url } })
      const projects: Array<[string, Record<string, unknown>]> = [
        ['texts', { instance_handle: 'embed' }],
        ['mixed', { instance_handle: 'embed' }],
        ['search', { instance_handle: 'embed', public_read: true }],
        ['flaky', { instance_handle: 'flaky' }],
        ['gemini', { instance_handle: 'gemini' }],
        ['ignoring', { instance_handle: 'ignoring' }],
        ['bare', {}],
      ]
      for (const [handle, extra] of projects) {
        const response = await fx.server.request('PUT', `/v1/projects/alice/${handle}`, { key: fx.keys.alice, body: { project_handle: handle, ...extra } })
        assert.equal(response.status, 201, response.text)
      }
      await fx.server.request('POST', '/v1/projects/alice/search/share', { key: fx.keys.alice, body: { share_with_handle: 'bob', role: 'reader' } })
    })
    after(async () => {
      await fx?.close()
      await ignoring?.close()
    })

    const upload = (project: string, embeddings: unknown[], key: string | null = fx.keys.alice as string) => fx.server.request('POST', `/v1/embeddings/alice/${project}`, { key, body: { embeddings } })
    const similars = (project: string, body: Record<string, unknown>, key: string | null = fx.keys.alice as string, query = '') =>
      fx.server.request('POST', `/v1/similars/alice/${project}${query}`, { key, body })
    const record = async (project: string, textId: string) => (await fx.server.request('GET', `/v1/embeddings/alice/${project}/${textId}`, { key: fx.keys.alice })).body
    const stored = async (project: string) => (await fx.server.request('GET', `/v1/embeddings/alice/${project}`, { key: fx.keys.alice })).body.embeddings.length
    /** The gateway's calls to an instance of alice's, told apart by the provider key it sends. */
    const callsTo = (instance: string) => fx.mock.received.filter((r) => JSON.stringify(r.headers).includes(`sk-alice-${instance}-secret`))
    /** What the mock answers for a text, asked directly with the request the gateway makes. */
    const embedded = async (text: string): Promise<number[]> => {
      const response = await fetch(`${fx.mock.url}/openai/v1/embeddings`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'openai-embed-model', input: [text], dimensions: 8 }),
      })
      return ((await response.json()) as { data: Array<{ embedding: number[] }> }).data[0]?.embedding as number[]
    }
    const assertClose = (actual: number[], expected: number[], message?: string) => {
      assert.equal(actual.length, expected.length, message)
      actual.forEach((value, i) => assert.ok(Math.abs(value - (expected[i] as number)) < 1e-6, `${message ?? 'vector'}: value ${i} is ${value}, expected ${expected[i]}`))
    }

    it('computes the vectors of records sent with text only, in one call, and stores them with their text', async () => {
      const before = callsTo('embed').length
      const response = await upload('texts', [
        { text_id: 'kant', text: KANT, metadata: { author: 'Kant' } },
        { text_id: 'hegel', text: HEGEL, vector_dim: 8 },
      ])
      assert.equal(response.status, 201, response.text)
      assert.deepEqual(response.body, { ids: ['kant', 'hegel'] })
      const calls = callsTo('embed').slice(before)
      assert.equal(calls.length, 1, 'one provider call for the upload')
      assert.deepEqual((calls[0]?.body as { input: string[] }).input, [KANT, HEGEL])
      const kant = await record('texts', 'kant')
      assert.equal(kant.vector_dim, 8)
      assert.equal(kant.text, KANT)
      assert.deepEqual(kant.metadata, { author: 'Kant' })
      assertClose(kant.vector, await embedded(KANT), 'kant')
      assertClose((await record('texts', 'hegel')).vector, await embedded(HEGEL), 'hegel')
    })

    it('takes records with vectors and records with text in one upload, embedding a repeated text once', async () => {
      const before = callsTo('embed').length
      const response = await upload('mixed', [
        { text_id: 'sent', vector: UNIT, text: 'a text that is not embedded' },
        { text_id: 'kant', text: KANT },
        { text_id: 'kant-again', text: KANT },
      ])
      assert.equal(response.status, 201, response.text)
      assert.deepEqual(response.body.ids, ['sent', 'kant', 'kant-again'])
      const calls = callsTo('embed').slice(before)
      assert.equal(calls.length, 1)
      assert.deepEqual((calls[0]?.body as { input: string[] }).input, [KANT], 'only the records without a vector, each text once')
      assert.deepEqual((await record('mixed', 'sent')).vector, UNIT, 'a sent vector is stored as sent')
      const expected = await embedded(KANT)
      assertClose((await record('mixed', 'kant')).vector, expected)
      assertClose((await record('mixed', 'kant-again')).vector, expected)
    })

    it('calls no provider for an upload of vectors only', async () => {
      const before = fx.mock.received.length
      assert.equal((await upload('mixed', [{ text_id: 'plain', vector: UNIT }])).status, 201)
      assert.equal(fx.mock.received.length, before)
    })

    it('embeds through other providers the same way (Gemini)', async () => {
      const response = await upload('gemini', [{ text_id: 'fichte', text: FICHTE }])
      assert.equal(response.status, 201, response.text)
      assertClose((await record('gemini', 'fichte')).vector, await embedded(FICHTE), 'the mock embeds a text alike in every format')
    })

    it('searches by text: the record whose text is the query comes first, with similarity 1', async () => {
      const uploaded = await upload('search', [
        { text_id: 'kant', text: KANT },
        { text_id: 'hegel', text: HEGEL },
        { text_id: 'fichte', text: FICHTE },
      ])
      assert.equal(uploaded.status, 201, uploaded.text)
      for (const [query, id] of [[KANT, 'kant'], [HEGEL, 'hegel'], [FICHTE, 'fichte']] as const) {
        const response = await similars('search', { text: query }, fx.keys.alice, '?threshold=-1&include=text')
        assert.equal(response.status, 200, response.text)
        assert.equal(response.body.results[0].id, id)
        assert.equal(response.body.results[0].text, query)
        assert.ok(Math.abs(response.body.results[0].similarity - 1) < 1e-5, `similarity ${response.body.results[0].similarity}`)
        assert.equal(response.body.results.length, 3)
      }
      // The same search by the vector the mock gives for the text answers the same.
      const byVector = await similars('search', { vector: await embedded(HEGEL) }, fx.keys.alice, '?threshold=-1')
      const byText = await similars('search', { text: HEGEL }, fx.keys.alice, '?threshold=-1')
      assert.deepEqual(byText.body.results.map((r: { id: string }) => r.id), byVector.body.results.map((r: { id: string }) => r.id))
      // Filters apply as to a search by vector.
      const filtered = await similars('search', { text: KANT, filter: { missing: { $exists: true } } })
      assert.equal(filtered.status, 200)
      assert.deepEqual(filtered.body.results, [])
    })

    it('lets a reader search by text only with an instance shared with them, accounting the call to the reader', async () => {
      const refused = await similars('search', { text: FICHTE }, fx.keys.bob)
      assert.equal(refused.status, 403, 'a reader may not spend the owner\'s provider key')
      assert.match(refused.body.detail, /send the vector/)
      assert.equal((await fx.server.request('POST', '/v1/llm-instances/alice/embed/share', { key: fx.keys.alice, body: { share_with_handle: 'bob', role: 'reader' } })).status, 201)
      const response = await similars('search', { text: FICHTE }, fx.keys.bob)
      assert.equal(response.status, 200, response.text)
      assert.equal(response.body.results[0].id, 'fichte')
      const row = await eventually(async () => {
        const list = await fx.server.request('GET', '/v1/requests/bob?limit=50', { key: fx.keys.bob })
        return list.body.requests.find((r: { request_id: string }) => r.request_id === response.headers.get('x-request-id'))
      })
      assert.equal(row.operation, 'embeddings')
      assert.equal(row.instance, 'alice/embed')
    })

    it('wants exactly one of vector and text in a search', async () => {
      const both = await similars('search', { vector: UNIT, text: KANT })
      assert.equal(both.status, 422)
      assert.equal(both.body.code, 'validation_failed')
      assert.equal(both.body.errors[0].location, 'body.text')
      const neither = await similars('search', { filter: {} })
      assert.equal(neither.status, 422)
      assert.equal(neither.body.errors[0].location, 'body')
      assert.equal((await similars('search', { text: '' })).status, 422)
    })

    it('wants a user key to compute vectors: none is 401, the admin key (no user to account to) 403', async () => {
      const anonymous = await similars('search', { text: KANT }, null)
      assert.equal(anonymous.status, 401)
      assert.match(anonymous.body.detail, /user API key/)
      assert.equal((await similars('search', { vector: UNIT }, null)).status, 200, 'a public project is searched by vector without a key')
      assert.equal((await similars('search', { text: KANT }, fx.server.adminKey)).status, 403)
      const admin = await upload('texts', [{ text_id: 'by-admin', text: KANT }], fx.server.adminKey)
      assert.equal(admin.status, 403)
      assert.equal((await fx.server.request('GET', '/v1/embeddings/alice/texts/by-admin', { key: fx.keys.alice })).status, 404)
    })

    it('stores nothing and answers 502 problem JSON when the provider fails', async () => {
      fx.mock.setBehaviour('flaky', { status: 500 })
      try {
        const response = await upload('flaky', [
          { text_id: 'with-vector', vector: UNIT },
          { text_id: 'kant', text: KANT },
        ])
        assert.equal(response.status, 502, response.text)
        assert.match(response.headers.get('content-type') ?? '', /^application\/problem\+json/)
        assert.equal(response.body.code, 'upstream_error')
        assert.match(response.body.detail, /alice\/flaky/)
        assert.doesNotMatch(response.text, /sk-alice|\bat .*\.ts:\d+/, 'no key, no stack trace')
        assert.ok(fx.mock.received.some((r) => r.tag === 'flaky'), 'the provider was called')
        assert.equal(await stored('flaky'), 0, 'not even the record that brought its vector')
        const search = await similars('flaky', { text: KANT })
        assert.ok([502, 503].includes(search.status), `a search by text fails too: ${search.status}`)
      } finally {
        fx.mock.setBehaviour('flaky', null)
      }
    })

    it('refuses, naming the instance, vectors of the wrong length from the provider, and stores nothing', async () => {
      const response = await upload('ignoring', [
        { text_id: 'sent', vector: UNIT },
        { text_id: 'kant', text: KANT },
      ])
      assert.equal(response.status, 502, response.text)
      assert.equal(response.body.code, 'upstream_error')
      assert.match(response.body.detail, /instance alice\/ignoring returned a vector of 16 dimensions for text_id 'kant', but it is declared with 8/)
      assert.equal(await stored('ignoring'), 0)
      const search = await similars('ignoring', { text: KANT })
      assert.equal(search.status, 502)
      assert.match(search.body.detail, /16 dimensions for the query text/)
    })

    it('answers 422, naming the record, for a record with neither vector nor text', async () => {
      const before = fx.mock.received.length
      const response = await upload('texts', [
        { text_id: 'fine', text: FICHTE },
        { text_id: 'empty', metadata: { note: 'no vector, no text' } },
        { text_id: 'blank', text: '' },
      ])
      assert.equal(response.status, 422, response.text)
      assert.equal(response.body.code, 'validation_failed')
      assert.match(response.body.detail, /'empty' has neither vector nor text/)
      assert.deepEqual(response.body.errors.map((e: { location: string }) => e.location), ['body.embeddings[1]', 'body.embeddings[2]'])
      assert.equal(fx.mock.received.length, before, 'no provider call')
      assert.equal((await fx.server.request('GET', '/v1/embeddings/alice/texts/fine', { key: fx.keys.alice })).status, 404)
    })

    it('checks the records before calling the provider', async () => {
      const before = fx.mock.received.length
      const response = await upload('texts', [
        { text_id: 'fine', text: FICHTE },
        { text_id: 'short', vector: [1, 0] },
      ])
      assert.equal(response.status, 400)
      assert.equal(response.body.code, 'invalid_embedding')
      assert.equal(response.body.errors[0].location, 'body.embeddings[1].vector')
      assert.equal(fx.mock.received.length, before)
    })

    it('answers 400 for a project without an instance', async () => {
      const response = await upload('bare', [{ text_id: 'kant', text: KANT }])
      assert.equal(response.status, 400)
      assert.match(response.body.detail, /has no LLM service instance/)
      const search = await similars('bare', { text: KANT })
      assert.equal(search.status, 400)
      assert.match(search.body.detail, /does not have an associated LLM service instance/)
    })

    it('logs the upload in GET /v1/requests as an embeddings call through the project\'s instance', async () => {
      const response = await upload('texts', [{ text_id: 'logged', text: 'a text to log' }])
      assert.equal(response.status, 201)
      const requestId = response.headers.get('x-request-id')
      const row = await eventually(async () => {
        const list = await fx.server.request('GET', '/v1/requests/alice?limit=100', { key: fx.keys.alice })
        return list.body.requests.find((r: { request_id: string }) => r.request_id === requestId)
      })
      assert.equal(row.operation, 'embeddings')
      assert.equal(row.status, 200)
      assert.equal(row.model, 'alice/embed')
      assert.equal(row.instance, 'alice/embed')
      assert.equal(row.prompt_tokens, 4, 'the mock counts words')
    })

    it('imports NDJSON lines with text only, one call per batch, and rejects the batches whose call fails', async () => {
      const lines = (texts: Array<[string, string]>) => `${texts.map(([id, text]) => JSON.stringify({ text_id: id, text })).join('\n')}\n`
      const importTo = (project: string, body: string) =>
        fx.server.request('POST', `/v1/embeddings/alice/${project}/import?batch_size=2`, { key: fx.keys.alice, raw: body, headers: { 'content-type': 'application/x-ndjson' } })
      const before = callsTo('embed').length
      const imported = await importTo('texts', lines([['i1', KANT], ['i2', HEGEL], ['i3', FICHTE]]) + JSON.stringify({ text_id: 'i4' }))
      assert.equal(imported.status, 200, imported.text)
      assert.deepEqual(imported.body.batches, [
        { first_line: 1, last_line: 2, status: 'imported' },
        { first_line: 3, last_line: 4, status: 'rejected' },
      ])
      assert.deepEqual(imported.body.errors, [{ line: 4, text_id: 'i4', message: "record 'i4' has neither vector nor text: send the vector, or the text to compute it from" }])
      assert.equal(callsTo('embed').length - before, 1, 'the rejected batch made no call')
      assertClose((await record('texts', 'i2')).vector, await embedded(HEGEL))

      fx.mock.setBehaviour('flaky', { status: 500 })
      try {
        const failed = await importTo('flaky', `${JSON.stringify({ text_id: 'v1', vector: UNIT })}\n${lines([['f1', KANT]])}`)
        assert.equal(failed.status, 200, failed.text)
        assert.deepEqual(failed.body.batches, [{ first_line: 1, last_line: 2, status: 'rejected' }])
        assert.equal(failed.body.errors[0].line, 2)
        assert.match(failed.body.errors[0].message, /^the vectors of lines 1–2 could not be computed: .*alice\/flaky/)
        assert.equal(await stored('flaky'), 0)
      } finally {
        fx.mock.setBehaviour('flaky', null)
      }
    })
  })
}
