import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { DATABASES } from '../helpers/databases.js'
import { createUser, startTestServer, type TestServer } from '../helpers/server.js'

const chat = (handle: string, model = `model-${handle}`) => ({ instance_handle: handle, kind: 'chat', endpoint: 'https://api.example.org/v1/chat/completions', model })
const embedding = (handle: string) => ({ instance_handle: handle, kind: 'embedding', endpoint: 'https://api.example.org/v1/embeddings', model: 'embed-1', dimensions: 8 })

for (const kind of DATABASES) {
  describe(`LLM routes on the ${kind} database`, () => {
    let server: TestServer
    const keys: Record<string, string> = {}
    const as = (user: string) => (user === 'admin' ? server.adminKey : keys[user])

    const putInstance = async (owner: string, body: Record<string, unknown>) => {
      const response = await server.request('PUT', `/v1/llm-instances/${owner}/${body.instance_handle}`, { key: as(owner), body })
      assert.equal(response.status, 201, response.text)
    }
    const putRoute = (user: string, owner: string, handle: string, body: Record<string, unknown>) =>
      server.request('PUT', `/v1/routes/${owner}/${handle}`, { key: as(user), body: { route_handle: handle, ...body } })
    const counts = async () => {
      const { rows } = await server.running.database.pool.query('select (select count(*) from llm_routes) as routes, (select count(*) from llm_route_targets) as targets')
      return { routes: Number(rows[0].routes), targets: Number(rows[0].targets) }
    }

    before(async () => {
      server = await startTestServer(kind)
      for (const handle of ['alice', 'bob', 'dave']) keys[handle] = (await createUser(server, handle)).key
      keys.carol = (await createUser(server, 'carol', { role: 'admin' })).key
      await putInstance('alice', chat('gpt-main'))
      await putInstance('alice', chat('gpt-backup'))
      await putInstance('alice', embedding('embed-main'))
      await putInstance('bob', chat('bob-shared'))
      await putInstance('bob', chat('bob-private'))
      const shared = await server.request('POST', '/v1/llm-instances/bob/bob-shared/share', { key: as('bob'), body: { share_with_handle: 'alice', role: 'reader' } })
      assert.equal(shared.status, 201)
    })
    after(() => server?.close())

    it('creates a route of own and shared instances and reads it back with its targets in order', async () => {
      const created = await putRoute('alice', 'alice', 'smart', {
        description: 'main, then bob',
        targets: [{ instance: 'gpt-main' }, { instance: 'bob/bob-shared', weight: 5 }, { instance: 'ALICE/gpt-backup' }],
      })
      assert.equal(created.status, 201, created.text)
      assert.deepEqual(Object.keys(created.body).sort(), ['owner', 'route_handle', 'route_id'])
      assert.equal(created.body.owner, 'alice')
      assert.equal(created.body.route_handle, 'smart')

      const got = await server.request('GET', '/v1/routes/alice/smart', { key: as('alice') })
      assert.equal(got.status, 200)
      assert.equal(got.body.route_id, created.body.route_id)
      assert.equal(got.body.description, 'main, then bob')
      assert.equal(got.body.strategy, 'fallback', 'fallback is the default strategy')
      assert.deepEqual(
        got.body.targets.map((t: Record<string, unknown>) => [t.instance, t.kind, t.model, t.weight, t.position]),
        [
          ['alice/gpt-main', 'chat', 'model-gpt-main', 1, 1],
          ['bob/bob-shared', 'chat', 'model-bob-shared', 5, 2],
          ['alice/gpt-backup', 'chat', 'model-gpt-backup', 1, 3],
        ],
      )
      assert.equal(typeof got.body.targets[0].instance_id, 'number')
      assert.ok(!Number.isNaN(Date.parse(got.body.created_at)))
    })

    it('replaces a route and all its targets with PUT, keeping its id', async () => {
      const before = (await server.request('GET', '/v1/routes/alice/smart', { key: as('alice') })).body
      const replaced = await putRoute('alice', 'alice', 'smart', { strategy: 'weighted', targets: [{ instance: 'gpt-backup', weight: 3 }, { instance: 'gpt-main', weight: 1 }] })
      assert.equal(replaced.status, 201)
      assert.equal(replaced.body.route_id, before.route_id)
      const got = (await server.request('GET', '/v1/routes/alice/smart', { key: as('alice') })).body
      assert.equal(got.strategy, 'weighted')
      assert.equal(got.description, null, 'PUT replaces: an absent description is removed')
      assert.deepEqual(got.targets.map((t: Record<string, unknown>) => [t.instance, t.weight, t.position]), [['alice/gpt-backup', 3, 1], ['alice/gpt-main', 1, 2]])
      assert.ok(Date.parse(got.updated_at) >= Date.parse(before.updated_at))
      assert.equal(got.created_at, before.created_at)
    })

    it('lists routes with paging', async () => {
      await putRoute('alice', 'alice', 'embedder', { targets: [{ instance: 'embed-main' }] })
      const all = await server.request('GET', '/v1/routes/alice', { key: as('alice') })
      assert.equal(all.status, 200)
      assert.deepEqual(all.body.routes.map((r: { route_handle: string }) => r.route_handle), ['embedder', 'smart'])
      assert.equal(all.body.routes[0].targets[0].kind, 'embedding')
      const second = await server.request('GET', '/v1/routes/alice?limit=1&offset=1', { key: as('alice') })
      assert.deepEqual(second.body.routes.map((r: { route_handle: string }) => r.route_handle), ['smart'])
      const none = await server.request('GET', '/v1/routes/dave', { key: as('dave') })
      assert.deepEqual(none.body, { routes: [] })
      assert.equal((await server.request('GET', '/v1/routes/alice?limit=0', { key: as('alice') })).status, 422)
    })

    it('lets the user and admins in, and answers everyone else as if the user did not exist', async () => {
      for (const who of ['admin', 'carol']) {
        assert.equal((await server.request('GET', '/v1/routes/alice/smart', { key: as(who) })).status, 200, who)
        assert.equal((await server.request('GET', '/v1/routes/alice', { key: as(who) })).status, 200, who)
      }
      for (const [method, path] of [['GET', '/v1/routes/alice'], ['GET', '/v1/routes/alice/smart'], ['DELETE', '/v1/routes/alice/smart']] as const) {
        const hidden = await server.request(method, path, { key: as('bob') })
        assert.equal(hidden.status, 404, `${method} ${path}`)
        assert.equal(hidden.body.code, 'user_not_found')
        assert.equal(hidden.body.detail, 'user alice not found')
      }
      const write = await putRoute('bob', 'alice', 'by-bob', { targets: [{ instance: 'bob/bob-shared' }] })
      assert.equal(write.status, 404)
      assert.equal((await server.request('GET', '/v1/routes/nobody', { key: as('bob') })).body.detail, 'user nobody not found')
      assert.equal((await server.request('GET', '/v1/routes/alice', { key: null })).status, 401)
      const system = await putRoute('admin', '_system', 'global', { targets: [{ instance: 'alice/gpt-main' }] })
      assert.equal(system.status, 403)
    })

    it('lets an admin write a route for a user, with what that user may use', async () => {
      const made = await putRoute('carol', 'alice', 'by-admin', { targets: [{ instance: 'gpt-main' }, { instance: 'bob/bob-shared' }] })
      assert.equal(made.status, 201, made.text)
      assert.equal(made.body.owner, 'alice')
      const refused = await putRoute('admin', 'alice', 'by-admin2', { targets: [{ instance: 'bob/bob-private' }] })
      assert.equal(refused.status, 400, 'the admin may see bob-private, alice may not use it')
      assert.equal(refused.body.code, 'unknown_target')
      assert.equal((await server.request('DELETE', '/v1/routes/alice/by-admin', { key: as('admin') })).status, 204)
    })

    it('refuses targets the owner may not use, naming each, and stores nothing', async () => {
      const before = await counts()
      const response = await putRoute('alice', 'alice', 'broken', { targets: [{ instance: 'gpt-main' }, { instance: 'bob/bob-private' }, { instance: 'no-such-thing' }] })
      assert.equal(response.status, 400)
      assert.equal(response.body.code, 'unknown_target')
      assert.match(response.body.detail, /bob\/bob-private, alice\/no-such-thing/)
      assert.deepEqual(response.body.errors.map((e: { location: string }) => e.location), ['body.targets[1].instance', 'body.targets[2].instance'])
      assert.equal((await putRoute('bob', 'bob', 'mine', { targets: [{ instance: 'alice/gpt-main' }] })).body.code, 'unknown_target', 'not shared with bob')
      assert.deepEqual(await counts(), before)
    })

    it('refuses a route that mixes chat and embedding instances', async () => {
      const before = await counts()
      const response = await putRoute('alice', 'alice', 'mixed', { targets: [{ instance: 'gpt-main' }, { instance: 'embed-main' }] })
      assert.equal(response.status, 400)
      assert.equal(response.body.code, 'bad_request')
      assert.match(response.body.detail, /one kind.*alice\/gpt-main \(chat\), alice\/embed-main \(embedding\)/)
      assert.deepEqual(await counts(), before)
    })

    it("refuses a handle that names one of the owner's instances (409)", async () => {
      const response = await putRoute('alice', 'alice', 'gpt-main', { targets: [{ instance: 'gpt-backup' }] })
      assert.equal(response.status, 409)
      assert.equal(response.body.code, 'conflict')
      assert.match(response.body.detail, /instance named gpt-main.*resolves a bare model name to an instance/)
      assert.equal((await putRoute('bob', 'bob', 'gpt-main', { targets: [{ instance: 'bob-shared' }] })).status, 201, "another user's instance handle is free")
    })

    it('keeps the old targets when a replacement is refused', async () => {
      const before = (await server.request('GET', '/v1/routes/alice/smart', { key: as('alice') })).body
      const refused = await putRoute('alice', 'alice', 'smart', { targets: [{ instance: 'gpt-main' }, { instance: 'embed-main' }] })
      assert.equal(refused.status, 400)
      assert.deepEqual((await server.request('GET', '/v1/routes/alice/smart', { key: as('alice') })).body, before)
    })

    it('rejects bodies that break the schema with 422 and changes nothing', async () => {
      const before = await counts()
      const target = { instance: 'gpt-main' }
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ route_handle: 'bad1', targets: [] }, 'body.targets'],
        [{ route_handle: 'bad2', targets: Array.from({ length: 17 }, () => target) }, 'body.targets'],
        [{ route_handle: 'bad3', targets: [{ instance: 'gpt-main', weight: 0 }] }, 'body.targets[0].weight'],
        [{ route_handle: 'bad4', targets: [{ instance: 'gpt-main', weight: 1001 }] }, 'body.targets[0].weight'],
        [{ route_handle: 'bad5', targets: [{ instance: 'gpt-main', weight: 1.5 }] }, 'body.targets[0].weight'],
        [{ route_handle: 'bad6', strategy: 'random', targets: [target] }, 'body.strategy'],
        [{ route_handle: 'bad7', targets: [{ instance: 'a/b/c' }] }, 'body.targets[0].instance'],
        [{ route_handle: 'bad8', targets: [{ instance: 'gpt-main', extra: 1 }] }, 'body.targets[0].extra'],
        [{ route_handle: 'bad9', targets: [target], owner: 'bob' }, 'body.owner'],
        [{ route_handle: 'bad10' }, 'body'],
        [{ route_handle: 'x', targets: [target] }, 'body.route_handle'],
      ]
      for (const [body, location] of cases) {
        const response = await server.request('PUT', '/v1/routes/alice/bad-route', { key: as('alice'), body })
        assert.equal(response.status, 422, `${JSON.stringify(body)} → ${response.text}`)
        assert.ok(response.body.errors.some((e: { location: string }) => e.location === location), `${location} in ${response.text}`)
      }
      const mismatch = await server.request('PUT', '/v1/routes/alice/other', { key: as('alice'), body: { route_handle: 'smart', targets: [target] } })
      assert.equal(mismatch.status, 400)
      assert.equal(mismatch.body.detail, 'route handle in URL (other) does not match route handle in body (smart)')
      assert.equal((await server.request('PUT', '/v1/routes/alice/none', { key: as('alice') })).status, 400, 'no body')
      assert.deepEqual(await counts(), before)
    })

    it('drops a deleted instance from the routes that named it', async () => {
      await putInstance('alice', chat('short-lived'))
      assert.equal((await putRoute('alice', 'alice', 'fragile', { targets: [{ instance: 'short-lived' }, { instance: 'gpt-main' }] })).status, 201)
      assert.equal((await server.request('DELETE', '/v1/llm-instances/alice/short-lived', { key: as('alice') })).status, 204)
      const got = await server.request('GET', '/v1/routes/alice/fragile', { key: as('alice') })
      assert.deepEqual(got.body.targets.map((t: { instance: string }) => t.instance), ['alice/gpt-main'])
    })

    it('deletes a route (204), then answers 404', async () => {
      assert.equal((await server.request('DELETE', '/v1/routes/alice/fragile', { key: as('alice') })).status, 204)
      const gone = await server.request('GET', '/v1/routes/alice/fragile', { key: as('alice') })
      assert.equal(gone.status, 404)
      assert.equal(gone.body.code, 'not_found')
      assert.equal(gone.body.detail, 'route alice/fragile not found')
      assert.equal((await server.request('DELETE', '/v1/routes/alice/fragile', { key: as('alice') })).status, 404)
      const { rows } = await server.running.database.pool.query("select count(*) from llm_route_targets t join llm_routes r on r.id = t.route_id where r.handle = 'fragile'")
      assert.equal(Number(rows[0].count), 0)
    })

    it('documents the endpoints in OpenAPI', async () => {
      const openapi = await server.request('GET', '/openapi.json', { key: null })
      const path = openapi.body.paths['/v1/routes/{user_handle}/{route_handle}']
      assert.ok(path.put && path.get && path.delete)
      assert.ok(openapi.body.paths['/v1/routes/{user_handle}'].get)
    })
  })
}
