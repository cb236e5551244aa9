import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { DATABASES } from '../helpers/databases.js'
import { eventually, type GatewayFixture, json, putMockInstance, startGateway } from '../helpers/gateway.js'

/** Counting windows are calendar minutes: a test that counts within one waits out a minute's last seconds. */
async function awayFromMinuteEnd(marginMs = 8_000) {
  const intoMinute = Date.now() % 60_000
  if (intoMinute > 60_000 - marginMs) await new Promise((resolve) => setTimeout(resolve, 60_000 - intoMinute + 100))
}

for (const kind of DATABASES) {
  describe(`gateway limits and budgets on the ${kind} database`, () => {
    let fx: GatewayFixture
    before(async () => {
      fx = await startGateway(kind, ['rpm', 'tpm', 'conc', 'day', 'month', 'keyed'])
      for (const user of ['rpm', 'tpm', 'conc', 'day', 'month', 'keyed']) {
        await putMockInstance(fx, user, 'chat', { tag: user, extra: { prices: { input: 100_000, output: 100_000 } } })
      }
    })
    after(() => fx?.close())

    const chat = (user: string, key = fx.keys[user]) =>
      fetch(`${fx.server.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'count these four words' }] }),
      })
    const setLimits = async (path: string, body: Record<string, unknown>) => {
      const response = await fx.server.request('PUT', `/v1/limits/${path}`, { body })
      assert.equal(response.status, 200, response.text)
    }
    const usage = async (path: string) => (await fx.server.request('GET', `/v1/limits/${path}`)).body.usage
    const refused = async (response: Response, code: string) => {
      assert.equal(response.status, 429)
      assert.ok(Number(response.headers.get('retry-after')) >= 1, 'Retry-After is set')
      const body = await json(response)
      assert.equal(body.error.code, code)
      return body.error.message as string
    }

    it('refuses the call after the requests-per-minute limit with 429 and Retry-After', async () => {
      await awayFromMinuteEnd()
      await setLimits('rpm', { requests_per_minute: 2 })
      assert.equal((await chat('rpm')).status, 200)
      assert.equal((await chat('rpm')).status, 200)
      const message = await refused(await chat('rpm'), 'rate_limited')
      assert.match(message, /2 requests per minute/)
      assert.equal(fx.mock.received.filter((r) => r.tag === 'rpm').length, 2, 'the refused call never reached the provider')
    })

    it('refuses calls once the tokens of the minute reach the limit', async () => {
      await awayFromMinuteEnd()
      await setLimits('tpm', { tokens_per_minute: 5 })
      assert.equal((await chat('tpm')).status, 200)
      await eventually(async () => ((await usage('tpm')).tokens_this_minute >= 5 ? true : undefined))
      assert.match(await refused(await chat('tpm'), 'rate_limited'), /tokens per minute/)
    })

    it('refuses a call beyond the concurrent-requests limit while another is running', async () => {
      await setLimits('conc', { concurrent_requests: 1 })
      fx.mock.setBehaviour('conc', { delayMs: 600 })
      const slow = chat('conc')
      await eventually(async () => ((await usage('conc')).in_flight === 1 ? true : undefined))
      assert.match(await refused(await chat('conc'), 'rate_limited'), /concurrent/)
      assert.equal((await slow).status, 200)
      fx.mock.setBehaviour('conc', null)
      await eventually(async () => ((await usage('conc')).in_flight === 0 ? true : undefined))
      assert.equal((await chat('conc')).status, 200, 'the slot is free again after the call')
    })

    it('refuses with budget_exceeded once the day\'s spend reaches the budget', async () => {
      await setLimits('day', { usd_per_day: 0.5 })
      assert.equal((await chat('day')).status, 200)
      await eventually(async () => ((await usage('day')).usd_today >= 0.5 ? true : undefined))
      const response = await chat('day')
      const message = await refused(response, 'budget_exceeded')
      assert.match(message, /per day/)
    })

    it('refuses with budget_exceeded once the month\'s spend reaches the budget, in the OpenAI envelope', async () => {
      await setLimits('month', { usd_per_month: 0.5 })
      assert.equal((await chat('month')).status, 200)
      await eventually(async () => ((await usage('month')).usd_this_month >= 0.5 ? true : undefined))
      const response = await chat('month')
      assert.equal(response.status, 429)
      const body = await json(response)
      assert.equal(body.error.type, 'insufficient_quota')
      assert.match(body.error.message, /per month/)
    })

    it('limits one API key without limiting the user\'s other keys', async () => {
      await awayFromMinuteEnd()
      const second = await fx.server.request('POST', '/v1/users/keyed/keys', { key: fx.keys.keyed, body: { label: 'second' } })
      assert.equal(second.status, 201, second.text)
      await setLimits(`keyed/keys/${fx.keyIds.keyed}`, { requests_per_minute: 1 })
      assert.equal((await chat('keyed')).status, 200)
      await refused(await chat('keyed'), 'rate_limited')
      assert.equal((await chat('keyed', second.body.key ?? second.body.vdb_key)).status, 200, 'the other key is not limited')
    })
  })
}
