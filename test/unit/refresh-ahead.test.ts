import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { RefreshAheadCache } from '../../src/cache/refresh-ahead.js'

describe('the refresh-ahead cache', () => {
  const setup = (keep?: (value: string | null) => boolean) => {
    let now = 0
    let loads = 0
    let answer: string | null = 'v1'
    let release: (() => void) | null = null
    let gated = false
    const cache = new RefreshAheadCache<string, string | null>(
      async () => {
        loads += 1
        if (gated) await new Promise<void>((resolve) => { release = resolve })
        return answer
      },
      { ttlMs: 1000, max: 10, now: () => now, ...(keep ? { keep } : {}) },
    )
    return {
      cache,
      set now(value: number) { now = value },
      get loads() { return loads },
      set answer(value: string | null) { answer = value },
      gate() { gated = true },
      open() { gated = false; release?.() },
    }
  }

  it('shares one load between concurrent misses', async () => {
    const t = setup()
    t.gate()
    const both = Promise.all([t.cache.get('k'), t.cache.get('k')])
    t.open()
    assert.deepEqual(await both, ['v1', 'v1'])
    assert.equal(t.loads, 1)
  })

  it('serves a young entry without loading, reloads a half-expired one in the background, and never serves an expired one', async () => {
    const t = setup()
    assert.equal(await t.cache.get('k'), 'v1')
    t.now = 400
    assert.equal(t.cache.get('k'), 'v1', 'served from memory, synchronously')
    assert.equal(t.loads, 1)
    t.answer = 'v2'
    t.now = 600
    assert.equal(t.cache.get('k'), 'v1', 'still served while the reload runs')
    assert.equal(t.loads, 2)
    await new Promise((resolve) => setImmediate(resolve))
    assert.equal(t.cache.get('k'), 'v2', 'the reload replaced it')
    t.answer = 'v3'
    t.now = 600 + 1000
    assert.equal(await t.cache.get('k'), 'v3', 'an expired entry is waited for, not served')
  })

  it('forgets everything on clear, also a load that was running', async () => {
    const t = setup()
    t.gate()
    const running = t.cache.get('k')
    t.cache.clear()
    t.open()
    await running
    t.answer = 'after'
    assert.equal(await t.cache.get('k'), 'after')
    assert.equal(t.loads, 2)
  })

  it('does not remember values that keep refuses', async () => {
    const t = setup((value) => value !== null)
    t.answer = null
    assert.equal(await t.cache.get('k'), null)
    assert.equal(await t.cache.get('k'), null)
    assert.equal(t.loads, 2)
  })
})
