import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { DATABASES } from '../helpers/databases.js'
import { createUser, startTestServer, type TestServer } from '../helpers/server.js'

// The gateway's settings in the registry: `cache_ttl_seconds` on instances, `prices` on
// instances and definitions.

const chatInstance = (handle: string, extra: Record<string, unknown> = {}) => ({
  instance_handle: handle,
  kind: 'chat',
  api_standard: 'openai',
  endpoint: 'https://api.example.org/v1/chat/completions',
  model: 'chat-test',
  ...extra,
})

const chatDefinition = (handle: string, extra: Record<string, unknown> = {}) => ({
  definition_handle: handle,
  kind: 'chat',
  api_standard: 'openai',
  endpoint: 'https://api.example.org/v1/chat/completions',
  model: 'chat-test',
  ...extra,
})

/** Bodies the gateway fields make invalid, with where the 422 must point. */
const invalid: Array<[string, Record<string, unknown>, string]> = [
  ['a negative price', { prices: { input: -0.01 } }, 'body.prices.input'],
  ['an unknown price field', { prices: { input: 1, per_request: 0.01 } }, 'body.prices'],
  ['a price given as a string', { prices: { output: '2.5' } }, 'body.prices.output'],
  ['a price beyond the bound', { prices: { output: 1_000_001 } }, 'body.prices.output'],
  ['prices as a list', { prices: [1, 2] }, 'body.prices'],
]
const invalidTtl: Array<[string, Record<string, unknown>, string]> = [
  ['a TTL of 0', { cache_ttl_seconds: 0 }, 'body.cache_ttl_seconds'],
  ['a TTL beyond 30 days', { cache_ttl_seconds: 2_592_001 }, 'body.cache_ttl_seconds'],
  ['a TTL that is not whole', { cache_ttl_seconds: 1.5 }, 'body.cache_ttl_seconds'],
]

