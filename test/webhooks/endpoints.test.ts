import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { createKeyring } from '../../src/secrets/keyring.js'
import { checkSecrets, RotationError, rotateSecrets } from '../../src/admin/secrets-maintenance.js'
import { openSecret } from '../../src/webhooks/signing.js'
import { DATABASES } from '../helpers/databases.js'
import { createUser, startTestServer, type TestServer } from '../helpers/server.js'

const EVENTS = ['job.succeeded', 'job.failed', 'job.dead']
const SECRET = /^whsec_[A-Za-z0-9+/]{43}=$/

for (const kind of DATABASES) {
  describe(`webhook endpoints on the ${kind} database`, () => {
    let server: TestServer
    const keys: Record<string, string> = {}
    const url = 'https://hooks.example.com/llmbase'
    const encryptionKey = `webhook-endpoints-${randomBytes(24).toString('hex')}`
    const create = (body: unknown, key = keys.alice as string | null, user = 'alice') => server.request('POST', `/v1/webhooks/${user}`, { key, body })
    const rowCount = async () => Number((await server.running.database.pool.query('select count(*) as n from webhook_endpoints')).rows[0].n)

    before(async () => {
      server = await startTestServer(kind, { env: { LLMBASE_ALLOW_PRIVATE_ENDPOINTS: 'true', ENCRYPTION_KEY: encryptionKey } })
      for (const handle of ['alice', 'bob']) keys[handle] = (await createUser(server, handle)).key
    })
    after(() => server?.close())

    it('creates an endpoint subscribed to every job event and shows its secret only in that answer', async () => {
      const response = await create({ url, description: 'orders service' })
      assert.equal(response.status, 201, response.text)
      const { secret, ...endpoint } = response.body
      assert.match(secret, SECRET)
      assert.equal(Buffer.from(secret.slice(6), 'base64').length, 32)
      assert.equal(response.headers.get('location'), `/v1/webhooks/alice/${endpoint.id}`)
      assert.deepEqual(endpoint, {
        id: endpoint.id,
        owner: 'alice',
        url,
        description: 'orders service',
        events: EVENTS,
        enabled: true,
        disabled_at: null,
        disabled_reason: null,
        failing_since: null,
        created_at: endpoint.created_at,
        updated_at: endpoint.created_at,
      })

      const read = await server.request('GET', `/v1/webhooks/alice/${endpoint.id}`, { key: keys.alice })
      assert.equal(read.status, 200)
      assert.deepEqual(read.body, endpoint)
      const list = await server.request('GET', '/v1/webhooks/alice', { key: keys.alice })
      assert.deepEqual(list.body, [endpoint])
      for (const text of [read.text, list.text]) {
        assert.ok(!text.includes(secret.slice(6)), 'no read shows the secret')
        assert.ok(!text.includes('secret'), 'nor a field about it')
      }
      // Stored encrypted: neither the secret nor its key bytes are in the row.
      const row = (await server.running.database.pool.query('select secret_ciphertext, secret_key_id from webhook_endpoints where id = $1', [endpoint.id])).rows[0]
      assert.ok(!Buffer.from(row.secret_ciphertext).includes(Buffer.from(secret)))
      assert.ok(!Buffer.from(row.secret_ciphertext).includes(Buffer.from(secret.slice(6), 'base64')))
      assert.match(row.secret_key_id, /^[0-9a-f]{16}$/)
    })

    it('keeps an explicit list of events, and [] for endpoints that only jobs naming them use', async () => {
      const some = await create({ url: `${url}/dead`, events: ['job.dead'] })
      assert.equal(some.status, 201, some.text)
      assert.deepEqual(some.body.events, ['job.dead'])
      const none = await create({ url: `${url}/named`, events: [] })
      assert.equal(none.status, 201, none.text)
      assert.deepEqual(none.body.events, [])
      assert.equal(none.body.description, null)
    })

    it('refuses bad input with the location of each problem and stores nothing', async () => {
      const before = await rowCount()
      const cases: Array<[unknown, number, string, string?]> = [
        [{ url: 'not a url' }, 400, 'endpoint_not_allowed'],
        [{ url: 'ftp://files.example.com/in' }, 400, 'endpoint_not_allowed'],
        [{ url: 'https://user:pass@hooks.example.com/' }, 400, 'endpoint_not_allowed'],
        [{ url, events: ['job.started'] }, 422, 'validation_failed', 'body.events[0]'],
        [{ url, events: ['job.dead', 'job.dead'] }, 422, 'validation_failed', 'body.events'],
        [{ url, secret: 'whsec_mine' }, 422, 'validation_failed', 'body.secret'],
        [{}, 422, 'validation_failed', 'body'],
        [{ url: 'x'.repeat(2001) }, 422, 'validation_failed', 'body.url'],
      ]
      for (const [body, status, code, location] of cases) {
        const response = await create(body)
        assert.equal(response.status, status, `${JSON.stringify(body).slice(0, 80)}: ${response.text}`)
        assert.equal(response.body.code, code)
        if (location) assert.ok(response.body.errors.some((e: { location: string }) => e.location === location), response.text)
      }
      assert.match((await create({ url: 'ftp://files.example.com/in' })).body.detail, /http or https/)
      assert.match((await create({ url: 'https://user:pass@hooks.example.com/' })).body.detail, /credentials/)
      assert.equal(await rowCount(), before)
    })

    it('updates the URL, description and events; disables and re-enables', async () => {
      const created = (await create({ url: `${url}/patch`, description: 'first' })).body
      const path = `/v1/webhooks/alice/${created.id}`
      const patched = await server.request('PATCH', path, { key: keys.alice, body: { url: `${url}/moved`, description: null, events: ['job.failed'] } })
      assert.equal(patched.status, 200, patched.text)
      assert.equal(patched.body.url, `${url}/moved`)
      assert.equal(patched.body.description, null)
      assert.deepEqual(patched.body.events, ['job.failed'])
      assert.ok(!('secret' in patched.body))

      const disabled = await server.request('PATCH', path, { key: keys.alice, body: { enabled: false } })
      assert.equal(disabled.body.enabled, false)
      assert.ok(disabled.body.disabled_at)
      assert.equal(disabled.body.disabled_reason, 'disabled through the API')
      const enabled = await server.request('PATCH', path, { key: keys.alice, body: { enabled: true } })
      assert.equal(enabled.body.enabled, true)
      assert.equal(enabled.body.disabled_at, null)
      assert.equal(enabled.body.disabled_reason, null)
      assert.equal(enabled.body.failing_since, null)

      const refused = await server.request('PATCH', path, { key: keys.alice, body: { url: 'ftp://x.example.com/' } })
      assert.equal(refused.status, 400)
      assert.equal(refused.body.code, 'endpoint_not_allowed')
      const unknown = await server.request('PATCH', path, { key: keys.alice, body: { events: ['job.unknown'] } })
      assert.equal(unknown.status, 422)
      assert.deepEqual((await server.request('GET', path, { key: keys.alice })).body, enabled.body)
    })

    it('rotates the secret: a new one, shown once, and never in reads', async () => {
      const created = (await create({ url: `${url}/rotate` })).body
      const rotated = await server.request('POST', `/v1/webhooks/alice/${created.id}/rotate-secret`, { key: keys.alice })
      assert.equal(rotated.status, 200, rotated.text)
      assert.match(rotated.body.secret, SECRET)
      assert.notEqual(rotated.body.secret, created.secret)
      const read = await server.request('GET', `/v1/webhooks/alice/${created.id}`, { key: keys.alice })
      assert.ok(!read.text.includes(rotated.body.secret.slice(6)))
      assert.ok(!('secret' in read.body))
    })

    it('deletes an endpoint (204), after which it is not found', async () => {
      const created = (await create({ url: `${url}/delete` })).body
      const path = `/v1/webhooks/alice/${created.id}`
      assert.equal((await server.request('DELETE', path, { key: keys.alice })).status, 204)
      const gone = await server.request('GET', path, { key: keys.alice })
      assert.equal(gone.status, 404)
      assert.equal(gone.body.code, 'webhook_endpoint_not_found')
      assert.equal((await server.request('DELETE', path, { key: keys.alice })).status, 404)
    })

    it('answers a stranger as if the user did not exist, and an admin as the user', async () => {
      const created = (await create({ url: `${url}/private` })).body
      const path = `/v1/webhooks/alice/${created.id}`
      const before = await rowCount()
      const attempts: Array<[string, string, unknown?]> = [
        ['GET', '/v1/webhooks/alice'],
        ['POST', '/v1/webhooks/alice', { url }],
        ['GET', path],
        ['PATCH', path, { enabled: false }],
        ['DELETE', path],
        ['POST', `${path}/rotate-secret`],
        ['GET', `${path}/deliveries`],
      ]
      for (const [method, target, body] of attempts) {
        const response = await server.request(method, target, { key: keys.bob, ...(body ? { body } : {}) })
        assert.equal(response.status, 404, `${method} ${target}`)
        assert.equal(response.body.code, 'user_not_found')
      }
      assert.equal((await server.request('GET', path, { key: null })).status, 401)
      assert.equal(await rowCount(), before)
      assert.equal((await server.request('GET', path, { key: keys.alice })).body.enabled, true)
      // Bob's own endpoints do not include Alice's, and Alice's ids do not resolve under Bob.
      assert.deepEqual((await server.request('GET', '/v1/webhooks/bob', { key: keys.bob })).body, [])
      assert.equal((await server.request('GET', `/v1/webhooks/bob/${created.id}`, { key: keys.bob })).body.code, 'webhook_endpoint_not_found')
      // The admin acts for Alice.
      const asAdmin = await server.request('GET', path)
      assert.equal(asAdmin.status, 200)
      assert.equal(asAdmin.body.owner, 'alice')
    })

    it('pages the list of endpoints, oldest first', async () => {
      const all = (await server.request('GET', '/v1/webhooks/alice?limit=200', { key: keys.alice })).body as Array<{ id: string }>
      assert.ok(all.length >= 5)
      const page = (await server.request('GET', '/v1/webhooks/alice?limit=2&offset=1', { key: keys.alice })).body as Array<{ id: string }>
      assert.deepEqual(page.map((e) => e.id), all.slice(1, 3).map((e) => e.id))
      assert.equal((await server.request('GET', '/v1/webhooks/alice?limit=0', { key: keys.alice })).status, 422)
    })

    it('lists no deliveries for a new endpoint, and 404 for a delivery it does not have', async () => {
      const created = (await create({ url: `${url}/empty` })).body
      const list = await server.request('GET', `/v1/webhooks/alice/${created.id}/deliveries`, { key: keys.alice })
      assert.equal(list.status, 200)
      assert.deepEqual(list.body, [])
      const missing = await server.request('GET', `/v1/webhooks/alice/${created.id}/deliveries/00000000-0000-4000-8000-000000000000`, { key: keys.alice })
      assert.equal(missing.status, 404)
      assert.equal(missing.body.code, 'webhook_delivery_not_found')
      const replay = await server.request('POST', `/v1/webhooks/alice/${created.id}/deliveries/00000000-0000-4000-8000-000000000000/replay`, { key: keys.alice })
      assert.equal(replay.status, 404)
      assert.equal((await server.request('GET', `/v1/webhooks/alice/${created.id}/deliveries?state=lost`, { key: keys.alice })).status, 422)
    })

    it('re-encrypts endpoint secrets when the encryption key rotates, and reports those it cannot read', async () => {
      const created = (await create({ url: `${url}/keys` })).body
      const db = server.running.database.db
      const current = createKeyring(encryptionKey)
      const before = await checkSecrets(db, current)
      assert.deepEqual(before.problems, [])
      assert.equal(before.total, await rowCount())

      const next = createKeyring(`webhook-next-${randomBytes(24).toString('hex')}`)
      assert.equal(await rotateSecrets(db, current, next), await rowCount())
      const row = (await server.running.database.pool.query('select secret_ciphertext, secret_key_id from webhook_endpoints where id = $1', [created.id])).rows[0]
      assert.equal(row.secret_key_id, next.primary.id)
      assert.equal(openSecret(next, row), created.secret, 'the same secret under the new key')

      const stale = await checkSecrets(db, current)
      assert.equal(stale.readable, 0)
      assert.ok(stale.problems.some((p) => p.instance === `webhook endpoint alice/${created.id}` && p.problem === 'unknown_key'))
      // Rotating from keys that cannot read them changes nothing.
      await assert.rejects(rotateSecrets(db, current, createKeyring(encryptionKey)), RotationError)
      assert.equal((await checkSecrets(db, next)).readable, await rowCount())
      assert.equal(await rotateSecrets(db, next, current), await rowCount())
    })
  })

  describe(`webhook URLs without the private-address allowance on the ${kind} database`, () => {
    let server: TestServer
    let key: string
    before(async () => {
      server = await startTestServer(kind, { env: { LLMBASE_ALLOW_PRIVATE_ENDPOINTS: 'false', LLMBASE_PRIVATE_HOSTS: '' } })
      key = (await createUser(server, 'carol')).key
    })
    after(() => server?.close())

    it('refuses loopback, private and link-local destinations and stores nothing', async () => {
      for (const url of ['http://127.0.0.1:8080/hook', 'http://localhost/hook', 'http://10.1.2.3/hook', 'http://169.254.169.254/latest', 'http://[::1]:9000/']) {
        const response = await server.request('POST', '/v1/webhooks/carol', { key, body: { url } })
        assert.equal(response.status, 400, url)
        assert.equal(response.body.code, 'endpoint_not_allowed')
        assert.match(response.body.detail, /LLMBASE_PRIVATE_HOSTS/)
      }
      assert.deepEqual((await server.request('GET', '/v1/webhooks/carol', { key })).body, [])
      const pub = await server.request('POST', '/v1/webhooks/carol', { key, body: { url: 'https://hooks.example.com/in' } })
      assert.equal(pub.status, 201, pub.text)
      const moved = await server.request('PATCH', `/v1/webhooks/carol/${pub.body.id}`, { key, body: { url: 'http://127.0.0.1/hook' } })
      assert.equal(moved.status, 400)
      assert.equal(moved.body.code, 'endpoint_not_allowed')
    })
  })
}
