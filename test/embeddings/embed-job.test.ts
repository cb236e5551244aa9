import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { DATABASES } from '../helpers/databases.js'
import { eventually, type GatewayFixture, putMockInstance, startGateway } from '../helpers/gateway.js'
import { JOBS_TEST_ENV, submitJob, waitForJob } from '../helpers/job-client.js'

/** `count` items with distinct texts, numbered from `from`. */
const items = (count: number, from = 0) =>
  Array.from({ length: count }, (_, i) => ({ text_id: `t-${from + i}`, text: `text number ${from + i} about philosophy`, metadata: { n: from + i } }))

for (const kind of DATABASES) {
  describe(`embed jobs on the ${kind} database`, () => {
    let fx: GatewayFixture

    before(async () => {
      // One upstream attempt per call: a scripted 500 fails the job's attempt, not just the call.
      fx = await startGateway(kind, ['alice', 'bob', 'carol'], { ...JOBS_TEST_ENV, LLMBASE_GATEWAY_MAX_ATTEMPTS: '1' })
      await putMockInstance(fx, 'alice', 'embed', { kind: 'embedding' })
      await putMockInstance(fx, 'alice', 'flaky', { kind: 'embedding', tag: 'flaky' })
      const projects: Array<[string, Record<string, unknown>]> = [
        ['docs', { instance_handle: 'embed' }],
        ['flaky', { instance_handle: 'flaky' }],
        ['team', { instance_handle: 'embed' }],
        ['bare', {}],
      ]
      for (const [handle, extra] of projects) {
        const response = await fx.server.request('PUT', `/v1/projects/alice/${handle}`, { key: fx.keys.alice, body: { project_handle: handle, ...extra } })
        assert.equal(response.status, 201, response.text)
      }
      await fx.server.request('POST', '/v1/projects/alice/docs/share', { key: fx.keys.alice, body: { share_with_handle: 'bob', role: 'reader' } })
      await fx.server.request('POST', '/v1/projects/alice/team/share', { key: fx.keys.alice, body: { share_with_handle: 'carol', role: 'editor' } })
    })
    after(async () => fx?.close())

    const key = (user: string) => fx.keys[user] as string
    const submit = (user: string, payload: unknown, asKey = key(user)) => submitJob(fx.server, user, asKey, { type: 'embed', payload })
    const wait = (user: string, id: string) => waitForJob(fx.server, user, key(user), id)
    const record = (project: string, textId: string) => fx.server.request('GET', `/v1/embeddings/alice/${project}/${textId}`, { key: key('alice') })
    const callsTo = (instance: string) => fx.mock.received.filter((r) => JSON.stringify(r.headers).includes(`sk-alice-${instance}-secret`))
    const jobCount = async (user: string) => (await fx.server.request('GET', `/v1/jobs/${user}?limit=200`, { key: key(user) })).body.length as number

    it('embeds the texts into the project in batches, findable by text afterwards, with progress at the total', async () => {
      const before = callsTo('embed').length
      const submitted = await submit('alice', { project: 'docs', items: items(300) })
      assert.equal(submitted.status, 201, submitted.text)
      assert.equal(submitted.body.type, 'embed')
      assert.deepEqual(submitted.body.progress, { done: 0, total: 300 })
      const job = await wait('alice', submitted.body.id)
      assert.equal(job.state, 'succeeded', JSON.stringify(job.errors))
      assert.deepEqual(job.result, { embedded: 300, project: 'alice/docs', instance: 'alice/embed' })
      assert.deepEqual(job.progress, { done: 300, total: 300 })
      assert.equal(job.attempts, 1)
      const calls = callsTo('embed').slice(before)
      assert.deepEqual(calls.map((call) => (call.body as { input: string[] }).input.length), [256, 44], 'a batch of 256 texts, then the rest')

      const stored = await record('docs', 't-299')
      assert.equal(stored.status, 200, stored.text)
      assert.equal(stored.body.text, 'text number 299 about philosophy')
      assert.deepEqual(stored.body.metadata, { n: 299 })
      assert.equal(stored.body.vector_dim, 8)
      const similar = await fx.server.request('POST', '/v1/similars/alice/docs?threshold=-1&limit=3', { key: key('alice'), body: { text: 'text number 17 about philosophy' } })
      assert.equal(similar.status, 200, similar.text)
      assert.equal(similar.body.results[0].id, 't-17')

      // Accounted to alice in the request log, under the job's id.
      const logged = await eventually(async () => {
        const response = await fx.server.request('GET', '/v1/requests/alice?operation=embeddings&limit=50', { key: key('alice') })
        const rows = response.body.requests.filter((row: { request_id: string }) => row.request_id === `job:${job.id}`)
        return rows.length === 2 ? rows : undefined
      })
      assert.ok(logged.every((row: { status: number; instance: string }) => row.status === 200 && row.instance === 'alice/embed'))
    })

    it('writes the same records again when the same texts are embedded again', async () => {
      const first = await wait('alice', (await submit('alice', { project: 'docs', items: [{ text_id: 'again', text: 'first version' }] })).body.id)
      assert.equal(first.state, 'succeeded')
      const second = await wait('alice', (await submit('alice', { project: 'alice/docs', items: [{ text_id: 'again', text: 'second version' }] })).body.id)
      assert.equal(second.state, 'succeeded')
      assert.equal((await record('docs', 'again')).body.text, 'second version')
    })

    it('retries after a provider failure and resumes after the last stored batch', async () => {
      const before = callsTo('flaky').length
      // The first batch is embedded, the second fails with a 500; the retry starts at the second.
      fx.mock.enqueue('flaky', {}, { status: 500 })
      const submitted = await submit('alice', { project: 'flaky', items: items(600) })
      assert.equal(submitted.status, 201, submitted.text)
      const job = await wait('alice', submitted.body.id)
      assert.equal(job.state, 'succeeded', JSON.stringify(job.errors))
      assert.equal(job.attempts, 2)
      assert.equal(job.errors.length, 1)
      assert.equal(job.errors[0].attempt, 1)
      assert.equal(job.errors[0].code, 'upstream_error')
      assert.match(job.errors[0].message, /^items 256–511: .*status 500/)
      const inputs = callsTo('flaky').slice(before).map((call) => (call.body as { input: string[] }).input)
      assert.deepEqual(inputs.map((input) => [input.length, input[0]]), [
        [256, 'text number 0 about philosophy'],
        [256, 'text number 256 about philosophy'],
        [256, 'text number 256 about philosophy'],
        [88, 'text number 512 about philosophy'],
      ])
      assert.equal((await record('flaky', 't-599')).status, 200)
      assert.equal((await record('flaky', 't-0')).status, 200)
    })

    it('refuses payloads that do not fit, with their locations, and enqueues nothing', async () => {
      const count = await jobCount('alice')
      const cases: Array<[unknown, number, string]> = [
        [{ project: 'docs' }, 422, 'body.payload'],
        [{ project: 'docs', items: [] }, 422, 'body.payload.items'],
        [{ project: 'docs', items: [{ text_id: 'a', text: 'x' }, { text_id: 'b' }] }, 422, 'body.payload.items[1]'],
        [{ project: 'docs', items: [{ text_id: 'a', text: '' }] }, 422, 'body.payload.items[0].text'],
        [{ project: 'docs', items: [{ text_id: 'a', text: 'x', vector: [1] }] }, 422, 'body.payload.items[0].vector'],
        [{ project: 'a/b/c', items: [{ text_id: 'a', text: 'x' }] }, 422, 'body.payload.project'],
      ]
      for (const [payload, status, location] of cases) {
        const response = await submit('alice', payload)
        assert.equal(response.status, status, `${JSON.stringify(payload)}: ${response.text}`)
        assert.ok(response.body.errors.some((e: { location: string }) => e.location === location), `${location} in ${JSON.stringify(response.body.errors)}`)
      }
      const unbound = await submit('alice', { project: 'bare', items: items(1) })
      assert.equal(unbound.status, 400)
      assert.equal(unbound.body.detail, 'project alice/bare is bound to no instance: bind an embedding instance to it before embedding texts into it')
      assert.equal(await jobCount('alice'), count)
    })

    it("refuses a project the owner may not write, even when an admin submits, and runs as an editor's job", async () => {
      const readOnly = await submit('bob', { project: 'alice/docs', items: items(1) })
      assert.equal(readOnly.status, 403, readOnly.text)
      assert.equal(readOnly.body.detail, 'a reader of project alice/docs may not write its embeddings')
      const hidden = await submit('bob', { project: 'alice/team', items: items(1) })
      assert.equal(hidden.status, 404, hidden.text)
      const forBob = await submit('bob', { project: 'alice/team', items: items(1) }, fx.server.adminKey)
      assert.equal(forBob.status, 404, 'the job would run as bob, who cannot see the project')
      assert.equal(await jobCount('bob'), 0)

      const editor = await submit('carol', { project: 'alice/team', items: items(3) })
      assert.equal(editor.status, 201, editor.text)
      const job = await wait('carol', editor.body.id)
      assert.equal(job.state, 'succeeded', JSON.stringify(job.errors))
      assert.equal((await record('team', 't-2')).status, 200)
      await eventually(async () => {
        const response = await fx.server.request('GET', '/v1/requests/carol?operation=embeddings', { key: key('carol') })
        return response.body.requests.some((row: { request_id: string }) => row.request_id === `job:${job.id}`) ? true : undefined
      })
    })

    it('fails for good, saying why, when the owner lost the right to write before the job ran', async () => {
      await fx.server.request('POST', '/v1/projects/alice/team/share', { key: key('alice'), body: { share_with_handle: 'bob', role: 'editor' } })
      const submitted = await submitJob(fx.server, 'bob', key('bob'), {
        type: 'embed',
        payload: { project: 'alice/team', items: items(2, 1000) },
        run_at: new Date(Date.now() + 1500).toISOString(),
      })
      assert.equal(submitted.status, 201, submitted.text)
      const unshared = await fx.server.request('DELETE', '/v1/projects/alice/team/share/bob', { key: key('alice') })
      assert.equal(unshared.status, 204, unshared.text)
      const job = await wait('bob', submitted.body.id)
      assert.equal(job.state, 'dead')
      assert.equal(job.attempts, 1)
      assert.equal(job.errors[0].code, 'project_not_found')
      assert.match(job.errors[0].message, /^writing project alice\/team as bob is no longer possible: /)
      assert.equal((await record('team', 't-1000')).status, 404, 'nothing was written')
    })
  })
}
