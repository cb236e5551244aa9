import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { ROOT } from '../helpers/cli.js'
import { startTestServer, type TestServer } from '../helpers/server.js'

describe('the page at /', () => {
  let server: TestServer
  before(async () => {
    server = await startTestServer('embedded')
  })
  after(async () => server?.close())

  it('is a page without a key that links the API reference and every guide, and each link answers', async () => {
    const response = await fetch(`${server.url}/`)
    assert.equal(response.status, 200)
    assert.match(response.headers.get('content-type') ?? '', /^text\/html; charset=utf-8/)
    assert.match(response.headers.get('content-security-policy') ?? '', /default-src 'none'/)
    const html = await response.text()
    const links = [...html.matchAll(/href="([^"]+)"/g)].map((m) => m[1]!)
    const guides = readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `/guides/${f.slice(0, -3)}`)
    for (const link of ['/docs', '/openapi.json', '/healthz', ...guides]) assert.ok(links.includes(link), `links ${link}`)
    for (const link of links) {
      const target = await fetch(`${server.url}${link}`)
      assert.equal(target.status, 200, link)
      await target.arrayBuffer()
    }
    assert.ok(html.includes(`curl -X PUT ${server.url}/v1/users/alice`), 'the first calls name this server')
  })

  it('serves a guide as text, and answers a guide that does not exist with a problem', async () => {
    const guide = await fetch(`${server.url}/guides/gateway`)
    assert.match(guide.headers.get('content-type') ?? '', /^text\/plain; charset=utf-8/)
    assert.match(await guide.text(), /^# /)
    for (const name of ['nothing', '..%2Fpackage', 'GATEWAY', 'a'.repeat(41)]) {
      const missing = await server.request('GET', `/guides/${name}`)
      assert.ok([404, 422].includes(missing.status), `${name}: ${missing.status}`)
      assert.match(missing.headers.get('content-type') ?? '', /application\/problem\+json/)
    }
  })

  it('does not let the Host header write into the page', async () => {
    const { request } = await import('node:http')
    const html = await new Promise<string>((resolve, reject) => {
      const req = request(`${server.url}/`, { headers: { host: 'x"><script>alert(1)</script>' } }, (res) => {
        let body = ''
        res.on('data', (chunk) => (body += chunk))
        res.on('end', () => resolve(body))
      })
      req.on('error', reject)
      req.end()
    })
    assert.ok(!html.includes('<script>'), 'the host is escaped, or the request refused')
  })
})
