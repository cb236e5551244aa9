import assert from 'node:assert/strict'
import { request as httpRequest } from 'node:http'
import { after, before, describe, it } from 'node:test'
import { VECTOR_DATABASES } from '../helpers/databases.js'
import { createUser, startTestServer, type TestServer } from '../helpers/server.js'

const vector = (k: number) => [Math.sin(k), Math.cos(k), Math.sin(2 * k), Math.cos(3 * k)]

for (const kind of VECTOR_DATABASES) {
  describe(`NDJSON import and export on the ${kind} database`, () => {
    let server: TestServer
    let alice: string

    before(async () => {
      server = await startTestServer(kind)
      alice = (await createUser(server, 'alice')).key
      await server.request('PUT', '/v1/llm-instances/alice/four', { key: alice, body: { instance_handle: 'four', endpoint: 'https://api.example.org/e', model: 'm', dimensions: 4 } })
      const schema = JSON.stringify({ type: 'object', required: ['n'] })
      for (const handle of ['source', 'copy', 'strict']) {
        await server.request('PUT', `/v1/projects/alice/${handle}`, { key: alice, body: { project_handle: handle, instance_handle: 'four', ...(handle === 'strict' ? { metadataScheme: schema } : {}) } })
      }
    })
    after(() => server?.close())

    /** Streams `lines` as an NDJSON body in small pieces, as a slow client would. */
    function importStream(project: string, lines: string[], query = ''): Promise<{ status: number; body: any }> {
      const { port } = new URL(server.url)
      return new Promise((resolve, reject) => {
        const req = httpRequest(
          { port, method: 'POST', path: `/v1/embeddings/alice/${project}/import${query}`, headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/x-ndjson' } },
          (res) => {
            let text = ''
            res.on('data', (chunk) => (text += chunk))
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }))
          },
        )
        req.on('error', reject)
        const payload = Buffer.from(lines.join('\n'))
        // Split lines across chunks on purpose: the reader must join them.
        for (let i = 0; i < payload.length; i += 777) req.write(payload.subarray(i, i + 777))
        req.end()
      })
    }

    it('imports thousands of lines in batches and exports them again, identical', async () => {
      const lines = Array.from({ length: 2500 }, (_, k) => JSON.stringify({ text_id: `t${String(k).padStart(5, '0')}`, vector: vector(k), text: `text ${k}`, metadata: { n: k, even: k % 2 === 0 } }))
      const report = await importStream('source', lines, '?batch_size=1000')
      assert.equal(report.status, 200)
      assert.deepEqual(report.body, {
        lines: 2500,
        imported: 2500,
        rejected: 0,
        batches: [
          { first_line: 1, last_line: 1000, status: 'imported' },
          { first_line: 1001, last_line: 2000, status: 'imported' },
          { first_line: 2001, last_line: 2500, status: 'imported' },
        ],
        errors: [],
      })
      assert.equal((await server.request('GET', '/v1/projects/alice/source', { key: alice })).body.number_of_embeddings, 2500)

      const exported = await fetch(`${server.url}/v1/embeddings/alice/source/export`, { headers: { authorization: `Bearer ${alice}` } })
      assert.equal(exported.status, 200)
      assert.match(exported.headers.get('content-type') ?? '', /application\/x-ndjson/)
      const text = await exported.text()
      const records = text.trim().split('\n').map((line) => JSON.parse(line))
      assert.equal(records.length, 2500)
      assert.equal(records[0].text_id, 't00000')
      assert.equal(records[2499].text_id, 't02499')
      assert.deepEqual(records[7].metadata, { n: 7, even: false })
      records[7].vector.forEach((value: number, i: number) => assert.ok(Math.abs(value - (vector(7)[i] as number)) < 1e-6))

      const copy = await importStream('copy', text.trim().split('\n'))
      assert.equal(copy.body.imported, 2500)
      const again = await (await fetch(`${server.url}/v1/embeddings/alice/copy/export`, { headers: { authorization: `Bearer ${alice}` } })).text()
      assert.equal(again, text, 'export → import → export is the identity')
    })

    it('rejects exactly the batches that hold bad lines, and reports every bad line', async () => {
      const lines = [
        JSON.stringify({ text_id: 'ok-1', vector: vector(1), metadata: { n: 1 } }),
        JSON.stringify({ text_id: 'ok-2', vector: vector(2), metadata: { n: 2 } }),
        JSON.stringify({ text_id: 'short', vector: [1, 2, 3], metadata: { n: 3 } }),
        '{"text_id": "broken", ',
        JSON.stringify({ text_id: 'ok-5', vector: vector(5), metadata: { n: 5 } }),
        '',
        JSON.stringify({ text_id: 'no-n', vector: vector(6), metadata: { m: 6 } }),
        JSON.stringify({ text_id: 'ok-8', vector: vector(8), metadata: { n: 8 } }),
        JSON.stringify({ text_id: 'ok-9', vector: vector(9), metadata: { n: 9 }, colour: 'red' }),
      ]
      const report = await importStream('strict', lines, '?batch_size=2')
      assert.equal(report.status, 200)
      assert.deepEqual(report.body.batches, [
        { first_line: 1, last_line: 2, status: 'imported' },
        { first_line: 3, last_line: 4, status: 'rejected' },
        { first_line: 5, last_line: 7, status: 'rejected' },
        { first_line: 8, last_line: 9, status: 'rejected' },
      ])
      assert.equal(report.body.lines, 8, 'the blank line does not count')
      assert.equal(report.body.imported, 2)
      assert.equal(report.body.rejected, 6)
      assert.deepEqual(report.body.errors.map((e: { line: number; text_id: string | null }) => [e.line, e.text_id]), [
        [3, 'short'],
        [4, null],
        [7, 'no-n'],
        [9, 'ok-9'],
      ])
      assert.match(report.body.errors[1].message, /not valid JSON/)
      assert.match(report.body.errors[2].message, /n is required/)
      assert.match(report.body.errors[3].message, /colour: unexpected property/)
      const stored = await server.request('GET', '/v1/embeddings/alice/strict?limit=200', { key: alice })
      assert.deepEqual(stored.body.embeddings.map((e: { text_id: string }) => e.text_id), ['ok-1', 'ok-2'])
    })

    it('refuses an import that is not NDJSON, and readers', async () => {
      const json = await server.request('POST', '/v1/embeddings/alice/source/import', { key: alice, body: { embeddings: [] } })
      assert.equal(json.status, 415)
      const bob = (await createUser(server, 'bob')).key
      await server.request('POST', '/v1/projects/alice/source/share', { key: alice, body: { share_with_handle: 'bob', role: 'reader' } })
      const reader = await server.request('POST', '/v1/embeddings/alice/source/import', { key: bob, raw: '{}', headers: { 'content-type': 'application/x-ndjson' } })
      assert.equal(reader.status, 403)
      assert.equal((await server.request('GET', '/v1/embeddings/alice/source/export', { key: bob })).status, 200, 'readers may export')
    })
  })
}
