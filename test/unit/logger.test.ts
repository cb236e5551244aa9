import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { describe, it } from 'node:test'
import { createLogger, maskSecrets } from '../../src/logger.js'

function capture() {
  const lines: string[] = []
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk))
      done()
    },
  })
  return { logger: createLogger({ level: 'info', destination }), text: () => lines.join('') }
}

describe('logging', () => {
  it('redacts authorization headers, keys and passwords wherever they sit', () => {
    const { logger, text } = capture()
    logger.info({ req: { headers: { authorization: 'Bearer llmb_abcdefghijklmnopqrstuvwxyz0123' } } }, 'request')
    logger.info({ body: { api_key: 'sk-live-1234567890abcdefghij', password: 'hunter2hunter2' } }, 'body')
    logger.info({ vdb_key: 'whatever-value' }, 'user')
    const out = text()
    for (const secret of ['llmb_abcdefghijklmnopqrstuvwxyz0123', 'sk-live-1234567890abcdefghij', 'hunter2hunter2', 'whatever-value']) {
      assert.ok(!out.includes(secret), `${secret} leaked: ${out}`)
    }
    assert.match(out, /\[REDACTED\]/)
  })

  it('masks provider and llmbase keys inside free text, error messages included', () => {
    const { logger, text } = capture()
    logger.warn('upstream said: invalid key sk-ant-api03-abcdefghijklmnopqrstuv for model x')
    logger.error({ err: new Error('request to https://x.example/?key=AIzaSyA1234567890abcdefghijklmnopqrstuv failed') }, 'failed')
    logger.info({ note: 'token llmb_admin_0123456789abcdefghijklmnop' }, 'note')
    const out = text()
    assert.ok(!out.includes('sk-ant-api03-abcdefghijklmnopqrstuv'))
    assert.ok(!out.includes('AIzaSyA1234567890abcdefghijklmnopqrstuv'))
    assert.ok(!out.includes('llmb_admin_0123456789abcdefghijklmnop'))
    assert.match(out, /for model x/)
  })

  it('leaves ordinary text alone', () => {
    assert.equal(maskSecrets('user alice created project sk-12'), 'user alice created project sk-12')
  })
})
