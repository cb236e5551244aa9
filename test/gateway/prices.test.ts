import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { costOf, effectivePrices } from '../../src/gateway/accounting/prices.js'
import { DATABASES } from '../helpers/databases.js'
import { createUser, startTestServer, type TestServer } from '../helpers/server.js'

for (const kind of DATABASES.slice(0, 1)) {
  describe(`prices of the seeded definitions on the ${kind} database`, () => {
    let server: TestServer
    let key: string
    before(async () => {
      server = await startTestServer(kind)
      key = (await createUser(server, 'alice')).key
    })
    after(async () => server?.close())

    it('gives every seeded definition a price, so that every call to one has a cost and budgets count it', async () => {
      const list = await server.request('GET', '/v1/llm-definitions/_system?limit=200', { key })
      assert.ok(list.body.definitions.length >= 12)
      const unpriced: string[] = []
      for (const summary of list.body.definitions) {
        const definition = (await server.request('GET', `/v1/llm-definitions/_system/${summary.definition_handle}`, { key })).body
        const usage = { prompt_tokens: 1000, completion_tokens: definition.kind === 'chat' ? 500 : 0, total_tokens: 1500 }
        const cost = costOf(usage, effectivePrices(definition.model, definition.prices))
        if (cost === null || !(cost > 0)) unpriced.push(`${definition.definition_handle} (${definition.model})`)
      }
      assert.deepEqual(unpriced, [])
    })
  })
}