for (const kind of DATABASES) {
  describe(`gateway fields of the registry on the ${kind} database`, () => {
    let server: TestServer
    let alice: string
    let bob: string

    before(async () => {
      server = await startTestServer(kind)
      alice = (await createUser(server, 'alice')).key
      bob = (await createUser(server, 'bob')).key
    })
    after(() => server?.close())

    /** The stored row itself, so that a refused write is seen to change nothing at all. */
    const storedInstance = async (handle: string) =>
      (await server.running.database.pool.query('select cache_ttl_seconds, prices, description, updated_at from llm_instances where handle = $1', [handle])).rows[0]
    const storedDefinition = async (handle: string) =>
      (await server.running.database.pool.query('select prices, description, updated_at from llm_definitions where handle = $1', [handle])).rows[0]

    const assertRefused = (response: { status: number; body: { errors?: Array<{ location: string }> } }, location: string, what: string) => {
      assert.equal(response.status, 422, `${what}: ${JSON.stringify(response.body)}`)
      assert.ok(response.body.errors?.some((e) => e.location === location), `${what}: ${JSON.stringify(response.body)}`)
    }

    describe('instances', () => {
      it('stores and returns both fields, null when unset', async () => {
        const created = await server.request('PUT', '/v1/llm-instances/alice/priced', {
          key: alice,
          body: chatInstance('priced', { cache_ttl_seconds: 3600, prices: { input: 0.15, output: 0.6 } }),
        })
        assert.equal(created.status, 201, JSON.stringify(created.body))
        const got = await server.request('GET', '/v1/llm-instances/alice/priced', { key: alice })
        assert.equal(got.body.cache_ttl_seconds, 3600)
        assert.deepEqual(got.body.prices, { input: 0.15, output: 0.6 })

        await server.request('POST', '/v1/llm-instances/alice', { key: alice, body: chatInstance('plain') })
        const plain = await server.request('GET', '/v1/llm-instances/alice/plain', { key: alice })
        assert.equal(plain.body.cache_ttl_seconds, null)
        assert.equal(plain.body.prices, null)
        assert.ok('cache_ttl_seconds' in plain.body && 'prices' in plain.body, 'null, not left out')
      })

      it('patches only what is given, merging into prices', async () => {
        await server.request('PUT', '/v1/llm-instances/alice/patched', {
          key: alice,
          body: chatInstance('patched', { cache_ttl_seconds: 600, prices: { input: 1, output: 4 } }),
        })
        let patched = await server.request('PATCH', '/v1/llm-instances/alice/patched', { key: alice, body: { prices: { output: 3, cached_input: 0.1 } } })
        assert.equal(patched.status, 200, JSON.stringify(patched.body))
        assert.deepEqual(patched.body.prices, { input: 1, output: 3, cached_input: 0.1 })
        assert.equal(patched.body.cache_ttl_seconds, 600)

        patched = await server.request('PATCH', '/v1/llm-instances/alice/patched', { key: alice, body: { cache_ttl_seconds: 60 } })
        assert.equal(patched.body.cache_ttl_seconds, 60)
        assert.deepEqual(patched.body.prices, { input: 1, output: 3, cached_input: 0.1 })

        patched = await server.request('PATCH', '/v1/llm-instances/alice/patched', { key: alice, body: { prices: { cached_input: null, cache_write: 1.25 } } })
        assert.deepEqual(patched.body.prices, { input: 1, output: 3, cache_write: 1.25 }, 'a price set to null is removed')

        patched = await server.request('PATCH', '/v1/llm-instances/alice/patched', { key: alice, body: { description: 'other fields leave them alone' } })
        assert.equal(patched.body.cache_ttl_seconds, 60)
        assert.deepEqual(patched.body.prices, { input: 1, output: 3, cache_write: 1.25 })

        const echoed = await server.request('PATCH', '/v1/llm-instances/alice/patched', { key: alice, body: patched.body })
        assert.equal(echoed.status, 200, 'the GET output is an acceptable patch')
        assert.equal(echoed.body.cache_ttl_seconds, 60)
        assert.deepEqual(echoed.body.prices, { input: 1, output: 3, cache_write: 1.25 })
      })

      it('clears them with null in a patch, and when a PUT leaves them out', async () => {
        await server.request('PUT', '/v1/llm-instances/alice/cleared', { key: alice, body: chatInstance('cleared', { cache_ttl_seconds: 30, prices: { input: 2 } }) })
        const patched = await server.request('PATCH', '/v1/llm-instances/alice/cleared', { key: alice, body: { cache_ttl_seconds: null, prices: null } })
        assert.equal(patched.status, 200)
        assert.equal(patched.body.cache_ttl_seconds, null)
        assert.equal(patched.body.prices, null)
        const row = (await server.running.database.pool.query("select cache_ttl_seconds, prices is null as no_prices from llm_instances where handle = 'cleared'")).rows[0]
        assert.deepEqual(row, { cache_ttl_seconds: null, no_prices: true }, 'SQL null, not the JSON value null')

        await server.request('PUT', '/v1/llm-instances/alice/cleared', { key: alice, body: chatInstance('cleared', { cache_ttl_seconds: 30, prices: { input: 2 } }) })
        const replaced = await server.request('PUT', '/v1/llm-instances/alice/cleared', { key: alice, body: chatInstance('cleared') })
        assert.equal(replaced.status, 201)
        const got = await server.request('GET', '/v1/llm-instances/alice/cleared', { key: alice })
        assert.equal(got.body.cache_ttl_seconds, null, 'PUT replaces: absent is null')
        assert.equal(got.body.prices, null)

        await server.request('PUT', '/v1/llm-instances/alice/cleared', { key: alice, body: chatInstance('cleared', { prices: { input: 2 } }) })
        const emptied = await server.request('PATCH', '/v1/llm-instances/alice/cleared', { key: alice, body: { prices: { input: null } } })
        assert.equal(emptied.body.prices, null, 'prices that name no price are stored as null')
        await server.request('PUT', '/v1/llm-instances/alice/cleared', { key: alice, body: chatInstance('cleared', { prices: {} }) })
        assert.equal((await storedInstance('cleared')).prices, null)
      })

      it('lets an editor change them, not a reader', async () => {
        await server.request('PUT', '/v1/llm-instances/alice/sharedpriced', { key: alice, body: chatInstance('sharedpriced', { prices: { input: 1 } }) })
        await server.request('POST', '/v1/llm-instances/alice/sharedpriced/share', { key: alice, body: { share_with_handle: 'bob', role: 'reader' } })
        const asReader = await server.request('PATCH', '/v1/llm-instances/alice/sharedpriced', { key: bob, body: { prices: { input: 0 } } })
        assert.equal(asReader.status, 403)
        await server.request('POST', '/v1/llm-instances/alice/sharedpriced/share', { key: alice, body: { share_with_handle: 'bob', role: 'editor' } })
        const asEditor = await server.request('PATCH', '/v1/llm-instances/alice/sharedpriced', { key: bob, body: { cache_ttl_seconds: 120 } })
        assert.equal(asEditor.status, 200)
        assert.equal(asEditor.body.cache_ttl_seconds, 120)
        assert.deepEqual(asEditor.body.prices, { input: 1 })
      })

      it("takes them in from-definition, never copying the definition's prices", async () => {
        await server.request('PUT', '/v1/llm-definitions/alice/priced-template', { key: alice, body: chatDefinition('priced-template', { prices: { input: 5, output: 15 } }) })
        const bare = await server.request('POST', '/v1/llm-instances/alice/from-definition', {
          key: alice,
          body: { instance_handle: 'frompriced', definition_owner: 'alice', definition_handle: 'priced-template' },
        })
        assert.equal(bare.status, 201, JSON.stringify(bare.body))
        const got = await server.request('GET', '/v1/llm-instances/alice/frompriced', { key: alice })
        assert.equal(got.body.prices, null, "the gateway falls back to the definition's prices itself")
        assert.equal(got.body.cache_ttl_seconds, null)

        const given = await server.request('POST', '/v1/llm-instances/alice/from-definition', {
          key: alice,
          body: { instance_handle: 'fromgiven', definition_owner: 'alice', definition_handle: 'priced-template', cache_ttl_seconds: 86_400, prices: { output: 12 } },
        })
        assert.equal(given.status, 201)
        const gotGiven = await server.request('GET', '/v1/llm-instances/alice/fromgiven', { key: alice })
        assert.equal(gotGiven.body.cache_ttl_seconds, 86_400)
        assert.deepEqual(gotGiven.body.prices, { output: 12 })
      })

      it('refuses invalid values with 422 and leaves the stored row as it was', async () => {
        await server.request('PUT', '/v1/llm-instances/alice/guarded', { key: alice, body: chatInstance('guarded', { cache_ttl_seconds: 300, prices: { input: 1, output: 2 } }) })
        const stored = await storedInstance('guarded')
        for (const [what, fields, location] of [...invalid, ...invalidTtl]) {
          const put = await server.request('PUT', '/v1/llm-instances/alice/guarded', { key: alice, body: chatInstance('guarded', fields) })
          assertRefused(put, location, `PUT with ${what}`)
          const post = await server.request('POST', '/v1/llm-instances/alice', { key: alice, body: chatInstance('guarded', fields) })
          assertRefused(post, location, `POST with ${what}`)
          const patch = await server.request('PATCH', '/v1/llm-instances/alice/guarded', { key: alice, body: fields })
          assertRefused(patch, location, `PATCH with ${what}`)
          const fromDefinition = await server.request('POST', '/v1/llm-instances/alice/from-definition', {
            key: alice,
            body: { instance_handle: 'neverbuilt', definition_handle: 'gpt-5.5', ...fields },
          })
          assertRefused(fromDefinition, location, `from-definition with ${what}`)
        }
        const nullPrice = await server.request('PUT', '/v1/llm-instances/alice/guarded', { key: alice, body: chatInstance('guarded', { prices: { input: null } }) })
        assertRefused(nullPrice, 'body.prices', 'PUT with a null price (only a patch removes one that way)')
        const zero = await server.request('PATCH', '/v1/llm-instances/alice/guarded', { key: alice, body: { cache_ttl_seconds: 0 } })
        assert.equal(zero.body.errors[0].message, 'must be null or a number of seconds from 1 to 2592000 (30 days)')
        assert.deepEqual(await storedInstance('guarded'), stored)
        assert.equal(await storedInstance('neverbuilt'), undefined)
      })

      it('accepts the bounds: a TTL of 1 s and of 30 days, a price of 0', async () => {
        for (const ttl of [1, 2_592_000]) {
          const response = await server.request('PATCH', '/v1/llm-instances/alice/priced', { key: alice, body: { cache_ttl_seconds: ttl, prices: { input: 0 } } })
          assert.equal(response.status, 200, JSON.stringify(response.body))
          assert.equal(response.body.cache_ttl_seconds, ttl)
          assert.deepEqual(response.body.prices, { input: 0, output: 0.6 })
        }
      })
    })

    describe('definitions', () => {
      it('stores, patches and clears prices', async () => {
        const created = await server.request('PUT', '/v1/llm-definitions/alice/costly', { key: alice, body: chatDefinition('costly', { prices: { input: 3, output: 15, cache_write: 3.75 } }) })
        assert.equal(created.status, 201, JSON.stringify(created.body))
        let got = await server.request('GET', '/v1/llm-definitions/alice/costly', { key: alice })
        assert.deepEqual(got.body.prices, { input: 3, output: 15, cache_write: 3.75 })

        const patched = await server.request('PATCH', '/v1/llm-definitions/alice/costly', { key: alice, body: { prices: { cached_input: 0.3, cache_write: null } } })
        assert.equal(patched.status, 200, JSON.stringify(patched.body))
        assert.deepEqual(patched.body.prices, { input: 3, output: 15, cached_input: 0.3 })
        const untouched = await server.request('PATCH', '/v1/llm-definitions/alice/costly', { key: alice, body: { description: 'priced' } })
        assert.deepEqual(untouched.body.prices, { input: 3, output: 15, cached_input: 0.3 })
        const echoed = await server.request('PATCH', '/v1/llm-definitions/alice/costly', { key: alice, body: untouched.body })
        assert.equal(echoed.status, 200, 'the GET output is an acceptable patch')

        const cleared = await server.request('PATCH', '/v1/llm-definitions/alice/costly', { key: alice, body: { prices: null } })
        assert.equal(cleared.body.prices, null)
        await server.request('PUT', '/v1/llm-definitions/alice/costly', { key: alice, body: chatDefinition('costly', { prices: { input: 3 } }) })
        await server.request('PUT', '/v1/llm-definitions/alice/costly', { key: alice, body: chatDefinition('costly') })
        got = await server.request('GET', '/v1/llm-definitions/alice/costly', { key: alice })
        assert.equal(got.body.prices, null, 'PUT replaces: absent is null')
      })

      it('returns null for the seeded global definitions', async () => {
        const global = await server.request('GET', '/v1/llm-definitions/_system/gpt-5.5', { key: alice })
        assert.equal(global.status, 200)
        assert.equal(global.body.prices, null)
      })

      it('leaves global prices to the admin', async () => {
        const byUser = await server.request('PATCH', '/v1/llm-definitions/_system/gpt-5.5', { key: alice, body: { prices: { input: 0 } } })
        assert.equal(byUser.status, 403)
        assert.equal((await storedDefinition('gpt-5.5')).prices, null)
        const byAdmin = await server.request('PATCH', '/v1/llm-definitions/_system/gpt-5.5', { body: { prices: { input: 1.25, output: 10 } } })
        assert.equal(byAdmin.status, 200, JSON.stringify(byAdmin.body))
        const seen = await server.request('GET', '/v1/llm-definitions/_system/gpt-5.5', { key: bob })
        assert.deepEqual(seen.body.prices, { input: 1.25, output: 10 })
      })

      it('refuses invalid prices with 422 and leaves the stored row as it was', async () => {
        await server.request('PUT', '/v1/llm-definitions/alice/guardeddef', { key: alice, body: chatDefinition('guardeddef', { prices: { input: 1 } }) })
        const stored = await storedDefinition('guardeddef')
        for (const [what, fields, location] of invalid) {
          const put = await server.request('PUT', '/v1/llm-definitions/alice/guardeddef', { key: alice, body: chatDefinition('guardeddef', fields) })
          assertRefused(put, location, `PUT with ${what}`)
          const patch = await server.request('PATCH', '/v1/llm-definitions/alice/guardeddef', { key: alice, body: fields })
          assertRefused(patch, location, `PATCH with ${what}`)
        }
        const ttl = await server.request('PATCH', '/v1/llm-definitions/alice/guardeddef', { key: alice, body: { cache_ttl_seconds: 60 } })
        assertRefused(ttl, 'body.cache_ttl_seconds', 'a TTL on a definition (instances only)')
        assert.deepEqual(await storedDefinition('guardeddef'), stored)
      })
    })
  })
}
